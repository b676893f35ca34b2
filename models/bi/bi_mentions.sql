{{ config(alias='mentions') }}
-- bi.mentions: every extracted figure with its quote and source, for drill-through from a chart.

with

mentions as (

    select * from {{ ref('fct_metric_mentions') }}

),

metrics as (

    select * from {{ ref('dim_metric') }}

),

regions as (

    select * from {{ ref('dim_region') }}

),

final as (

    select
        mentions.mention_id,
        mentions.published,
        mentions.doc_id,
        mentions.document_title,
        mentions.source_url,
        mentions.quote,
        mentions.measure,
        mentions.value,
        {{ yi_yuan('mentions.value', 'mentions.unit') }} as value_yi_yuan,
        mentions.unit,
        mentions.value_raw,
        mentions.unit_raw,
        mentions.period_year,
        mentions.period_end_month,
        mentions.period_kind,
        mentions.quarter,
        mentions.metric_code,
        coalesce(metrics.name_zh, mentions.metric_raw) as metric_name_zh,
        metrics.name_en as metric_name_en,
        mentions.region_code,
        coalesce(regions.name_zh, mentions.region_raw) as region_name_zh,
        regions.name_en as region_name_en,
        regions.province_code,
        regions.province_name_zh,
        regions.path as region_path,
        mentions.industry_code,
        mentions.industry_name_zh,
        mentions.breakdown,
        mentions.is_chosen

    from mentions
    left join metrics on mentions.metric_code = metrics.metric_code
    left join regions on mentions.region_code = regions.region_code

)

select * from final
