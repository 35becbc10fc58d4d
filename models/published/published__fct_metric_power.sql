{#- The published fct_metric_power: marts.fct_metric_power as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_metric_power') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_metric_power') }}
