-- Each province's 引进区外到位资金 (or one region's: --vars '{analysis_region_code: "620000"}')
-- at every year-to-date end month the bulletins reported (1–8月 as much as 一季度 or 全年), in 亿元, with the reported growth rate, the prior-year level it
-- implies, the warehouse's own prior-year figure and the growth computed from it, and the gap.
--   dbt show --target reader --project-dir . --profiles-dir . --select month_ytd_series

{%- set region_code = var('analysis_region_code', none) %}

select
    region_code,
    region_name_zh,
    period_label_zh,
    round(ytd_value / 1e8, 2) as ytd_yi_yuan,
    yoy_pct_reported,
    round(implied_prior_year_ytd_value / 1e8, 2) as implied_prior_yi_yuan,
    round(prior_year_ytd_value / 1e8, 2) as prior_year_yi_yuan,
    round(yoy_pct_computed, 2) as yoy_pct_computed,
    round(yoy_gap_pp, 2) as yoy_gap_pp,
    yoy_gap_flag,
    is_quarter_end,
    source_doc_ids
from {{ ref('fct_region_month_ytd') }}
where metric_code = 'external_funds'
    and {{ analysis_regions('region_code', region_code) }}
    and industry_code = '{{ var("industry_total_code") }}'
order by region_code, year, end_month
