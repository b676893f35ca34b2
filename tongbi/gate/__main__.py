"""`python -m tongbi.gate warehouse.duckdb expectations --docs reports/data_docs --audit RUN_ID`:
the gate alone, outside a run.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .format import format_gate_table, gate_summary_json, write_audit_results
from .suites import SuiteFileError
from .validate import run_gate


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate from the command line; exit 1 when an error-severity check failed."""
    parser = argparse.ArgumentParser(prog="python -m tongbi.gate", description=main.__doc__)
    parser.add_argument("db_path", type=Path, help="the DuckDB warehouse file")
    parser.add_argument("suites_dir", type=Path, nargs="?", default=Path("expectations"))
    parser.add_argument("--docs", type=Path, default=None, help="build GX Data Docs into this folder")
    parser.add_argument("--audit", metavar="RUN_ID", default=None, help="write audit_results with this run id")
    parser.add_argument("--json", type=Path, default=None, help="write the JSON run summary to this file")
    args = parser.parse_args(argv)
    try:
        result = run_gate(args.db_path, args.suites_dir, args.docs)
    except (SuiteFileError, FileNotFoundError) as exc:
        print(f"quality gate: {exc}", file=sys.stderr)
        return 2
    print(format_gate_table(result))
    if args.audit:
        write_audit_results(args.db_path, result, args.audit)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(gate_summary_json(result), ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if result.passed else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
