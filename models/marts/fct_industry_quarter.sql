{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='industry_quarter_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices(year_column='year') }}") }}

-- Quarterly statistics of one industry (sector, industry or cluster) in a region, without
-- breakdown: one row per metric x region x industry x year x quarter. The region's
-- whole-economy rows are in fct_region_quarter.

with

compared as (

    select * from {{ ref('int_observations__compared') }}
    where industry_code <> '{{ var("industry_total_code") }}'
        {{- incr_where(year_column='year', prefix='and') }}
        and breakdown = '{{ var("breakdown_none") }}'

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
        compared.quarter_key as industry_quarter_key,
        compared.metric_code,
        metrics.name_zh as metric_name_zh,
        compared.region_code,
        regions.name_zh as region_name_zh,
        compared.industry_code,
        industries.name_zh as industry_name_zh,
        compared.year,
        compared.quarter,
        compared.period_end_month,
        compared.quarter_end_date,

        compared.ytd_value,
        compared.quarter_value,
        compared.unit,

        compared.yoy_pct_reported,
        compared.implied_prior_year_ytd_value,
        compared.prior_year_ytd_value,
        compared.yoy_pct_computed,
        compared.yoy_gap_pp,
        compared.yoy_gap_flag,
        compared.quarter_yoy_pct,
        compared.quarter_yoy_pct_reported,

        compared.share_pct_reported,
        -- the industry's share of the region's whole-economy figure (of gdp for value_added)
        compared.share_whole_metric_code,
        compared.share_pct_of_industry_total as share_pct_computed,
        round(compared.share_pct_reported - compared.share_pct_of_industry_total, 6) as share_gap_pp,

        compared.change_value,
        compared.completion_pct,

        compared.is_derived,
        compared.quarter_value_source,
        compared.n_mentions,
        compared.source_doc_ids,
        compared.level_mention_id,
        compared.level_quote

    from compared
    left join metrics
        on metrics.metric_code = compared.metric_code
    left join regions
        on regions.region_code = compared.region_code
    left join industries
        on industries.industry_code = compared.industry_code

)

select * from final
