{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='mention_id', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- Every statistic mention the loader extracted, resolved or not, with its exact place in the
-- source text: the provenance behind every figure in the other facts.

with

mentions as (

    select * from {{ ref('int_mentions__enriched') }}
    {{- incr_where() }}

),

chosen as (

    -- the mentions picked to stand for their observation (int_observations__deduplicated)
    select chosen_mention_id from {{ ref('int_observations__deduplicated') }}
    {{- incr_where() }}

),

documents as (

    select * from {{ ref('stg_bulletins__documents') }}

),

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

regions as (

    select * from {{ ref('stg_vocab__regions') }}

),

industries as (

    select * from {{ ref('stg_vocab__industries') }}

),

final as (

    select
        mentions.mention_id,
        mentions.doc_id,
        mentions.mention_seq,
        mentions.quote,
        mentions.char_start,
        mentions.char_end,
        documents.title as document_title,
        coalesce(mentions.source_url, documents.source_url) as source_url,
        coalesce(mentions.published, documents.published) as published,

        mentions.measure,
        mentions.value,
        mentions.unit,
        mentions.value_raw,
        mentions.unit_raw,
        mentions.approx_marker,
        mentions.is_approximate,
        mentions.value_decimals,

        mentions.period_year,
        mentions.period_end_month,
        mentions.period_kind,
        mentions.quarter,

        mentions.metric_code,
        coalesce(metrics.name_zh, mentions.metric_name) as metric_name_zh,
        mentions.metric_raw,
        mentions.region_code,
        coalesce(regions.name_zh, mentions.region_name) as region_name_zh,
        mentions.region_raw,
        mentions.industry_code,
        coalesce(industries.name_zh, mentions.industry_name) as industry_name_zh,
        mentions.industry_raw,
        mentions.breakdown,

        mentions.is_observable,
        mentions.statistic_key,
        mentions.observation_key,
        chosen.chosen_mention_id is not null as is_chosen,
        mentions.extraction_rule

    from mentions
    left join chosen
        on chosen.chosen_mention_id = mentions.mention_id
    left join documents
        on documents.doc_id = mentions.doc_id
    left join metrics
        on metrics.metric_code = mentions.metric_code
    left join regions
        on regions.region_code = mentions.region_code
    left join industries
        on industries.industry_code = mentions.industry_code

)

select * from final
