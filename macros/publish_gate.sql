{#-
    Write-audit-publish. The published layer (models/published/, schema `published`: the readout readers see)
    copies the public marts only when the build wrote them and every audit passed. dbt build runs a model's
    tests before its children and skips every child of a failing test; a test with several parents blocks only
    a node that depends on all of them. So each published model depends, through this gate, on every node a
    test of the project hangs on: the public marts, the staging tables the conservation tests count, the
    landing source, and the curated leaves. If any error-level test or model fails, the published tables are
    not replaced: the last good readout stays in place, and `readout report` says which build failed.
    tests/integration/test_publish_gate.py checks from the manifest that every model and every test's parents
    are upstream of every published model, so a new model or test cannot slip past the gate.
-#}
{% macro publish_gate() -%}
    {#- refs and sources called here are the published model's dependencies (dbt records them when it parses
        the model); the macro itself renders nothing. -#}
    {%- do source('landing', 'events') -%}
    {%- for model in ['stg_landing__events_quarantined', 'stg_landing__event_duplicates',
                      'stg_landing__files_processed', 'int_import_exposure_mismatches',
                      'int_units_in_several_variants', 'fct_experiment_units', 'fct_metric_results',
                      'fct_variant_metric_stats', 'fct_sample_ratio_checks', 'fct_sample_ratio_checks_by_segment',
                      'fct_volume_checks', 'metric_results_frozen_compared', 'restated_metric_results',
                      'fct_metric_results_bayesian', 'fct_metric_power', 'fct_metric_results_by_segment',
                      'fct_funnel_steps', 'fct_funnel_results', 'int_unit_funnel_steps',
                      'fct_metric_results_by_checkpoint'] -%}
        {%- do ref(model) -%}
    {%- endfor -%}
{%- endmacro %}
