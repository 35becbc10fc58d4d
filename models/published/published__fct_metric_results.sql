{#- The published fct_metric_results: marts.fct_metric_results as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_metric_results') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_metric_results') }}
