{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='region_month_ytd_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices(year_column='year') }}") }}

-- Year-to-date statistics at the month they end (no breakdown): one row per metric x region x
-- industry x year x end month, the region's whole economy under industry_code TOTAL. Figures
-- for 1–7月 or 1–8月 live here and nowhere else; the quarter-end months (3, 6, 9, 12) repeat
-- what fct_region_quarter / fct_industry_quarter hold, so that a monthly series is complete.

with

month_ytd as (

    select * from {{ ref('int_observations__month_ytd') }}
    where breakdown = '{{ var("breakdown_none") }}'
        {{- incr_where(year_column='year', prefix='and') }}

),

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

regions as (

    select * from {{ ref('int_regions__hierarchy') }}

),

industries as (

    select * from {{ ref('stg_vocab__industries') }}

),

final as (

    select
        month_ytd.month_ytd_key as region_month_ytd_key,
        month_ytd.metric_code,
        metrics.name_zh as metric_name_zh,
        month_ytd.region_code,
        regions.name_zh as region_name_zh,
        month_ytd.industry_code,
        case
            when month_ytd.industry_code = '{{ var("industry_total_code") }}' then '全行业'
            else industries.name_zh
        end as industry_name_zh,
        month_ytd.year,
        month_ytd.end_month,
        cast(month_ytd.year as varchar) || '年'
            || case when month_ytd.end_month = 1 then '1月' else '1-' || cast(month_ytd.end_month as varchar) || '月' end
            as period_label_zh,
        month_ytd.period_end_date,
        month_ytd.is_quarter_end,
        month_ytd.quarter,

        month_ytd.ytd_value,
        month_ytd.unit,
        month_ytd.month_value,
        month_ytd.month_value_source,
        month_ytd.is_derived,

        month_ytd.yoy_pct_reported,
        month_ytd.implied_prior_year_ytd_value,
        month_ytd.prior_year_ytd_value,
        month_ytd.yoy_pct_computed,
        month_ytd.yoy_gap_pp,
        month_ytd.yoy_gap_flag,
        month_ytd.month_yoy_pct_reported,
        month_ytd.month_yoy_pct,

        month_ytd.share_pct_reported,
        case
            when month_ytd.industry_code = '{{ var("industry_total_code") }}' then month_ytd.share_pct_of_parent_region
            else month_ytd.share_pct_of_industry_total
        end as share_pct_computed,
        round(
            month_ytd.share_pct_reported
            - case
                when month_ytd.industry_code = '{{ var("industry_total_code") }}' then month_ytd.share_pct_of_parent_region
                else month_ytd.share_pct_of_industry_total
            end,
            6
        ) as share_gap_pp,
        case
            when month_ytd.industry_code = '{{ var("industry_total_code") }}' then 'parent_region'
            else 'industry_total'
        end as share_basis,
        month_ytd.share_parent_code,
        month_ytd.share_whole_metric_code,

        month_ytd.change_value,
        month_ytd.completion_pct,

        month_ytd.n_mentions,
        month_ytd.source_doc_ids,
        month_ytd.level_mention_id,
        month_ytd.level_quote,
        month_ytd.yoy_pct_mention_id,
        month_ytd.yoy_pct_quote

    from month_ytd
    left join metrics
        on metrics.metric_code = month_ytd.metric_code
    left join regions
        on regions.region_code = month_ytd.region_code
    left join industries
        on industries.industry_code = month_ytd.industry_code

)

select * from final
