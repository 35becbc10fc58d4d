{#- The published fct_funnel_results: marts.fct_funnel_results as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_funnel_results') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_funnel_results') }}
