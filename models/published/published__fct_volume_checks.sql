{#- The published fct_volume_checks: marts.fct_volume_checks as of the last build whose every audit passed (macros/publish_gate.sql). -#}
{{ config(alias='fct_volume_checks') }}
{{ readout.publish_gate() }}

select * from {{ ref('fct_volume_checks') }}
