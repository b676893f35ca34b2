{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='observation_vintage_key', on_schema_change='fail',
           pre_hook="{{ incr_delete_slices() }}") }}

-- ALFRED-style vintages: one row per observation (statistic and measure) and vintage — a
-- distinct value as first published on a date — valid from that publication date until the
-- next vintage's (valid_to exclusive; null while current). Publications that repeat the value
-- (confirm) or round it (restate, e.g. 超9300亿元 after 9355.26亿元) extend a vintage and do
-- not start one (int_observations__vintaged).
--
-- As known on date D:  valid_from <= D and (valid_to is null or valid_to > D). A vintage from
-- undated bulletins has valid_from null and precedes every dated one.

with

publications as (

    select * from {{ ref('int_observations__vintaged') }}
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

vintages as (

    select
        observation_key,
        vintage_seq,
        any_value(statistic_key) as statistic_key,
        any_value(metric_code) as metric_code,
        any_value(region_code) as region_code,
        any_value(industry_code) as industry_code,
        any_value(breakdown) as breakdown,
        any_value(period_year) as period_year,
        any_value(period_end_month) as period_end_month,
        any_value(period_kind) as period_kind,
        any_value(quarter) as quarter,
        any_value(measure) as measure,
        any_value(vintage_value) as value,
        bool_or(is_current_vintage) as is_current,

        -- the publication that first published the value
        arg_min_null(published, publication_seq) as valid_from,
        arg_min(figure_mention_id, publication_seq) as first_mention_id,
        arg_min(figure_doc_id, publication_seq) as first_doc_id,
        arg_min_null(figure_quote, publication_seq) as first_quote,
        arg_min_null(figure_value_raw, publication_seq) as first_value_raw,
        arg_min_null(figure_unit, publication_seq) as unit,
        arg_min(figure_is_approximate, publication_seq) as first_is_approximate,

        -- the latest publication of the vintage that stated the value itself (not a rounding)
        arg_max(figure_mention_id, publication_seq) filter (where publication_role <> 'restates')
            as latest_mention_id,
        arg_max(figure_quote, publication_seq) filter (where publication_role <> 'restates')
            as latest_quote,
        max(published) as last_published,

        count(*) as n_publications,
        count(*) filter (where publication_role = 'confirms') as n_confirmations,
        count(*) filter (where publication_role = 'restates') as n_restatements,
        array_to_string(
            list_sort(list_distinct(flatten(list(string_split(publication_doc_ids, ','))))), ','
        ) as source_doc_ids
    from publications
    group by observation_key, vintage_seq

),

sequenced as (

    select
        *,
        lead(valid_from) over (partition by observation_key order by vintage_seq) as valid_to,
        lag(value) over (partition by observation_key order by vintage_seq) as previous_value
    from vintages

),

final as (

    select
        {{ hash_key(['sequenced.observation_key', 'sequenced.vintage_seq']) }} as observation_vintage_key,
        sequenced.observation_key,
        sequenced.statistic_key,
        sequenced.metric_code,
        metrics.name_zh as metric_name_zh,
        sequenced.region_code,
        regions.name_zh as region_name_zh,
        sequenced.industry_code,
        case
            when sequenced.industry_code = '{{ var("industry_total_code") }}' then '全行业'
            else industries.name_zh
        end as industry_name_zh,
        sequenced.breakdown,
        sequenced.period_year,
        sequenced.period_end_month,
        sequenced.period_kind,
        sequenced.quarter,
        sequenced.measure,

        sequenced.vintage_seq,
        sequenced.value,
        sequenced.unit,
        sequenced.first_value_raw as value_raw,
        sequenced.first_is_approximate as is_approximate,
        sequenced.valid_from,
        sequenced.valid_to,
        sequenced.is_current,
        sequenced.valid_from is not null as is_publication_date_known,
        sequenced.previous_value,
        round(sequenced.value - sequenced.previous_value, 6) as revision,
        round({{ safe_divide('sequenced.value - sequenced.previous_value', 'abs(sequenced.previous_value)') }} * 100, 6)
            as revision_pct,

        sequenced.first_mention_id,
        sequenced.first_doc_id,
        sequenced.first_quote,
        sequenced.latest_mention_id,
        sequenced.latest_quote,
        sequenced.last_published,
        sequenced.n_publications,
        sequenced.n_confirmations,
        sequenced.n_restatements,
        sequenced.source_doc_ids

    from sequenced
    left join metrics
        on metrics.metric_code = sequenced.metric_code
    left join regions
        on regions.region_code = sequenced.region_code
    left join industries
        on industries.industry_code = sequenced.industry_code

)

select * from final
