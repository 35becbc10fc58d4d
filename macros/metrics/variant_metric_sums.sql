{#-
    The per-variant sufficient statistics of a group of unit x metric rows (int_unit_metric_values columns):
    unit counts by window state and exact sums (readout.exact_sum: terms rounded to 6 decimal places, added
    as decimals, so two builds of the same data give byte-identical statistics), typed. Used by
    fct_variant_metric_stats and its per-segment cut.
-#}
{% macro variant_metric_sums() -%}
    cast(sum(case when is_window_complete then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_units,
    cast(sum(case when is_window_complete or is_window_truncated then 0 else 1 end) as {{ dbt.type_bigint() }}) as n_units_window_in_progress,
    cast(sum(case when is_window_truncated then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_units_window_truncated,
    cast(sum(case when is_window_complete and is_capped then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_units_capped,
    cast({{ readout.exact_sum('case when is_window_complete then metric_value end') }} as {{ readout.type_double() }}) as metric_sum,
    cast({{ readout.exact_sum('case when is_window_complete then metric_value * metric_value end') }} as {{ readout.type_double() }}) as metric_sum_of_squares,
    cast({{ readout.exact_sum('case when is_window_complete then denominator_value end') }} as {{ readout.type_double() }}) as denominator_sum,
    cast({{ readout.exact_sum('case when is_window_complete then denominator_value * denominator_value end') }} as {{ readout.type_double() }}) as denominator_sum_of_squares,
    cast({{ readout.exact_sum('case when is_window_complete then metric_value * denominator_value end') }} as {{ readout.type_double() }}) as metric_denominator_cross_sum,
    cast({{ readout.exact_sum('case when is_window_complete then covariate_value end') }} as {{ readout.type_double() }}) as covariate_sum,
    cast({{ readout.exact_sum('case when is_window_complete then covariate_value * covariate_value end') }} as {{ readout.type_double() }}) as covariate_sum_of_squares,
    cast({{ readout.exact_sum('case when is_window_complete then metric_value * covariate_value end') }} as {{ readout.type_double() }}) as metric_covariate_cross_sum
{%- endmacro %}
