{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='observation_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- One row per observation: a statistic (metric, region, industry, breakdown, period) and one
-- of its measures (level, yoy_pct, …), with the value chosen to stand for it.
--
-- A statistic is often stated several times: headline and body of one bulletin ("1616亿元"
-- beside "1616.27亿元"), and again in later bulletins, sometimes revised. The chosen value is
-- the current vintage of int_observations__vintaged — the most precise figure of the latest
-- publication, where a later figure that merely rounds the current one (近/超/约, fewer
-- decimals, within rounding) restates it rather than revising it. Nothing is overwritten
-- silently: every vintage is in fct_observation_vintages, every disagreeing mention in
-- conflicts.
--
-- The chosen mention is the figure of the latest publication that states the current
-- vintage's value itself (a restating publication's rounded figure does not), the most precise
-- spelling of it first ("2400亿元" rather than a later "近2400亿元" of the same value). Only mentions
-- whose metric and region were resolved, and that carry a value, become observations.

with

mentions as (

    select * from {{ ref('int_mentions__enriched') }}
    where is_observable
        and value is not null
        {{- incr_where(prefix='and') }}

),

publications as (

    select * from {{ ref('int_observations__vintaged') }}
    {{- incr_where() }}

),

chosen as (

    select *
    from publications
    where is_current_vintage
        and publication_role <> 'restates'
    qualify row_number() over (
        partition by observation_key
        order by figure_is_approximate asc, figure_value_decimals desc, publication_seq desc
    ) = 1

),

vintage_summary as (

    select
        observation_key,
        count(*) as n_publications,
        cast(max(vintage_seq) as bigint) as n_vintages,
        -- the date the current value was first published (null: an undated bulletin)
        arg_min_null(published, publication_seq) filter (where is_current_vintage)
            as current_vintage_valid_from
    from publications
    group by observation_key

),

summarised as (

    select
        observation_key,
        count(*) as n_mentions,
        count(distinct doc_id) as n_documents,
        count(distinct value) as n_distinct_values,
        min(value) as min_value,
        max(value) as max_value,
        list_sort(list_distinct(list(doc_id))) as source_doc_id_list
    from mentions
    group by observation_key

),

final as (

    select
        chosen.observation_key,
        chosen.statistic_key,
        chosen.metric_code,
        chosen.region_code,
        chosen.industry_code,
        chosen.breakdown,
        chosen.period_year,
        chosen.period_end_month,
        chosen.period_kind,
        chosen.quarter,
        chosen.measure,

        chosen.figure_value as value,
        chosen.figure_unit as unit,
        chosen.figure_value_raw as value_raw,
        chosen.figure_unit_raw as unit_raw,
        chosen.figure_is_approximate as is_approximate,
        chosen.figure_value_decimals as value_decimals,

        chosen.figure_mention_id as chosen_mention_id,
        chosen.figure_doc_id as chosen_doc_id,
        chosen.figure_quote as chosen_quote,
        chosen.published as chosen_published,

        vintage_summary.n_publications,
        vintage_summary.n_vintages,
        vintage_summary.n_vintages > 1 as is_revised,
        vintage_summary.current_vintage_valid_from,

        summarised.n_mentions,
        summarised.n_documents,
        summarised.n_distinct_values,
        summarised.min_value,
        summarised.max_value,
        summarised.source_doc_id_list

    from chosen
    inner join vintage_summary
        on vintage_summary.observation_key = chosen.observation_key
    inner join summarised
        on summarised.observation_key = chosen.observation_key

)

select * from final
