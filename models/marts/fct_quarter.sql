{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='series_quarter_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_metrics() }}") }}

-- A calendar-complete quarterly series per metric and region (whole economy, no breakdown):
-- every quarter from the first to the last one observed, unobserved quarters included with
-- is_observed = false, so that charts and lag functions see gaps as gaps.

with

region_quarters as (

    select * from {{ ref('fct_region_quarter') }}
    {{- incr_where_metrics() }}

),

calendar as (

    select * from {{ ref('dim_quarter') }}

),

series as (

    select
        metric_code,
        region_code,
        any_value(metric_name_zh) as metric_name_zh,
        any_value(region_name_zh) as region_name_zh,
        min({{ quarter_index('year', 'quarter') }}) as first_quarter_index,
        max({{ quarter_index('year', 'quarter') }}) as last_quarter_index
    from region_quarters
    group by metric_code, region_code

),

spine as (

    select
        series.metric_code,
        series.metric_name_zh,
        series.region_code,
        series.region_name_zh,
        calendar.year,
        calendar.quarter,
        calendar.quarter_label,
        calendar.quarter_label_zh,
        calendar.quarter_end_month,
        calendar.quarter_end_date
    from series
    inner join calendar
        on calendar.quarter_index between series.first_quarter_index and series.last_quarter_index

),

final as (

    select
        {{ hash_key(['spine.metric_code', 'spine.region_code', 'spine.year', 'spine.quarter']) }}
            as series_quarter_key,
        spine.metric_code,
        spine.metric_name_zh,
        spine.region_code,
        spine.region_name_zh,
        spine.year,
        spine.quarter,
        spine.quarter_label,
        spine.quarter_label_zh,
        spine.quarter_end_month as period_end_month,
        spine.quarter_end_date,
        region_quarters.region_quarter_key is not null as is_observed,
        region_quarters.ytd_value,
        region_quarters.quarter_value,
        region_quarters.unit,
        region_quarters.yoy_pct_reported,
        region_quarters.yoy_pct_computed,
        region_quarters.quarter_yoy_pct,
        region_quarters.share_pct_reported,
        region_quarters.share_pct_computed,
        coalesce(region_quarters.is_derived, false) as is_derived,
        region_quarters.n_mentions,
        region_quarters.source_doc_ids
    from spine
    left join region_quarters
        on region_quarters.metric_code = spine.metric_code
        and region_quarters.region_code = spine.region_code
        and region_quarters.year = spine.year
        and region_quarters.quarter = spine.quarter

)

select * from final
