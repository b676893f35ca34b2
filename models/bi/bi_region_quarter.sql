{{ config(alias='region_quarter') }}
-- bi.region_quarter: fct_region_quarter for BI tools — a quarter-end DATE, values in 亿元 beside
-- the base unit, Chinese and English names of metric, region and unit.

with

facts as (

    select * from {{ ref('fct_region_quarter') }}

),

regions as (

    select * from {{ ref('dim_region') }}

),

metrics as (

    select * from {{ ref('dim_metric') }}

),

quarters as (

    select * from {{ ref('dim_quarter') }}

),

units as (

    select * from {{ unit_labels() }}

),

final as (

    select
        facts.quarter_end_date,
        facts.year,
        facts.quarter,
        quarters.quarter_label,
        quarters.quarter_label_zh,
        quarters.ytd_label_zh as ytd_period_zh,
        facts.metric_code,
        metrics.name_zh as metric_name_zh,
        metrics.name_en as metric_name_en,
        facts.region_code,
        regions.name_zh as region_name_zh,
        regions.name_en as region_name_en,
        regions.province_code,
        regions.province_name_zh,
        regions.path as region_path,
        regions.region_level,
        regions.parent_code as parent_region_code,
        regions.parent_name_zh as parent_region_name_zh,
        facts.unit,
        units.unit_name_zh,
        units.unit_name_en,
        facts.ytd_value,
        {{ yi_yuan('facts.ytd_value', 'facts.unit') }} as ytd_value_yi_yuan,
        facts.quarter_value,
        {{ yi_yuan('facts.quarter_value', 'facts.unit') }} as quarter_value_yi_yuan,
        facts.is_derived as quarter_value_is_derived,
        facts.prior_year_ytd_value,
        {{ yi_yuan('facts.prior_year_ytd_value', 'facts.unit') }} as prior_year_ytd_value_yi_yuan,
        facts.yoy_pct_reported,
        facts.yoy_pct_computed,
        facts.yoy_gap_flag,
        facts.quarter_yoy_pct,
        facts.share_pct_reported,
        facts.share_pct_computed,
        facts.n_mentions,
        facts.source_doc_ids,
        facts.level_quote

    from facts
    left join regions on facts.region_code = regions.region_code
    left join metrics on facts.metric_code = metrics.metric_code
    left join quarters on facts.year = quarters.year and facts.quarter = quarters.quarter
    left join units on facts.unit = units.unit

)

select * from final
