{#- The published fct_funnel_steps: marts.fct_funnel_steps as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_funnel_steps') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_funnel_steps') }}
