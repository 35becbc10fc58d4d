{#-
    One row per experiment version x metric: a fingerprint (md5) of everything that defines how the metric is
    computed. A catalog metric's comes from its catalog row (events, aggregations, filter, window, direction,
    role, cap, margin, covariate lookback, version; not the description or the owner); an imported metric's
    from its mapping's definition. fct_readout_changes calls a move between two builds a metric-definition
    change when this fingerprint differs.
-#}
{%- set catalog_columns = ['metric_version', 'metric_type', 'numerator_event', 'numerator_aggregation',
    'denominator_event', 'denominator_aggregation', 'event_filter', 'window_start_days', 'window_end_days',
    'direction', 'role', 'cap_type', 'cap_value', 'non_inferiority_margin', 'covariate_lookback_days'] -%}
{%- set definition_columns = ['metric_version', 'metric_type', 'direction', 'role', 'non_inferiority_margin'] -%}

{%- set fingerprints = {} -%}
{%- for alias, columns in [('catalog', catalog_columns), ('definitions', definition_columns)] -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ alias ~ "." ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {%- do fingerprints.update({alias: dbt.hash(dbt.concat(parts))}) -%}
{%- endfor -%}

with

definitions as (

    select * from {{ ref('int_metric_definitions') }}

),

catalog as (

    select * from {{ ref('metric_catalog') }}

),

final as (

    select
        definitions.experiment_id,
        definitions.experiment_version,
        definitions.metric_id,
        cast(case
            when definitions.defined_in = 'catalog' then {{ fingerprints['catalog'] }}
            else {{ fingerprints['definitions'] }}
        end as {{ dbt.type_string() }}) as definition_fingerprint

    from definitions
    left join catalog
        on definitions.defined_in = 'catalog'
            and definitions.metric_id = catalog.metric_id

)

select * from final
