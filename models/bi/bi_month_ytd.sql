{{ config(alias='month_ytd') }}
-- bi.month_ytd: year-to-date figures at the month they end (1–8月 …), for monthly charts.

with

facts as (

    select * from {{ ref('fct_region_month_ytd') }}

),

regions as (

    select * from {{ ref('dim_region') }}

),

metrics as (

    select * from {{ ref('dim_metric') }}

),

units as (

    select * from {{ unit_labels() }}

),

final as (

    select
        facts.period_end_date,
        facts.year,
        facts.end_month,
        facts.period_label_zh,
        facts.is_quarter_end,
        facts.metric_code,
        metrics.name_zh as metric_name_zh,
        metrics.name_en as metric_name_en,
        facts.region_code,
        regions.name_zh as region_name_zh,
        regions.name_en as region_name_en,
        regions.province_code,
        regions.province_name_zh,
        regions.path as region_path,
        facts.industry_code,
        facts.industry_name_zh,
        facts.unit,
        units.unit_name_zh,
        units.unit_name_en,
        facts.ytd_value,
        {{ yi_yuan('facts.ytd_value', 'facts.unit') }} as ytd_value_yi_yuan,
        facts.month_value,
        {{ yi_yuan('facts.month_value', 'facts.unit') }} as month_value_yi_yuan,
        facts.yoy_pct_reported,
        facts.yoy_pct_computed,
        facts.share_pct_reported,
        facts.share_pct_computed,
        facts.source_doc_ids

    from facts
    left join regions on facts.region_code = regions.region_code
    left join metrics on facts.metric_code = metrics.metric_code
    left join units on facts.unit = units.unit

)

select * from final
