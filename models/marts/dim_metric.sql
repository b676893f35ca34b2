-- Metrics with their normalised unit and how they aggregate.

with

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

aliases as (

    select
        metric_code,
        array_to_string(list_sort(list(alias)), ',') as aliases
    from {{ ref('stg_vocab__metric_aliases') }}
    group by metric_code

),

final as (

    select
        metrics.metric_code,
        metrics.name_zh,
        metrics.name_en,
        metrics.unit,
        metrics.additivity,
        metrics.metric_kind,
        metrics.additivity = 'additive' as is_additive,
        metrics.metric_kind = 'flow' as is_flow,
        -- a quarter alone is ytd(n) - ytd(n-1) only for an additive flow
        metrics.additivity = 'additive' and metrics.metric_kind = 'flow' as is_quarter_derivable,
        aliases.aliases
    from metrics
    left join aliases
        on aliases.metric_code = metrics.metric_code

)

select * from final
