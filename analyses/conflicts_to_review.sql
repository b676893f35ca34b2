-- Disagreements to review, worst first: mentions giving an observation another value than the
-- chosen one that are not mere roundings of it, with both quotes and documents. same_publication
-- rows are mostly extraction errors (two statistics filed under one key); superseded_vintage rows
-- are revisions by a later bulletin — or a later bulletin about another place misattributed.
--   dbt show --target reader --project-dir . --profiles-dir . --select conflicts_to_review --limit 50

select
    conflict_kind,
    metric_code,
    region_code,
    period_year,
    period_end_month,
    measure,
    chosen_value,
    chosen_doc_id,
    chosen_published,
    chosen_quote,
    other_value,
    other_doc_id,
    other_published,
    other_quote,
    round(value_gap_pct, 1) as value_gap_pct
from {{ ref('conflicts') }}
where conflict_kind <> 'rounded_restatement'
order by conflict_kind desc, abs(value_gap_pct) desc nulls last, metric_code, region_code
