"""`tongbi run`: documents → extraction → seeds → dbt build → expectation suites → publish.

Write-audit-publish: everything is built into a staging file beside the warehouse
(`<name>.next.duckdb`); only when dbt's tests and the error-level expectations pass is it moved
over the published file with one atomic rename. A failed run leaves the published warehouse
byte-identical and keeps the staging file for inspection.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .corpus import extract_corpus
from .errors import BuildError, GateFailed, NoDocuments
from .seeds import documents_frame, raw_metrics_frame, rejected_frame, write_csv
from .vocabulary import PROJECT_ROOT, SEEDS_DIR, load_vocabulary

DEFAULT_BULLETINS = PROJECT_ROOT / "data" / "bulletins"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

EXAMPLE_SQL = """\
-- the latest quarter of 引进区外到位资金, by region: level in 亿元, reported and computed YoY
select f.region_name_zh, f.year, f.quarter, round(f.ytd_value / 1e8, 2) as ytd_yi_yuan,
       f.yoy_pct_reported, round(f.implied_prior_year_ytd_value / 1e8, 2) as implied_prior_yi_yuan,
       round(f.yoy_pct_computed, 2) as yoy_pct_computed, f.share_pct_reported
from fct_region_quarter f
where f.metric_code = 'external_funds'
  and (f.year, f.quarter) = (select max((year, quarter)) from fct_region_quarter where metric_code = 'external_funds')
order by f.ytd_value desc nulls last"""


@dataclass
class RunOptions:
    paths: list[Path] = field(default_factory=list)
    warehouse: Path = Path("warehouse.duckdb")
    year: int | None = None
    progress: bool = True
    docs_dir: Path | None = None      # GX Data Docs site; default runs/data_docs beside the warehouse


@dataclass
class StageTimer:
    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def run(self, name: str, progress: bool) -> Iterator[None]:
        if progress:
            print(f"▶ {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = time.perf_counter() - t0


def staging_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".next" + (warehouse.suffix or ".duckdb"))


def dbt_executable() -> str:
    found = shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
    if not found:
        raise BuildError("dbt is not installed in this environment (pip install -e .)")
    return found


def dbt_build(staging: Path, log_dir: Path) -> None:
    """Run `dbt build` into the staging file; raise with dbt's own error lines on failure."""
    env = dict(os.environ, TONGBI_BUILD_PATH=str(staging.resolve()),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(log_dir))
    cmd = [dbt_executable(), "build", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
           "--target", "build", "--no-use-colors"]
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "dbt_build.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        failing = [ln.strip() for ln in proc.stdout.splitlines()
                   if ("ERROR" in ln or "FAIL" in ln) and "Done." not in ln][:8]
        detail = "; ".join(failing) or proc.stderr.strip().splitlines()[-1:] or ["see log"]
        raise BuildError(f"dbt build failed ({log_dir / 'dbt_build.log'}): {detail}")


def publish(staging: Path, warehouse: Path) -> None:
    """Atomic on one filesystem: readers holding the old file keep reading the old version."""
    os.replace(staging, warehouse)


def run(opts: RunOptions) -> int:
    from . import quality
    from .summary import print_summary

    timer = StageTimer()
    paths = opts.paths or [DEFAULT_BULLETINS]
    warehouse = opts.warehouse.resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(warehouse)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = warehouse.parent / "runs" / run_id
    docs_dir = opts.docs_dir or warehouse.parent / "runs" / "data_docs"

    with timer.run("extract", opts.progress):
        def show(i: int, n: int, path: Path) -> None:
            if opts.progress and (i == n or i % max(1, n // 20) == 0):
                print(f"  {i}/{n} documents", file=sys.stderr, flush=True)

        result = extract_corpus(paths, load_vocabulary(), opts.year, show)
        for r in result.rejected:
            where = f"{r['path']}:{r['line']}" if r["line"] else r["path"]
            print(f"  rejected {where}: {r['reason']}", file=sys.stderr)
        if not result.documents:
            raise NoDocuments(f"no readable bulletins in {', '.join(map(str, paths))}")
    with timer.run("load seeds", opts.progress):
        write_csv(raw_metrics_frame(m.as_row() for m in result.mentions), SEEDS_DIR / "raw_metrics.csv")
        write_csv(documents_frame(result.documents), SEEDS_DIR / "documents.csv")
        write_csv(rejected_frame(result.rejected), SEEDS_DIR / "rejected_documents.csv")
    with timer.run("dbt build", opts.progress):
        staging.unlink(missing_ok=True)
        Path(str(staging) + ".wal").unlink(missing_ok=True)
        dbt_build(staging, run_dir)
    with timer.run("expectations", opts.progress):
        gate = quality.run_gate(staging, EXPECTATIONS_DIR, docs_dir)
        quality.write_audit_results(staging, gate, run_id)
    if not gate.passed:
        print(quality.format_gate_table(gate), file=sys.stderr)
        raise GateFailed(f"quality gate failed: {gate_failures(gate)}; "
                         f"{warehouse.name} left unchanged, staging kept at {staging}")
    with timer.run("publish", opts.progress):
        publish(staging, warehouse)
    print_summary(warehouse, gate, timer.stages, len(result.documents), len(result.rejected),
                  len(result.mentions), EXAMPLE_SQL, docs_dir)
    return 0


def gate_failures(gate: object) -> str:
    failed = [r for r in getattr(gate, "results", []) if not r.success and r.severity == "error"]
    return ", ".join(f"{r.suite}:{r.expectation}" for r in failed[:5]) + (" …" if len(failed) > 5 else "")
