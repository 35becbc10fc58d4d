{#- The published fct_sample_ratio_checks: marts.fct_sample_ratio_checks as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_sample_ratio_checks') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_sample_ratio_checks') }}
