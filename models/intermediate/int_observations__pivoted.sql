{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='statistic_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- One row per statistic (metric, region, industry, breakdown, year, end month, period kind)
-- with its reported measures side by side. Measure 'other' (ratios, two-year averages …) has
-- no column: such figures stay in fct_metric_mentions.

with

observations as (

    select * from {{ ref('int_observations__deduplicated') }}
    {{- incr_where() }}

),

pivoted as (

    select
        statistic_key,
        metric_code,
        region_code,
        industry_code,
        breakdown,
        period_year,
        period_end_month,
        period_kind,
        quarter,

        -- one row per (statistic, measure) upstream, so each max() sees at most one value
        max(value) filter (where measure = 'level') as level_value,
        max(unit) filter (where measure = 'level') as level_unit,
        max(value) filter (where measure = 'yoy_pct') as yoy_pct,
        max(value) filter (where measure = 'share_pct') as share_pct,
        max(value) filter (where measure = 'change') as change_value,
        max(unit) filter (where measure = 'change') as change_unit,
        max(value) filter (where measure = 'target') as target_value,
        max(unit) filter (where measure = 'target') as target_unit,
        max(value) filter (where measure = 'completion_pct') as completion_pct,
        max(value) filter (where measure = 'pp_change') as pp_change,
        max(value) filter (where measure = 'contribution_pct') as contribution_pct,

        -- provenance of the level and of the growth rate
        max(chosen_mention_id) filter (where measure = 'level') as level_mention_id,
        max(chosen_doc_id) filter (where measure = 'level') as level_doc_id,
        max(chosen_quote) filter (where measure = 'level') as level_quote,
        max(n_distinct_values) filter (where measure = 'level') as level_n_distinct_values,
        max(chosen_mention_id) filter (where measure = 'yoy_pct') as yoy_pct_mention_id,
        max(chosen_quote) filter (where measure = 'yoy_pct') as yoy_pct_quote,

        array_to_string(list_sort(list(measure)), ',') as measures_reported,
        cast(sum(n_mentions) as bigint) as n_mentions,
        list_sort(list_distinct(flatten(list(source_doc_id_list)))) as source_doc_id_list

    from observations
    group by all

),

final as (

    select
        * exclude (source_doc_id_list),
        len(source_doc_id_list) as n_documents,
        array_to_string(source_doc_id_list, ',') as source_doc_ids,
        source_doc_id_list
    from pivoted

)

select * from final
