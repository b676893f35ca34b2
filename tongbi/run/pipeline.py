"""`tongbi run: documents → extraction → seeds → dbt build → expectation suites → publish.

Write-audit-publish: everything is built into a staging file beside the warehouse
(`<name>.next.duckdb`); only when dbt's tests and the error-level expectations pass is it moved
over the published file with one atomic rename. A failed run leaves the published warehouse
byte-identical and keeps the staging file for inspection.

Quarantine (tongbi/run/quarantine.py): when error-level expectations fail, the documents whose
figures break them are quarantined — their rows filtered out of the raw_metrics seed, dbt built
and the gate run again without them — and the rest publishes with a `quarantine` table naming
them. `--strict` keeps the all-or-nothing gate; more than `--max-quarantine` of the documents, or
a failure no document can be blamed for, fails the run as before.

Faults. A run can die at any point (kill -9, OOM, power) without harming the published file:
nothing but `os.replace` ever touches it. What a dead run leaves behind is cleaned up by the
next one: it takes the warehouse's lock (`<name>.duckdb.lock`, an flock the kernel drops when its
holder dies, so a lock file left behind never blocks), reads the dead holder's record from it,
marks that run's summary `interrupted`, and removes the stale staging file and its `.wal`. The
seed CSVs and dbt's `target/` are shared by every run of the project, so writing the seeds and
`dbt build` happen under a second lock (`target/tongbi-build.lock`); dbt is started so that it
dies with tongbi (Linux: PR_SET_PDEATHSIG) and inherits both locks, so an orphaned dbt can never
write into a file the next run is building.

Every run writes `runs/<run id>/summary.json` (JSON, see tongbi/run/summary.py): status, exit
code, documents loaded and rejected, rows per table, the gate's verdict and every failing check
with its offending rows, quotes and document ids.

Scheduled runs (cron, systemd timers, Airflow, Dagster):

* A second run while one holds the warehouse exits at once with exit code 5 (`Busy`) and says
  which run holds it; `--wait SECONDS` (or TONGBI_LOCK_TIMEOUT) waits instead.
* Incremental (tongbi/run/state.py, loaders/cache.py): unchanged documents are not extracted
  again (a cache keyed by their bytes and the extractor's fingerprint); the run compares its documents with the
  published `documents` table (added, changed, removed) and, when its inputs fingerprint equals
  the one recorded by the build of the published warehouse, makes no dbt build: it republishes
  the same data with one more row in `run_history` (`--skip-unchanged`: leaves the file
  byte-identical instead). `--force` extracts and builds everything again.
* Incremental builds (tongbi/run/incremental.py): when documents were added, changed or removed
  and everything else equals the published build's (`run_history.build_fingerprint`), the
  staging file is a copy of the published one in which only the metric-year slices those
  documents touch are rebuilt (`dbt run` of the incremental models) and audited again (the rest
  of the verdict comes from the previous audit: tongbi/gate/scoped.py). Quarantine rebuilds and
  `--force` are full builds; summary.json's `mode` and `build` say which ran and why.
* `run_history` in the published warehouse: one row per run (the previous file's rows carried
  over, plus the runs that failed or were interrupted since, from `runs/history.jsonl`, where
  every run appends its row whatever its outcome).
* `--log-format json`: one JSON object per line on stderr (tongbi/run/summary.py, EventLog).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from loaders.cache import DocumentCache, extractor_fingerprint
from loaders.seeds import LOADER_SEEDS
from loaders.vocabulary import PROJECT_ROOT, SEEDS_DIR
from tongbi.errors import GateFailed, NoDocuments

from . import incremental
from .build import DbtWorker, dbt_build
from .history import append_history, history_path, history_row, pending_history, write_run_history
from .lock import WAREHOUSE_WAIT_S, RunLock, describe_holder, lock_path, lock_timeout
from .publish import current_version, publish, published_path, staging_path
from .quarantine import (DEFAULT_MAX_SHARE, MAX_ROUNDS, blame, carried, filter_raw_metrics, keep_originals,
                         locate, offence_rows, read_quarantine, summary_of, too_many, write_quarantine)
from .recovery import recover, recover_seeds
from .seeding import extract_to_seeds, move_into_place
from .state import (PublishedState, build_fingerprint, cache_root, compare, input_fingerprint_of_digests,
                    read_previous)
from .summary import EventLog, RunSummary, print_quarantine, print_summary

DEFAULT_BULLETINS = PROJECT_ROOT / "data" / "bulletins"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
BUILD_LOCK = PROJECT_ROOT / "target" / "tongbi-build.lock"

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
    force: bool = False               # extract and build everything even when nothing changed
    skip_unchanged: bool = False      # nothing changed: leave the published file byte-identical
    wait: float | None = None         # seconds to wait for another run of the warehouse
    log_format: str = "text"          # text | json (one JSON object per line on stderr)
    strict: bool = False              # any error-level failure blocks publishing: no quarantine
    max_quarantine: float = DEFAULT_MAX_SHARE   # a larger share of quarantined documents fails the run


@dataclass
class StageTimer:
    stages: dict[str, float] = field(default_factory=dict)
    on_start: Any = None   # called with the stage's name before it starts (the run summary)
    on_end: Any = None     # called with the stage's name and seconds when it ends (the event log)

    @contextmanager
    def run(self, name: str, progress: bool) -> Iterator[None]:
        if self.on_start is not None:
            self.on_start(name)
        if progress:
            print(f"▶ {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - t0, 3)
            if self.on_end is not None:
                self.on_end(name, self.stages[name])


def run(opts: RunOptions, worker: DbtWorker | None = None, own_worker: bool = False) -> int:
    """Build, audit and publish; returns 0 or raises a TongbiError (its exit code).

    `worker`: a dbt worker kept by the caller from run to run (tongbi/run/schedule.py); without
    one, the run starts its own and ends it. `own_worker`: the worker was started for this run
    alone (by the CLI, before it imported this module), and the run ends it as its own.
    Whatever happens, `runs/<run id>/summary.json` says so (written at the start with status
    `running`, rewritten at the end), and the run's row is appended to `runs/history.jsonl`.
    """
    paths = opts.paths or [DEFAULT_BULLETINS]
    warehouse = published_path(opts.warehouse)  # the link readers open, not its current version
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(warehouse)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    runs_dir = warehouse.parent / "runs"
    run_dir = runs_dir / run_id
    docs_dir = opts.docs_dir or runs_dir / "data_docs"
    log = EventLog(opts.log_format, run_id)
    summary = RunSummary(run_id, run_dir, warehouse=warehouse, staging=staging, paths=paths,
                         year=opts.year, docs_dir=docs_dir)
    summary.data["options"] = {"force": opts.force, "skip_unchanged": opts.skip_unchanged, "strict": opts.strict,
                               "max_quarantine": opts.max_quarantine}
    summary.write()
    log.event("run_start", warehouse=str(warehouse), paths=[str(p) for p in paths], force=opts.force,
              pid=os.getpid(), host=socket.gethostname(), summary=str(summary.path))
    lock = RunLock(lock_path(warehouse), f"warehouse {warehouse.name}")
    wait = opts.wait if opts.wait is not None else lock_timeout(WAREHOUSE_WAIT_S)
    try:
        lock.acquire(run_id, wait, opts.progress)
        summary.owns_staging = True
        summary.data["lock_wait_s"]["warehouse"] = lock.waited_s
        if lock.previous:
            dead = summary.interrupted(lock.previous, runs_dir)
            if dead is not None:
                append_history(history_path(warehouse), history_row(dead))
            log.event("recovery", interrupted_run=lock.previous.get("run_id"))
        removed = recover(staging)
        summary.recovered(removed)
        if opts.progress and (lock.previous or removed):
            cause = (f"{describe_holder(lock.previous)} was interrupted" if lock.previous
                     else "the last run failed")
            print(f"  {cause}: removed " + (", ".join(Path(p).name for p in removed) or "nothing"),
                  file=sys.stderr, flush=True)
        _build_audit_publish(opts, paths, warehouse, staging, run_dir, docs_dir, lock, summary, log,
                             worker, own_worker)
    except BaseException as exc:
        summary.failed(exc, staging)
        if not log.json:
            print(f"run summary: {summary.path}", file=sys.stderr)
        raise
    finally:
        try:
            summary.write()  # before the lock goes: an empty lock file means a final summary
            append_history(history_path(warehouse), history_row(summary.data))
        finally:
            lock.release()
            log.run_end(summary.data, summary.path)
    return 0


def _build_audit_publish(opts: RunOptions, paths: list[Path], warehouse: Path, staging: Path,
                         run_dir: Path, docs_dir: Path, lock: RunLock, summary: Any, log: Any,
                         worker: DbtWorker | None, own_worker: bool = False) -> None:
    staged = run_dir / "seeds"   # the seed files this run would load, until they are moved into seeds/
    # dbt imports itself while the run extracts; the builds are sent to it (build.DbtWorker)
    own = worker is None or not worker.alive or own_worker
    dbt = worker if worker is not None and worker.alive else DbtWorker()
    assert dbt is not None
    try:
        _build_audit_publish_staged(opts, paths, warehouse, staging, run_dir, docs_dir, lock, summary, log, staged,
                                    dbt, own)
    finally:
        if own:
            dbt.close()
        shutil.rmtree(staged, ignore_errors=True)


def _build_audit_publish_staged(opts: RunOptions, paths: list[Path], warehouse: Path, staging: Path,
                                run_dir: Path, docs_dir: Path, lock: RunLock, summary: Any, log: Any,
                                staged: Path, dbt: DbtWorker, own_dbt: bool) -> None:
    timer = StageTimer(on_start=lambda name: (summary.stage(name), log.event("stage_start", stage=name)),
                       on_end=lambda name, s: log.event("stage_end", stage=name, seconds=s))
    summary.data["stages"] = timer.stages
    with timer.run("extract", opts.progress):
        def show(i: int, n: int, path: Path) -> None:
            if opts.progress and (i == n or i % max(1, n // 20) == 0):
                print(f"  {i}/{n} documents", file=sys.stderr, flush=True)

        extractor_fp = extractor_fingerprint()
        cache = DocumentCache(cache_root(warehouse), extractor_fp, opts.year, enabled=not opts.force)
        result, digests = extract_to_seeds(paths, opts.year, show, cache, staged)
        for r in result.rejected:
            where = f"{r['path']}:{r['line']}" if r["line"] else r["path"]
            if log.json:
                log.event("reject", path=r["path"], line=r["line"], reason=r["reason"])
            else:
                print(f"  rejected {where}: {r['reason']}", file=sys.stderr)
        summary.documents(result)
        if not result.n_documents:
            log.event("documents", **summary.data["documents"])
            raise NoDocuments(f"no readable bulletins in {', '.join(map(str, paths))}")
        previous = read_previous(warehouse)
        documents_now = {d["doc_id"]: d["sha256"] for d in result.documents}
        changes = compare(previous.documents, result.documents)
        # the quarantine policy shapes the published data as much as the seeds do
        policy = "strict" if opts.strict else f"quarantine at most {opts.max_quarantine!r}"
        build_fp = build_fingerprint(extractor_fp)
        fingerprint = input_fingerprint_of_digests(build_fp, {**digests, "quarantine policy": policy.encode()})
        # what an incremental run must share with the published build: all but the documents
        base_fp = input_fingerprint_of_digests(build_fp, {"quarantine policy": policy.encode()})
        unchanged = previous.input_fingerprint == fingerprint
        summary.incremental(changes, cache, fingerprint, previous, unchanged and not opts.force, base_fp)
        log.event("documents", **{k: v for k, v in summary.data["documents"].items() if k != "rejects"})
        result.release()   # only the counts are needed from here: dbt and the gate come next

    n_documents = result.n_documents
    kept = [] if opts.strict else carried(read_quarantine(warehouse), documents_now)
    if unchanged and not opts.force:
        if own_dbt:   # only importing: ended so that it does not compete with the publish
            dbt.close()
        summary.data["quarantine"] = summary_of(kept, n_documents, opts.max_quarantine, opts.strict, 0, set())
        _publish_unchanged(opts, warehouse, staging, run_dir, previous, timer, summary, log)
        cache.prune()
        return

    excluded = {str(r["doc_id"]) for r in kept}
    originals = None if opts.strict else keep_originals(staged, LOADER_SEEDS)
    published_file = current_version(warehouse) or (warehouse if warehouse.is_file() else None)
    how = incremental.plan(force=opts.force, previous=previous, base_fp=base_fp, changes=changes,
                           published_file=published_file)
    summary.data["mode"] = "incremental" if how.incremental else "full"
    summary.data["build"] = {"incremental": how.incremental, "reason": how.reason, "rounds": []}

    def preload_gx() -> None:
        from tongbi.gate.validate import preload

        preload()

    # an incremental run's gate reads what it needs of the published file (and imports GX) in a
    # thread while dbt builds: the scope is known once the copy is prepared
    early_scope: list[Any] = []
    baseline: list[Any] = []

    def start_baseline() -> None:
        from tongbi.gate.scoped import BaselineThread, Scope

        baseline[:] = [BaselineThread(published_file, EXPECTATIONS_DIR, Scope(docs=how.docs, slices=early_scope[0]))]

    def build(round_no: int) -> Any:
        """Seeds (without the quarantined documents' rows), dbt build and the gate."""
        suffix = f", quarantine round {round_no}" if round_no else ""
        build_lock = RunLock(BUILD_LOCK, f"the project's seeds and dbt target ({PROJECT_ROOT})")
        build_lock.acquire(summary.run_id, opts.wait if opts.wait is not None else lock_timeout(), opts.progress)
        summary.data["lock_wait_s"]["build"] = (summary.data["lock_wait_s"]["build"] or 0) + build_lock.waited_s
        # quarantine rebuilds are full builds: the documents they drop are not in the delta
        incr = how.incremental and round_no == 0 and published_file is not None
        summary.data["build"]["rounds"].append("incremental" if incr else "full")
        scope = None
        try:
            summary.recovered(recover_seeds())
            with timer.run("load seeds" + suffix, opts.progress):
                for name in LOADER_SEEDS:
                    if round_no == 0:
                        move_into_place(staged / name, SEEDS_DIR / name)
                    elif originals is not None and name != "raw_metrics.csv":  # another run may have written seeds/
                        shutil.copyfile(originals / name, SEEDS_DIR / (name + ".tmp"))
                        os.replace(SEEDS_DIR / (name + ".tmp"), SEEDS_DIR / name)
                if excluded and originals is not None and not incr:
                    filter_raw_metrics(originals / "raw_metrics.csv", SEEDS_DIR / "raw_metrics.csv", excluded)
                if incr:
                    recover(staging)
                    summary.data["build"]["delta"], output = incremental.prepare(
                        published_file, staging, SEEDS_DIR, how.docs, excluded)
                    early_scope[:] = [output]
            # one stage name either way (monitoring, the bench): summary.json's build says which
            with timer.run("dbt build" + suffix, opts.progress):
                keep = tuple(fd for fd in (lock.fd, build_lock.fd) if fd is not None)
                if incr:
                    dbt_build(staging, run_dir, keep, select=incremental.DBT_SELECT, exclude=incremental.DBT_EXCLUDE,
                              while_running=start_baseline, worker=dbt)
                    scope = incremental.finish(staging, how.docs)
                else:
                    recover(staging)
                    dbt_build(staging, run_dir, keep, while_running=preload_gx, worker=dbt)
        finally:
            build_lock.release()
        # imported here, not before extraction: pandas (with Great Expectations) is imported while
        # dbt builds by the gate's preload thread, and a run with nothing to build needs neither
        from tongbi import gate as quality
        with timer.run("expectations" + suffix, opts.progress):
            if scope is not None:
                return quality.run_gate(staging, EXPECTATIONS_DIR, docs_dir, scope=scope,
                                        previous=published_file, baseline=baseline[0] if baseline else None)
            return quality.run_gate(staging, EXPECTATIONS_DIR, docs_dir)

    if too_many(len(excluded), n_documents, opts.max_quarantine):
        raise GateFailed(f"{len(excluded)} of {n_documents} documents are quarantined and unchanged, more than "
                         f"--max-quarantine {opts.max_quarantine:.0%}; {warehouse.name} left unchanged")
    gate = build(0)
    new: list[Any] = []
    rounds, why_not = 0, ""
    while not gate.passed and not opts.strict:
        verdict = blame(gate.results)
        fresh = verdict.doc_ids - excluded
        if verdict.untraceable:
            why_not = f"not quarantined: {', '.join(verdict.untraceable)} cannot be traced to a document"
        elif not fresh or rounds >= MAX_ROUNDS:
            why_not = f"still failing after quarantining {len(excluded)} documents in {rounds} rebuilds"
        elif too_many(len(excluded | fresh), n_documents, opts.max_quarantine):
            why_not = (f"it would quarantine {len(excluded | fresh)} of {n_documents} documents, more than "
                       f"--max-quarantine {opts.max_quarantine:.0%}: a systemic fault, not a bad page")
        if why_not:
            break
        found = locate(staging, [o for o in verdict.offences if o.doc_id in fresh])
        new.extend(found)
        excluded |= fresh
        rounds += 1
        for o in found:
            log.event("quarantine", doc_id=o.doc_id, suite=o.suite, rule=o.check, policy=o.policy, quote=o.quote)
            if opts.progress:
                print(f"  quarantined {o.doc_id}: {o.suite}.{o.check} ({o.policy}) 「{o.quote or ''}」",
                      file=sys.stderr, flush=True)
        gate = build(rounds)
    summary.data["mode"] = summary.data["build"]["rounds"][-1]   # what built the data this run audits
    quarantined = kept + offence_rows(new, summary.run_id, dt.datetime.now(dt.timezone.utc))
    summary.data["quarantine"] = summary_of(quarantined, n_documents, opts.max_quarantine, opts.strict, rounds,
                                            {o.doc_id for o in new})
    from tongbi import gate as quality
    quality.write_audit_results(staging, gate, summary.run_id)
    summary.gate(gate)
    summary.tables(staging)
    log.gate(summary.data["gate"])
    if not gate.passed:
        if not log.json:
            print(quality.format_gate_table(gate), file=sys.stderr)
        raise GateFailed(f"quality gate failed: {gate_failures(gate)}; " + (f"{why_not}; " if why_not else "")
                         + f"{warehouse.name} left unchanged, staging kept at {staging}")
    with timer.run("publish", opts.progress):
        write_quarantine(staging, quarantined, summary.run_id)
        summary.tables(staging)
        summary.publishing()
        history = previous.history + pending_history(history_path(warehouse), warehouse, previous.history)
        write_run_history(staging, history + [history_row(summary.data)])
        notes = publish(staging, warehouse, run_dir)
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    summary.published(warehouse, notes)
    log.event("publish", warehouse=str(warehouse), mode=summary.data["mode"], notes=notes)
    cache.prune()
    if not log.json:
        print_summary(warehouse, gate, timer.stages, result.n_documents, len(result.rejected),
                      result.n_mentions, EXAMPLE_SQL, docs_dir, summary.data["documents"])
        print_quarantine(quarantined, n_documents)
        print(f"Run summary: {summary.path}")


def _publish_unchanged(opts: RunOptions, warehouse: Path, staging: Path, run_dir: Path,
                       previous: PublishedState, timer: StageTimer, summary: Any, log: Any) -> None:
    """Nothing changed since the build of the published warehouse: no dbt build. By default the
    same data is republished with this run's row added to `run_history` (a copy of the
    published file, never written in place); with --skip-unchanged the file stays byte-identical
    and the run joins `run_history` at the next publish (from runs/history.jsonl)."""
    built_by = previous.built_by or "?"
    if opts.skip_unchanged:
        summary.unchanged(published=False)
        log.event("unchanged", built_by=built_by, published=False)
        if not log.json:
            print(f"tongbi: nothing changed since run {built_by}; {warehouse} left byte-identical")
            print(f"Run summary: {summary.path}")
        return
    with timer.run("publish", opts.progress):
        recover(staging)
        shutil.copyfile(warehouse, staging)
        summary.publishing(unchanged=True)
        history = previous.history + pending_history(history_path(warehouse), warehouse, previous.history)
        write_run_history(staging, history + [history_row(summary.data)])
        notes = publish(staging, warehouse, run_dir)
    summary.unchanged(published=True, notes=notes)
    log.event("unchanged", built_by=built_by, published=True)
    log.event("publish", warehouse=str(warehouse), mode="unchanged", notes=notes)
    if not log.json:
        counts = summary.data["documents"]
        print(f"tongbi: nothing changed ({counts['loaded']} documents, {counts['rejected']} rejected, "
              f"as built by run {built_by}): no rebuild; the same data republished with this run "
              f"in run_history ({timer.stages.get('publish', 0):.2f}s)")
        print(f"Published warehouse: {warehouse}")
        print(f"Run summary: {summary.path}")


def gate_failures(gate: object) -> str:
    failed = [r for r in getattr(gate, "results", []) if not r.success and r.severity == "error"]
    return ", ".join(f"{r.suite}:{r.expectation}" for r in failed[:5]) + (" …" if len(failed) > 5 else "")
