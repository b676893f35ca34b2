-- ALFRED-style history of a statistic: every value published for each province's
-- 引进区外到位资金 (whole economy, no breakdown; one region: --vars '{analysis_region_code: "620000"}'), with the date it was first published, the date a later
-- publication superseded it, and the quote that first stated it. A revision_pct far from 0
-- usually means two statistics under one key (see conflicts). Run against the published
-- warehouse with
--   dbt show --target reader --project-dir . --profiles-dir . --select observation_vintages
-- To see the series as known on a date D, keep the rows with
--   coalesce(valid_from, date '0001-01-01') <= D and (valid_to is null or valid_to > D).

{%- set region_code = var('analysis_region_code', none) %}

select
    region_code,
    period_year,
    period_end_month,
    period_kind,
    measure,
    vintage_seq,
    case when measure = 'level' then round(value / 1e8, 2) else value end as value_yi_or_pct,
    valid_from,
    valid_to,
    is_current,
    round(revision_pct, 2) as revision_pct,
    n_publications,
    first_doc_id,
    first_quote
from {{ ref('fct_observation_vintages') }}
where metric_code = 'external_funds'
    and {{ analysis_regions('region_code', region_code) }}
    and industry_code = '{{ var("industry_total_code") }}'
    and breakdown = '{{ var("breakdown_none") }}'
    and measure in ('level', 'yoy_pct')
order by region_code, period_year, period_end_month, measure, vintage_seq
