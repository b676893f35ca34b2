{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='mention_id', on_schema_change='fail',
           pre_hook="{{ incr_delete_docs() }}") }}

-- Each mention with what the rest of the warehouse needs to treat it as (part of) an
-- observation: its metric's properties, the quarter it closes, the precision of the figure
-- as written, and the keys that identify the statistic it states.

with

mentions as (

    select * from {{ ref('stg_bulletins__raw_metrics') }}
    {%- if is_incremental() %} where {{ incr_touched_docs() }}{% endif %}

),

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

canonical as (

    select
        mentions.*,

        metrics.additivity,
        metrics.metric_kind,

        -- A full-year figure (全年) is the year-to-date figure through December: file it as
        -- ytd/12 so that "2024年全年" and "2024年1-12月" are one statistic.
        case
            when mentions.period_kind = 'year' and coalesce(mentions.period_end_month, 12) = 12
                then 'ytd'
            else mentions.period_kind
        end as obs_period_kind,
        case
            when mentions.period_kind = 'year' then coalesce(mentions.period_end_month, 12)
            else mentions.period_end_month
        end as obs_period_end_month,

        -- Null keys become sentinels so that statistics join on them.
        coalesce(mentions.industry_code, '{{ var("industry_total_code") }}') as obs_industry_code,
        -- A breakdown's pairs are put in one order ('资金来源=天津;资金来源=山东' and the
        -- reverse are the same split); full-width separators are folded first.
        coalesce(
            nullif(
                array_to_string(
                    list_sort(list_distinct(list_filter(
                        list_transform(
                            string_split(replace(replace(mentions.breakdown, '；', ';'), '＝', '='), ';'),
                            lambda pair: trim(pair)
                        ),
                        lambda pair: pair <> ''
                    ))),
                    ';'
                ),
                ''
            ),
            '{{ var("breakdown_none") }}'
        ) as obs_breakdown,

        -- Decimals in the number as written: 1616.27 -> 2, 1616 -> 0, 两千 -> 0. The more
        -- decimals, the more precise the figure when mentions of one statistic disagree.
        coalesce(length(regexp_extract(mentions.value_raw, '[.．]([0-9０-９]+)', 1)), 0)
            as value_decimals,

        -- an unresolved industry (raw name, no code) must not pass for the whole economy
        mentions.metric_code is not null and mentions.region_code is not null
            and (mentions.industry_code is not null or mentions.industry_raw is null) as is_observable

    from mentions
    left join metrics
        on metrics.metric_code = mentions.metric_code

),

keyed as (

    select
        *,

        -- How far the exact figure may lie from the number as written, were it rounded to the
        -- digits written: half a unit in the last digit, in `unit` (1616.27亿元 -> 0.005亿 =
        -- 500000; 1616亿元 -> 0.5亿; 21.59% -> 0.005). Null when value_raw is not a plain
        -- number (两千, 万亿) or is zero. Used to tell a rounded restatement from a revision.
        abs({{ safe_divide('value', "try_cast(replace(value_raw, ',', '') as double)") }})
            * 0.5 / power(10, value_decimals) as value_rounding_tolerance,

        -- Only cumulative-from-January (ytd) and single-quarter figures ending in March, June,
        -- September or December belong to a quarter.
        case
            when obs_period_kind in ('ytd', 'quarter')
                then {{ quarter_from_month('obs_period_end_month') }}
        end as quarter,

        -- one statistic: what, where, which industry and split, which period
        {{ hash_key([
            'metric_code', 'region_code', 'obs_industry_code', 'obs_breakdown',
            'period_year', 'obs_period_end_month', 'obs_period_kind'
        ]) }} as statistic_key,

        -- one measure of that statistic (its level, its yoy_pct, its share_pct …)
        {{ hash_key([
            'metric_code', 'region_code', 'obs_industry_code', 'obs_breakdown',
            'period_year', 'obs_period_end_month', 'obs_period_kind', 'measure'
        ]) }} as observation_key

    from canonical

)

select * from keyed
