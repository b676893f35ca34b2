"""The quality gate: Great Expectations suites run against the DuckDB warehouse.

Each `expectations/*.json` file is one suite for one layer. It names the table (``"table"``) or the
SQL (``"sql"``) whose result it validates, optional extra named ``"queries"`` for rules that span
rows (北疆 + 南疆 = 全区, shares summing to 100, ...), and its expectations in Great Expectations'
own configuration form (``type``, ``kwargs``, ``meta``). Every expectation's ``meta`` carries

* ``check``: a short name, unique in the suite, used in reports and in ``audit_results``;
* ``severity``: ``error`` (a failure blocks publishing) or ``warning`` (reported only);
* ``query`` (optional): the named query it validates instead of the suite's table;
* ``description`` and ``evidence_measures`` (optional): what the rule means, and which measures
  of ``fct_metric_mentions`` explain a failing fact row.

SQL may be a string or a list of lines, and may use ``{{name}}`` placeholders filled from the
suite's ``"params"`` (a list becomes ``('a', 'b')``, a string a quoted literal). A suite whose
rows carry no quote may give ``"evidence": {"sql": ...}``, a query over fct_metric_mentions: a
failing row is traced back to the mentions with the same keys (metric, region, industry, year,
end month) from the documents in its ``source_doc_ids``, and reports their doc_id and quote.

The gate's jobs, one module each: `suites` (reading and checking the suite files), `validate`
(reading the datasets from DuckDB and validating them with GX), `results` (what a check found),
`format` (the audit_results table, the printed table, the JSON summary). The suites themselves
are data, in `expectations/`.

Usage::

    python -m tongbi.gate warehouse.duckdb expectations --docs reports/data_docs --audit RUN_ID
"""
from __future__ import annotations

from .format import format_gate_table, gate_summary_json, write_audit_results
from .results import CheckResult, GateResult
from .suites import (SEVERITIES, DatasetSpec, ExpectationSpec, SuiteFileError, SuiteSpec, load_suite,
                     load_suites)
from .validate import check_suites, run_gate

__all__ = [
    "CheckResult",
    "GateResult",
    "SuiteFileError",
    "SuiteSpec",
    "DatasetSpec",
    "ExpectationSpec",
    "SEVERITIES",
    "load_suite",
    "load_suites",
    "check_suites",
    "run_gate",
    "write_audit_results",
    "format_gate_table",
    "gate_summary_json",
]
