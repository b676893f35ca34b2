{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='observation_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- One row per observation — a statistic (metric, region, industry, breakdown, period) and one
-- of its measures — however many times and places it was stated, with the value chosen for it
-- (the current vintage: the most precise figure of the latest publication, never a rounded
-- restatement) and the mention that states it. Every mention stays linked through
-- observation_key (fct_metric_mentions), every vintage is in fct_observation_vintages, every
-- disagreement in conflicts.

with

observations as (

    select * from {{ ref('int_observations__deduplicated') }}
    {{- incr_where() }}

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
        observations.observation_key,
        observations.statistic_key,
        observations.metric_code,
        metrics.name_zh as metric_name_zh,
        observations.region_code,
        regions.name_zh as region_name_zh,
        observations.industry_code,
        case
            when observations.industry_code = '{{ var("industry_total_code") }}' then '全行业'
            else industries.name_zh
        end as industry_name_zh,
        observations.breakdown,
        observations.period_year,
        observations.period_end_month,
        observations.period_kind,
        observations.quarter,
        observations.measure,

        observations.value,
        observations.unit,
        observations.value_raw,
        observations.unit_raw,
        observations.is_approximate,

        observations.chosen_mention_id,
        observations.chosen_doc_id,
        observations.chosen_published,
        observations.chosen_quote,
        observations.current_vintage_valid_from,

        observations.n_mentions,
        observations.n_documents,
        observations.n_publications,
        observations.n_vintages,
        observations.is_revised,
        observations.n_distinct_values,
        observations.n_distinct_values > 1 as has_conflict,
        observations.min_value,
        observations.max_value,
        array_to_string(observations.source_doc_id_list, ',') as source_doc_ids

    from observations
    left join metrics
        on metrics.metric_code = observations.metric_code
    left join regions
        on regions.region_code = observations.region_code
    left join industries
        on industries.industry_code = observations.industry_code

)

select * from final
