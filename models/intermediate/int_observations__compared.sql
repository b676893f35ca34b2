{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='quarter_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices(year_column='year') }}") }}

-- Each quarterized statistic checked against the warehouse's own figures: the same statistic
-- one year earlier (to recompute the growth rate the bulletin reported) and the total it is a
-- part of (to recompute the share it reported): for a region, the same statistic in its
-- share_parent_code region; for an industry, the region's whole-economy figure of the whole's
-- metric (the metric itself, or gdp for value_added: int_metrics__share_wholes).
--
--   implied_prior_year_ytd_value = ytd_value / (1 + yoy_pct_reported / 100)
--       what last year's figure must have been for the reported rate to hold;
--   yoy_pct_computed = (ytd_value / prior_year_ytd_value - 1) * 100
--       from last year's figure as the warehouse has it (same end month);
--   yoy_gap_pp = reported - computed; flagged above var('yoy_gap_threshold_pp').
-- Computed percentages are rounded to 6 decimals to drop floating-point noise.

with

quarters as (

    select * from {{ ref('int_observations__quarterized') }}
    {{- incr_where(year_column='year', scope='input') }}

),

regions as (

    select * from {{ ref('int_regions__hierarchy') }}

),

wholes as (

    select * from {{ ref('int_metrics__share_wholes') }}

),

compared as (

    select
        quarters.*,

        prior_year.ytd_value as prior_year_ytd_value,
        prior_year.quarter_value as prior_year_quarter_value,

        regions.share_parent_code,
        parent_region.ytd_value as parent_region_ytd_value,
        case
            when quarters.industry_code <> '{{ var("industry_total_code") }}'
                then coalesce(wholes.industry_whole_metric_code, quarters.metric_code)
        end as share_whole_metric_code,
        industry_total.ytd_value as industry_total_ytd_value

    from quarters
    -- the same statistic a year earlier, same end month
    left join quarters as prior_year
        on prior_year.metric_code = quarters.metric_code
        and prior_year.region_code = quarters.region_code
        and prior_year.industry_code = quarters.industry_code
        and prior_year.breakdown = quarters.breakdown
        and prior_year.year = quarters.year - 1
        and prior_year.quarter = quarters.quarter
    left join regions
        on regions.region_code = quarters.region_code
    -- the region whose total this region's figure is a share of (see int_regions__hierarchy)
    left join quarters as parent_region
        on parent_region.metric_code = quarters.metric_code
        and parent_region.region_code = regions.share_parent_code
        and parent_region.industry_code = quarters.industry_code
        and parent_region.breakdown = quarters.breakdown
        and parent_region.year = quarters.year
        and parent_region.quarter = quarters.quarter
    -- the whole-economy figure of the region, for an industry's share of it; for value added
    -- the whole is GDP (int_metrics__share_wholes)
    left join wholes
        on wholes.metric_code = quarters.metric_code
    left join quarters as industry_total
        on industry_total.metric_code = coalesce(wholes.industry_whole_metric_code, quarters.metric_code)
        and industry_total.region_code = quarters.region_code
        and industry_total.industry_code = '{{ var("industry_total_code") }}'
        and industry_total.breakdown = quarters.breakdown
        and industry_total.year = quarters.year
        and industry_total.quarter = quarters.quarter
        and quarters.industry_code <> '{{ var("industry_total_code") }}'

),

computed as (

    select
        *,
        round({{ safe_divide('ytd_value', '1 + yoy_pct_reported / 100') }}, 6)
            as implied_prior_year_ytd_value,
        round({{ safe_divide('ytd_value - prior_year_ytd_value', 'prior_year_ytd_value') }} * 100, 6)
            as yoy_pct_computed,
        round({{ safe_divide('quarter_value - prior_year_quarter_value', 'prior_year_quarter_value') }} * 100, 6)
            as quarter_yoy_pct,
        round({{ safe_divide('ytd_value', 'parent_region_ytd_value') }} * 100, 6)
            as share_pct_of_parent_region,
        round({{ safe_divide('ytd_value', 'industry_total_ytd_value') }} * 100, 6)
            as share_pct_of_industry_total
    from compared

),

final as (

    select
        *,
        round(yoy_pct_reported - yoy_pct_computed, 6) as yoy_gap_pp,
        abs(yoy_pct_reported - yoy_pct_computed) > {{ var('yoy_gap_threshold_pp') }} as yoy_gap_flag
    from computed

)

select * from final
{{- incr_where(year_column='year') }}
