{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='figure_mention_id', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- One row per observation (a statistic and one of its measures) and publication, in ALFRED
-- style: what each publication said about the observation, and whether that confirmed,
-- merely restated or revised what was known before.
--
-- A publication is the set of bulletins published on one date (undated bulletins form one
-- publication of unknown date, placed before every dated one: a dated publication can always be
-- shown to come later, an undated one never).
--
-- The figure of a publication is its most precise mention: not approximate first, then the most
-- decimals as written, then (ties: different figures of equal precision, which conflicts lists)
-- the latest doc_id and the earliest mention in it. A rounded restatement (近/超/约, fewer
-- decimals) therefore never overrides a precise figure of the same publication.
--
-- Publications are then walked in date order. The first opens vintage 1; each later one
--   * confirms the current vintage when its figure has the same value,
--   * restates it when its figure is coarser and within rounding of the current value
--     (macro is_restatement_of: "超9300亿元" after "9355.26亿元"),
--   * otherwise revises it: a new vintage starts on its date with its figure.
-- The current vintage (the last) is the chosen value: the most precise figure of the latest
-- publication, unless that publication merely rounded an earlier figure.

with recursive

mentions as (

    select * from {{ ref('int_mentions__enriched') }}
    where is_observable
        and value is not null
        {{- incr_where(prefix='and') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by observation_key, published
            order by
                is_approximate asc,
                value_decimals desc,
                doc_id desc,
                mention_seq asc
        ) as rank_in_publication
    from mentions

),

publication_summary as (

    select
        observation_key,
        published,
        count(*) as n_mentions,
        count(distinct doc_id) as n_documents,
        count(distinct value) as n_distinct_values,
        array_to_string(list_sort(list_distinct(list(doc_id))), ',') as doc_ids
    from mentions
    group by observation_key, published

),

publications as (

    select
        ranked.observation_key,
        ranked.statistic_key,
        ranked.metric_code,
        ranked.region_code,
        ranked.obs_industry_code as industry_code,
        ranked.obs_breakdown as breakdown,
        ranked.period_year,
        ranked.obs_period_end_month as period_end_month,
        ranked.obs_period_kind as period_kind,
        ranked.quarter,
        ranked.measure,

        ranked.published,
        row_number() over (
            partition by ranked.observation_key
            order by ranked.published asc nulls first
        ) as publication_seq,
        publication_summary.n_mentions as publication_n_mentions,
        publication_summary.n_documents as publication_n_documents,
        publication_summary.n_distinct_values as publication_n_distinct_values,
        publication_summary.doc_ids as publication_doc_ids,

        ranked.mention_id as figure_mention_id,
        ranked.doc_id as figure_doc_id,
        ranked.quote as figure_quote,
        ranked.value as figure_value,
        ranked.unit as figure_unit,
        ranked.value_raw as figure_value_raw,
        ranked.unit_raw as figure_unit_raw,
        ranked.is_approximate as figure_is_approximate,
        ranked.value_decimals as figure_value_decimals,
        ranked.value_rounding_tolerance as figure_rounding_tolerance

    from ranked
    inner join publication_summary
        on publication_summary.observation_key = ranked.observation_key
        and publication_summary.published is not distinct from ranked.published
    where ranked.rank_in_publication = 1

),

-- the walk: each step compares a publication's figure with the vintage current before it
walk as (

    select
        observation_key,
        publication_seq,
        'first' as publication_role,
        1 as vintage_seq,
        figure_value as vintage_value,
        figure_is_approximate as vintage_is_approximate,
        figure_value_decimals as vintage_value_decimals
    from publications
    where publication_seq = 1

    union all

    select
        observation_key,
        publication_seq,
        publication_role,
        case when publication_role = 'revises' then vintage_seq + 1 else vintage_seq end,
        case when publication_role = 'revises' then figure_value else vintage_value end,
        case when publication_role = 'revises' then figure_is_approximate else vintage_is_approximate end,
        case when publication_role = 'revises' then figure_value_decimals else vintage_value_decimals end
    from (
        select
            publications.observation_key,
            publications.publication_seq,
            publications.figure_value,
            publications.figure_is_approximate,
            publications.figure_value_decimals,
            walk.vintage_seq,
            walk.vintage_value,
            walk.vintage_is_approximate,
            walk.vintage_value_decimals,
            case
                when publications.figure_value = walk.vintage_value then 'confirms'
                when {{ is_restatement_of(
                    'publications.figure_value', 'publications.figure_is_approximate',
                    'publications.figure_value_decimals', 'publications.figure_rounding_tolerance',
                    'walk.vintage_value', 'walk.vintage_is_approximate', 'walk.vintage_value_decimals'
                ) }} then 'restates'
                else 'revises'
            end as publication_role
        from walk
        inner join publications
            on publications.observation_key = walk.observation_key
            and publications.publication_seq = walk.publication_seq + 1
    ) as step

),

final as (

    select
        publications.*,
        walk.publication_role,
        walk.vintage_seq,
        walk.vintage_value,
        walk.vintage_seq = max(walk.vintage_seq) over (partition by walk.observation_key)
            as is_current_vintage
    from publications
    inner join walk
        on walk.observation_key = publications.observation_key
        and walk.publication_seq = publications.publication_seq

)

select * from final
