{#- The published fct_metric_results_bayesian: marts.fct_metric_results_bayesian as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_metric_results_bayesian') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_metric_results_bayesian') }}
