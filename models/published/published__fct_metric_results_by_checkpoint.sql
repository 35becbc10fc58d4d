{#- The published fct_metric_results_by_checkpoint: marts.fct_metric_results_by_checkpoint as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_metric_results_by_checkpoint') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_metric_results_by_checkpoint') }}
