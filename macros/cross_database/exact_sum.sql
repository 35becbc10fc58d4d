{#-
    A sum that does not depend on the order rows are added in, so two builds of the same data publish
    byte-identical numbers (a parallel double sum adds partial sums in whatever order threads finish and
    differs in the last digits, about 1e-13 relative). Each term is rounded to `scale` decimal places
    (6: 0.000001 absolute, exact for money in cents and its squares), summed as a decimal (integer
    arithmetic, so associative), and the total is cast back to double once.
    Range: decimal(38, 6) holds 32 integer digits, |sum| < 1e32. The largest sum the readout takes is a
    revenue sum of squares: 10 million units of 1 million each give 1e19, far inside. A term or a total
    outside the range is an error (DuckDB; Spark with ANSI mode), never a wrapped number; NaN and
    infinities are an error too (they are quarantined in staging before they get here).
-#}
{% macro exact_sum(expression, scale=6) -%}
    {{ return(adapter.dispatch('exact_sum', 'readout')(expression, scale)) }}
{%- endmacro %}

{% macro default__exact_sum(expression, scale) -%}
    cast(sum(cast({{ expression }} as decimal(38, {{ scale }}))) as {{ readout.type_double() }})
{%- endmacro %}

{#- BigQuery: NUMERIC has 9 decimal places and 29 integer digits; BIGNUMERIC has 38 of each. -#}
{% macro bigquery__exact_sum(expression, scale) -%}
    cast(sum(cast(round({{ expression }}, {{ scale }}) as bignumeric)) as {{ readout.type_double() }})
{%- endmacro %}
