{#- The published fct_variant_metric_stats: marts.fct_variant_metric_stats as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_variant_metric_stats') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_variant_metric_stats') }}
