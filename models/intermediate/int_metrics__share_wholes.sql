-- For each metric, the metric of the whole that an industry's figure is a share of.
--
-- Usually the whole is the same metric for the whole economy (industry TOTAL): an industry's
-- 引进区外到位资金 is a share of the region's 引进区外到位资金. Not so for value added: bulletins
-- state the value added of 第一/二/三产业 (metric value_added, industry PRIMARY …) and its share
-- of 地区生产总值 (metric gdp, industry TOTAL) — GDP is the economy's total value added. A
-- value_added figure for industry TOTAL is not used as the whole: the loader has no phrase that
-- yields it, and in the corpus such rows are misattributed (e.g. an investment figure).
--
-- The mapping is a short explicit list below; a metric not listed is its own whole.

with

metrics as (

    select * from {{ ref('stg_vocab__metrics') }}

),

mapped (metric_code, whole_metric_code, mapping_reason) as (

    values
        ('value_added', 'gdp', 'GDP is the total value added of all industries')

),

final as (

    select
        metrics.metric_code,
        coalesce(mapped.whole_metric_code, metrics.metric_code) as industry_whole_metric_code,
        mapped.whole_metric_code is not null as is_mapped,
        mapped.mapping_reason
    from metrics
    left join mapped
        on mapped.metric_code = metrics.metric_code

)

select * from final
