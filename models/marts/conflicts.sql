{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='conflict_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- Mentions that give an observation (statistic and measure) a different value from the one
-- chosen for it, side by side with the chosen mention: both quotes, both documents, both
-- publication dates. One row per observation and disagreeing mention; observations whose
-- mentions all agree have no row. Nothing is overwritten silently: this is the list to review.
--
-- conflict_kind says what the rule made of the disagreement:
--   rounded_restatement  the mention is coarser than the chosen figure and within its rounding
--                        (macro is_restatement_of): a headline such as 超9300亿元 beside
--                        9355.26亿元 — expected, harmless;
--   superseded_vintage   the mention was the figure of an earlier publication whose value a later
--                        publication revised (fct_observation_vintages) — a revision;
--   same_publication     published on the chosen figure's date (usually the same bulletin) with
--                        another value that is not a rounding of it — two statistics filed under
--                        one key: an extraction error or a coverage the keys do not tell apart;
--   other_publication    any other disagreement from another publication (a lesser figure of
--                        an earlier or undated publication, or of a restating one).

with

mentions as (

    select * from {{ ref('int_mentions__enriched') }}
    where is_observable
        and value is not null
        {{- incr_where(prefix='and') }}

),

observations as (

    select * from {{ ref('int_observations__deduplicated') }}
    {{- incr_where() }}

),

superseded_figures as (

    -- figures that opened a vintage no longer current
    select figure_mention_id
    from {{ ref('int_observations__vintaged') }}
    where publication_role in ('first', 'revises')
        {{- incr_where(prefix='and') }}
        and not is_current_vintage

),

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

regions as (

    select * from {{ ref('stg_vocab__regions') }}

),

paired as (

    select
        observations.*,
        mentions.mention_id,
        mentions.doc_id,
        mentions.published,
        mentions.quote,
        mentions.value as mention_value,
        mentions.value_raw as mention_value_raw,
        mentions.unit_raw as mention_unit_raw,
        mentions.approx_marker as mention_approx_marker,
        mentions.is_approximate as mention_is_approximate,
        mentions.value_decimals as mention_value_decimals,
        {{ is_restatement_of(
            'mentions.value', 'mentions.is_approximate', 'mentions.value_decimals',
            'mentions.value_rounding_tolerance',
            'observations.value', 'observations.is_approximate', 'observations.value_decimals'
        ) }} as is_rounding_of_chosen,
        superseded_figures.figure_mention_id is not null as is_superseded_figure
    from observations
    inner join mentions
        on mentions.observation_key = observations.observation_key
    left join superseded_figures
        on superseded_figures.figure_mention_id = mentions.mention_id
    where mentions.value <> observations.value

),

final as (

    select
        {{ hash_key(['paired.observation_key', 'paired.mention_id']) }} as conflict_key,
        paired.observation_key,
        paired.statistic_key,
        paired.metric_code,
        metrics.name_zh as metric_name_zh,
        paired.region_code,
        regions.name_zh as region_name_zh,
        paired.industry_code,
        paired.breakdown,
        paired.period_year,
        paired.period_end_month,
        paired.period_kind,
        paired.measure,
        paired.unit,

        case
            when paired.is_rounding_of_chosen then 'rounded_restatement'
            when paired.is_superseded_figure then 'superseded_vintage'
            when paired.published is not distinct from paired.chosen_published then 'same_publication'
            else 'other_publication'
        end as conflict_kind,

        paired.value as chosen_value,
        paired.value_raw as chosen_value_raw,
        paired.unit_raw as chosen_unit_raw,
        paired.chosen_mention_id,
        paired.chosen_doc_id,
        paired.chosen_published,
        paired.chosen_quote,

        paired.mention_value as other_value,
        paired.mention_value_raw as other_value_raw,
        paired.mention_unit_raw as other_unit_raw,
        paired.mention_approx_marker as other_approx_marker,
        paired.mention_id as other_mention_id,
        paired.doc_id as other_doc_id,
        paired.published as other_published,
        paired.quote as other_quote,

        round(paired.mention_value - paired.value, 6) as value_gap,
        round({{ safe_divide('paired.mention_value - paired.value', 'abs(paired.value)') }} * 100, 6)
            as value_gap_pct,
        paired.doc_id = paired.chosen_doc_id as is_same_document,
        paired.is_rounding_of_chosen,
        paired.n_mentions,
        paired.n_distinct_values,
        paired.n_vintages

    from paired
    left join metrics
        on metrics.metric_code = paired.metric_code
    left join regions
        on regions.region_code = paired.region_code

)

select * from final
