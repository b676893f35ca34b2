-- Where the growth rate a bulletin reported disagrees with the warehouse's own figures by more
-- than var('yoy_gap_threshold_pp'): revisions, changed coverage or extraction errors to review.
-- Compile with `dbt compile --select yoy_gaps`, or run against the published warehouse:
--   dbt show --target reader --project-dir . --profiles-dir . --select yoy_gaps

select
    metric_code,
    metric_name_zh,
    region_code,
    region_name_zh,
    year,
    quarter,
    ytd_value,
    prior_year_ytd_value,
    implied_prior_year_ytd_value,
    yoy_pct_reported,
    yoy_pct_computed,
    yoy_gap_pp,
    source_doc_ids,
    level_quote
from {{ ref('fct_region_quarter') }}
where yoy_gap_flag
order by abs(yoy_gap_pp) desc
