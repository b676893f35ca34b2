-- One row per observation: a statistic (metric, region, industry, breakdown, period) and one
-- of its measures (level, yoy_pct, …), with the value of the mention chosen to stand for it.
--
-- A statistic is often stated several times: headline and body of one bulletin ("近1600亿元"
-- beside "1616.27亿元"), and again in later bulletins, sometimes revised. The chosen mention is
--   1. not approximate (近, 超, 约, 余, 多 …),
--   2. then the most precise as written (most decimals in value_raw),
--   3. then from the latest publication (revisions supersede),
--   4. then, for a stable result, the latest doc_id and the earliest mention in it.
-- Only mentions whose metric and region were resolved, and that carry a value, become
-- observations.

with

mentions as (

    select * from {{ ref('int_mentions__enriched') }}
    where is_observable
        and value is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by observation_key
            order by
                is_approximate asc,
                value_decimals desc,
                published desc nulls last,
                doc_id desc,
                mention_seq asc
        ) as choice_rank
    from mentions

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

        ranked.value,
        ranked.unit,
        ranked.value_raw,
        ranked.unit_raw,
        ranked.is_approximate,
        ranked.value_decimals,

        ranked.mention_id as chosen_mention_id,
        ranked.doc_id as chosen_doc_id,
        ranked.quote as chosen_quote,
        ranked.published as chosen_published,

        summarised.n_mentions,
        summarised.n_documents,
        summarised.n_distinct_values,
        summarised.min_value,
        summarised.max_value,
        summarised.source_doc_id_list

    from ranked
    inner join summarised
        on summarised.observation_key = ranked.observation_key
    where ranked.choice_rank = 1

)

select * from final
