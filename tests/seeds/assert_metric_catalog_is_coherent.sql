-- Every catalog row is internally coherent: ratios name a denominator, windows are non-empty, caps have a value, guardrails have a margin.
with

checked as (

    select
        metric_id,
        case
            when metric_type = 'ratio' and (denominator_event is null or denominator_aggregation is null) then 'ratio metric without a denominator'
            when metric_type <> 'ratio' and denominator_event is not null then 'denominator on a non-ratio metric'
            when window_end_days <= window_start_days then 'empty window'
            when cap_type = 'percentile' and (cap_value is null or cap_value <= 0 or cap_value >= 1) then 'percentile cap outside (0, 1)'
            when cap_type = 'absolute' and cap_value is null then 'absolute cap without a value'
            when role = 'guardrail' and non_inferiority_margin is null then 'guardrail without a non-inferiority margin'
        end as problem

    from {{ ref('metric_catalog') }}

)

select * from checked where problem is not null
