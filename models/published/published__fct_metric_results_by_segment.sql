{#- The published fct_metric_results_by_segment: marts.fct_metric_results_by_segment as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_metric_results_by_segment') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_metric_results_by_segment') }}
