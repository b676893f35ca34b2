{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month_ytd_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices(year_column='year') }}") }}

-- One row per statistic and year-to-date end month (metric, region, industry, breakdown, year,
-- end month 1–12): every cumulative-from-January figure as reported, at the month it ends —
-- 1–7月 and 1–8月 as much as 一季度 or 上半年 — never forced into a quarter.
--
-- The year-to-date value comes from period kinds ytd, month (January alone is January's
-- year-to-date) and quarter (Q1 alone is the year-to-date through March). The month alone is
-- the reported single-month figure; else January's year-to-date figure; else, for additive
-- flows only and when both were observed, ytd(m) − ytd(m−1) (is_derived).
--
-- Then, as int_observations__compared does for quarters: the same statistic one year earlier
-- (same end month) gives yoy_pct_computed; the reported rate gives the implied prior-year
-- value; their gap in pp is flagged above var('yoy_gap_threshold_pp'); shares are recomputed
-- against the share_parent_code region or the region's whole-economy figure of the whole's
-- metric (int_metrics__share_wholes). Computed percentages are rounded to 6 decimals.

with

statistics as (

    select * from {{ ref('int_observations__pivoted') }}
    where period_year is not null
        and period_end_month between 1 and 12
        {{- incr_where(scope='input', prefix='and') }}

),

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

regions as (

    select * from {{ ref('int_regions__hierarchy') }}

),

wholes as (

    select * from {{ ref('int_metrics__share_wholes') }}

),

ytd as (

    select * from statistics where period_kind = 'ytd'

),

single_month as (

    select * from statistics where period_kind = 'month'

),

first_quarter as (

    select * from statistics where period_kind = 'quarter' and period_end_month = 3

),

spine as (

    select metric_code, region_code, industry_code, breakdown, period_year, period_end_month from ytd
    union
    select metric_code, region_code, industry_code, breakdown, period_year, period_end_month from single_month
    union
    select metric_code, region_code, industry_code, breakdown, period_year, period_end_month from first_quarter

),

joined as (

    select
        spine.metric_code,
        spine.region_code,
        spine.industry_code,
        spine.breakdown,
        cast(spine.period_year as integer) as year,
        cast(spine.period_end_month as integer) as end_month,

        coalesce(metrics.additivity = 'additive' and metrics.metric_kind = 'flow', false)
            as is_additive_flow,
        coalesce(metrics.metric_kind = 'flow', false) as is_flow,

        coalesce(
            ytd.level_value,
            case when spine.period_end_month = 1 then single_month.level_value end,
            first_quarter.level_value
        ) as ytd_value,
        coalesce(
            ytd.yoy_pct,
            case when spine.period_end_month = 1 then single_month.yoy_pct end,
            first_quarter.yoy_pct
        ) as yoy_pct_reported,
        coalesce(ytd.level_unit, single_month.level_unit, first_quarter.level_unit, metrics.unit) as unit,
        ytd.share_pct as share_pct_reported,
        ytd.change_value,
        ytd.completion_pct,
        single_month.level_value as month_value_reported,
        single_month.yoy_pct as month_yoy_pct_reported,

        coalesce(ytd.level_mention_id, first_quarter.level_mention_id,
            case when spine.period_end_month = 1 then single_month.level_mention_id end) as level_mention_id,
        coalesce(ytd.level_quote, first_quarter.level_quote,
            case when spine.period_end_month = 1 then single_month.level_quote end) as level_quote,
        coalesce(ytd.yoy_pct_mention_id, first_quarter.yoy_pct_mention_id,
            case when spine.period_end_month = 1 then single_month.yoy_pct_mention_id end) as yoy_pct_mention_id,
        coalesce(ytd.yoy_pct_quote, first_quarter.yoy_pct_quote,
            case when spine.period_end_month = 1 then single_month.yoy_pct_quote end) as yoy_pct_quote,
        cast(
            coalesce(ytd.n_mentions, 0) + coalesce(single_month.n_mentions, 0)
            + coalesce(first_quarter.n_mentions, 0) as bigint
        ) as n_mentions,
        list_sort(list_distinct(flatten([
            coalesce(ytd.source_doc_id_list, []),
            coalesce(single_month.source_doc_id_list, []),
            coalesce(first_quarter.source_doc_id_list, [])
        ]))) as source_doc_id_list

    from spine
    left join metrics
        on metrics.metric_code = spine.metric_code
    left join ytd
        on ytd.metric_code = spine.metric_code
        and ytd.region_code = spine.region_code
        and ytd.industry_code = spine.industry_code
        and ytd.breakdown = spine.breakdown
        and ytd.period_year = spine.period_year
        and ytd.period_end_month = spine.period_end_month
    left join single_month
        on single_month.metric_code = spine.metric_code
        and single_month.region_code = spine.region_code
        and single_month.industry_code = spine.industry_code
        and single_month.breakdown = spine.breakdown
        and single_month.period_year = spine.period_year
        and single_month.period_end_month = spine.period_end_month
    left join first_quarter
        on first_quarter.metric_code = spine.metric_code
        and first_quarter.region_code = spine.region_code
        and first_quarter.industry_code = spine.industry_code
        and first_quarter.breakdown = spine.breakdown
        and first_quarter.period_year = spine.period_year
        and first_quarter.period_end_month = spine.period_end_month

),

-- the month alone, and the same statistic a year earlier, the month before, in the parent
-- region and for the whole economy
neighbours as (

    select
        joined.*,
        previous_month.ytd_value as previous_month_ytd_value,
        prior_year.ytd_value as prior_year_ytd_value,
        prior_year.month_value_reported as prior_year_month_value_reported,
        prior_year_previous_month.ytd_value as prior_year_previous_month_ytd_value,
        regions.share_parent_code,
        parent_region.ytd_value as parent_region_ytd_value,
        case
            when joined.industry_code <> '{{ var("industry_total_code") }}'
                then coalesce(wholes.industry_whole_metric_code, joined.metric_code)
        end as share_whole_metric_code,
        industry_total.ytd_value as industry_total_ytd_value
    from joined
    left join joined as previous_month
        on previous_month.metric_code = joined.metric_code
        and previous_month.region_code = joined.region_code
        and previous_month.industry_code = joined.industry_code
        and previous_month.breakdown = joined.breakdown
        and previous_month.year = joined.year
        and previous_month.end_month = joined.end_month - 1
    left join joined as prior_year
        on prior_year.metric_code = joined.metric_code
        and prior_year.region_code = joined.region_code
        and prior_year.industry_code = joined.industry_code
        and prior_year.breakdown = joined.breakdown
        and prior_year.year = joined.year - 1
        and prior_year.end_month = joined.end_month
    left join joined as prior_year_previous_month
        on prior_year_previous_month.metric_code = joined.metric_code
        and prior_year_previous_month.region_code = joined.region_code
        and prior_year_previous_month.industry_code = joined.industry_code
        and prior_year_previous_month.breakdown = joined.breakdown
        and prior_year_previous_month.year = joined.year - 1
        and prior_year_previous_month.end_month = joined.end_month - 1
    left join regions
        on regions.region_code = joined.region_code
    left join joined as parent_region
        on parent_region.metric_code = joined.metric_code
        and parent_region.region_code = regions.share_parent_code
        and parent_region.industry_code = joined.industry_code
        and parent_region.breakdown = joined.breakdown
        and parent_region.year = joined.year
        and parent_region.end_month = joined.end_month
    left join wholes
        on wholes.metric_code = joined.metric_code
    left join joined as industry_total
        on industry_total.metric_code = coalesce(wholes.industry_whole_metric_code, joined.metric_code)
        and industry_total.region_code = joined.region_code
        and industry_total.industry_code = '{{ var("industry_total_code") }}'
        and industry_total.breakdown = joined.breakdown
        and industry_total.year = joined.year
        and industry_total.end_month = joined.end_month
        and joined.industry_code <> '{{ var("industry_total_code") }}'

),

month_alone as (

    select
        *,
        case
            when month_value_reported is not null then 'reported_month'
            when not is_flow then null
            when end_month = 1 and ytd_value is not null then 'ytd_m1'
            when end_month > 1 and is_additive_flow
                and ytd_value is not null and previous_month_ytd_value is not null
                then 'ytd_difference'
        end as month_value_source,
        -- the same month a year earlier, by the same rule
        case
            when prior_year_month_value_reported is not null then prior_year_month_value_reported
            when not is_flow then null
            when end_month = 1 then prior_year_ytd_value
            when is_additive_flow then prior_year_ytd_value - prior_year_previous_month_ytd_value
        end as prior_year_month_value
    from neighbours

),

computed as (

    select
        *,
        case month_value_source
            when 'reported_month' then month_value_reported
            when 'ytd_m1' then ytd_value
            when 'ytd_difference' then ytd_value - previous_month_ytd_value
        end as month_value,
        round({{ safe_divide('ytd_value', '1 + yoy_pct_reported / 100') }}, 6)
            as implied_prior_year_ytd_value,
        round({{ safe_divide('ytd_value - prior_year_ytd_value', 'prior_year_ytd_value') }} * 100, 6)
            as yoy_pct_computed,
        round({{ safe_divide('ytd_value', 'parent_region_ytd_value') }} * 100, 6)
            as share_pct_of_parent_region,
        round({{ safe_divide('ytd_value', 'industry_total_ytd_value') }} * 100, 6)
            as share_pct_of_industry_total
    from month_alone

),

final as (

    select
        {{ hash_key(['metric_code', 'region_code', 'industry_code', 'breakdown', 'year', 'end_month']) }}
            as month_ytd_key,
        metric_code,
        region_code,
        industry_code,
        breakdown,
        year,
        end_month,
        last_day(make_date(cast(year as bigint), cast(end_month as bigint), 1)) as period_end_date,
        {{ quarter_from_month('end_month') }} as quarter,
        end_month in (3, 6, 9, 12) as is_quarter_end,
        is_additive_flow,

        ytd_value,
        unit,
        previous_month_ytd_value,
        month_value,
        month_value_source,
        coalesce(month_value_source = 'ytd_difference', false) as is_derived,

        yoy_pct_reported,
        implied_prior_year_ytd_value,
        prior_year_ytd_value,
        yoy_pct_computed,
        round(yoy_pct_reported - yoy_pct_computed, 6) as yoy_gap_pp,
        abs(yoy_pct_reported - yoy_pct_computed) > {{ var('yoy_gap_threshold_pp') }} as yoy_gap_flag,
        month_yoy_pct_reported,
        prior_year_month_value,
        round({{ safe_divide('month_value - prior_year_month_value', 'prior_year_month_value') }} * 100, 6)
            as month_yoy_pct,

        share_pct_reported,
        share_parent_code,
        share_pct_of_parent_region,
        share_whole_metric_code,
        share_pct_of_industry_total,
        change_value,
        completion_pct,

        level_mention_id,
        level_quote,
        yoy_pct_mention_id,
        yoy_pct_quote,
        n_mentions,
        source_doc_id_list,
        array_to_string(source_doc_id_list, ',') as source_doc_ids

    from computed

)

select * from final
{{- incr_where(year_column='year') }}
