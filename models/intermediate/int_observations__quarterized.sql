{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='quarter_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices(year_column='year') }}") }}

-- One row per statistic and calendar quarter (metric, region, industry, breakdown, year,
-- quarter) with the year-to-date figures at the quarter's end and the value of the quarter alone.
--
-- The quarter alone (quarter_value) is, in order of preference:
--   * a single-quarter figure the bulletins reported (period_kind 'quarter');
--   * for Q1 of a flow, the year-to-date figure through March (the same period);
--   * for Q2..Q4, ytd(n) - ytd(n-1), only for additive flows (a per-capita income or a stock
--     does not difference into a quarter) and only when both ytd figures were observed (ytd
--     through March may also come from a reported Q1-alone figure: the same period).
--     These are the rows with is_derived = true.

with

statistics as (

    select * from {{ ref('int_observations__pivoted') }}
    -- a quarter without a year cannot be placed on the calendar
    where quarter is not null
        and period_year is not null
        {{- incr_where(prefix='and') }}

),

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

ytd as (

    select * from statistics where period_kind = 'ytd'

),

single_quarter as (

    select * from statistics where period_kind = 'quarter'

),

spine as (

    select metric_code, region_code, industry_code, breakdown, period_year, quarter from ytd
    union
    select metric_code, region_code, industry_code, breakdown, period_year, quarter from single_quarter

),

joined as (

    select
        spine.metric_code,
        spine.region_code,
        spine.industry_code,
        spine.breakdown,
        spine.period_year,
        spine.quarter,

        -- a metric missing from the vocabulary is treated as neither additive nor a flow
        coalesce(metrics.additivity = 'additive' and metrics.metric_kind = 'flow', false)
            as is_additive_flow,
        coalesce(metrics.metric_kind = 'flow', false) as is_flow,

        -- Q1 year-to-date and Q1 alone are the same period: either report fills both.
        coalesce(
            ytd.level_value,
            case when spine.quarter = 1 then single_quarter.level_value end
        ) as ytd_value,
        coalesce(
            ytd.yoy_pct,
            case when spine.quarter = 1 then single_quarter.yoy_pct end
        ) as yoy_pct_reported,
        coalesce(ytd.level_unit, single_quarter.level_unit, metrics.unit) as unit,
        ytd.share_pct as share_pct_reported,
        ytd.change_value,
        ytd.completion_pct,
        -- ytd through the previous quarter; through March that is also Q1 alone
        coalesce(
            previous_ytd.level_value,
            case when spine.quarter = 2 then previous_single_quarter.level_value end
        ) as previous_quarter_ytd_value,
        single_quarter.level_value as quarter_value_reported,
        single_quarter.yoy_pct as quarter_yoy_pct_reported,

        ytd.statistic_key as ytd_statistic_key,
        single_quarter.statistic_key as quarter_statistic_key,
        ytd.level_mention_id,
        ytd.level_quote,
        cast(coalesce(ytd.n_mentions, 0) + coalesce(single_quarter.n_mentions, 0) as bigint) as n_mentions,
        list_sort(list_distinct(list_concat(
            coalesce(ytd.source_doc_id_list, []),
            coalesce(single_quarter.source_doc_id_list, [])
        ))) as source_doc_id_list

    from spine
    left join metrics
        on metrics.metric_code = spine.metric_code
    left join ytd
        on ytd.metric_code = spine.metric_code
        and ytd.region_code = spine.region_code
        and ytd.industry_code = spine.industry_code
        and ytd.breakdown = spine.breakdown
        and ytd.period_year = spine.period_year
        and ytd.quarter = spine.quarter
    left join single_quarter
        on single_quarter.metric_code = spine.metric_code
        and single_quarter.region_code = spine.region_code
        and single_quarter.industry_code = spine.industry_code
        and single_quarter.breakdown = spine.breakdown
        and single_quarter.period_year = spine.period_year
        and single_quarter.quarter = spine.quarter
    left join ytd as previous_ytd
        on previous_ytd.metric_code = spine.metric_code
        and previous_ytd.region_code = spine.region_code
        and previous_ytd.industry_code = spine.industry_code
        and previous_ytd.breakdown = spine.breakdown
        and previous_ytd.period_year = spine.period_year
        and previous_ytd.quarter = spine.quarter - 1
    left join single_quarter as previous_single_quarter
        on previous_single_quarter.metric_code = spine.metric_code
        and previous_single_quarter.region_code = spine.region_code
        and previous_single_quarter.industry_code = spine.industry_code
        and previous_single_quarter.breakdown = spine.breakdown
        and previous_single_quarter.period_year = spine.period_year
        and previous_single_quarter.quarter = spine.quarter - 1

),

derived as (

    select
        *,
        case
            when quarter_value_reported is not null then 'reported_quarter'
            when not is_flow then null
            when quarter = 1 and ytd_value is not null then 'ytd_q1'
            when quarter > 1 and is_additive_flow
                and ytd_value is not null and previous_quarter_ytd_value is not null
                then 'ytd_difference'
        end as quarter_value_source
    from joined

),

final as (

    select
        {{ hash_key(['metric_code', 'region_code', 'industry_code', 'breakdown', 'period_year', 'quarter']) }}
            as quarter_key,
        metric_code,
        region_code,
        industry_code,
        breakdown,
        cast(period_year as integer) as year,
        quarter,
        quarter * 3 as period_end_month,
        {{ quarter_end_date('period_year', 'quarter') }} as quarter_end_date,
        {{ quarter_index('period_year', 'quarter') }} as quarter_index,
        is_additive_flow,

        ytd_value,
        unit,
        yoy_pct_reported,
        share_pct_reported,
        change_value,
        completion_pct,
        previous_quarter_ytd_value,

        case quarter_value_source
            when 'reported_quarter' then quarter_value_reported
            when 'ytd_q1' then ytd_value
            when 'ytd_difference' then ytd_value - previous_quarter_ytd_value
        end as quarter_value,
        quarter_value_source,
        coalesce(quarter_value_source = 'ytd_difference', false) as is_derived,
        quarter_yoy_pct_reported,

        ytd_statistic_key,
        quarter_statistic_key,
        level_mention_id,
        level_quote,
        n_mentions,
        source_doc_id_list,
        array_to_string(source_doc_id_list, ',') as source_doc_ids

    from derived

)

select * from final
