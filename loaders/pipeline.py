"""`tongbi run`: documents → extraction → seeds → dbt build → expectation suites → publish.

Write-audit-publish: everything is built into a staging file beside the warehouse
(`<name>.next.duckdb`); only when dbt's tests and the error-level expectations pass is it moved
over the published file with one atomic rename. A failed run leaves the published warehouse
byte-identical and keeps the staging file for inspection.

Faults. A run can die at any point (kill -9, OOM, power) without harming the published file:
nothing but `os.replace` ever touches it. What a dead run leaves behind is cleaned up by the
next one: it takes the warehouse's lock (`<name>.duckdb.lock`, an flock the kernel drops when its
holder dies, so a lock file left behind never blocks), reads the dead holder's record from it,
marks that run's summary `interrupted`, and removes the stale staging file and its `.wal`. The
seed CSVs and dbt's `target/` are shared by every run of the project, so writing the seeds and
`dbt build` happen under a second lock (`target/tongbi-build.lock`); dbt is started so that it
dies with tongbi (Linux: PR_SET_PDEATHSIG) and inherits both locks, so an orphaned dbt can never
write into a file the next run is building.

Every run writes `runs/<run id>/summary.json` (JSON, see loaders/summary.py): status, exit
code, documents loaded and rejected, rows per table, the gate's verdict and every failing check
with its offending rows, quotes and document ids.
"""
from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .corpus import extract_corpus
from .errors import BuildError, Busy, GateFailed, NoDocuments, TongbiError
from .seeds import documents_frame, raw_metrics_frame, rejected_frame, write_csv
from .vocabulary import PROJECT_ROOT, SEEDS_DIR, load_vocabulary

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not locked there
    fcntl = None  # type: ignore[assignment]

DEFAULT_BULLETINS = PROJECT_ROOT / "data" / "bulletins"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
BUILD_LOCK = PROJECT_ROOT / "target" / "tongbi-build.lock"
LOADER_SEEDS = ("raw_metrics.csv", "documents.csv", "rejected_documents.csv")
LOCK_TIMEOUT_S = 600.0    # TONGBI_LOCK_TIMEOUT overrides: how long to wait for another run

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
    on_start: Any = None   # called with the stage's name before it starts (the run summary)

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


def staging_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".next" + (warehouse.suffix or ".duckdb"))


def wal_path(db: Path) -> Path:
    return Path(str(db) + ".wal")


def lock_path(warehouse: Path) -> Path:
    return Path(str(warehouse) + ".lock")


# ---------------------------------------------------------------------------------------- locks


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another run"
    return f"run {holder.get('run_id', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')})"


class RunLock:
    """An exclusive advisory lock (flock) on a small file that names its holder.

    The kernel drops the lock when every process holding it has died, kill -9 included, so a
    lock file left behind never blocks the next run; the holder's record still in the file tells
    that run its predecessor was interrupted. The file is never deleted: deleting a lock file a
    waiting process has open would let two holders in.
    """

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.fd: int | None = None
        self.previous: dict[str, Any] | None = None  # the record of a holder that died holding it
        self.waited_s = 0.0

    def _record(self, fd: int) -> dict[str, Any] | None:
        try:
            raw = os.pread(fd, 4096, 0)
            return json.loads(raw) if raw.strip() else None
        except (OSError, ValueError):
            return {"run_id": "?", "note": "unreadable lock record"}

    def acquire(self, run_id: str, timeout: float, progress: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        t0 = time.monotonic()
        deadline = t0 + timeout
        told = False
        while fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self._record(fd)
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise Busy(f"{self.label} is in use by {_describe(holder)} (lock {self.path}); "
                               f"gave up after {timeout:.0f}s") from None
                if progress and not told:
                    print(f"  waiting for {_describe(holder)} to finish with {self.label} …",
                          file=sys.stderr, flush=True)
                    told = True
                time.sleep(0.2)
        self.fd = fd
        self.waited_s = round(time.monotonic() - t0, 3)
        self.previous = self._record(fd)
        record = {"pid": os.getpid(), "run_id": run_id, "host": socket.gethostname(),
                  "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)  # an empty lock file: its last holder finished
        finally:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_timeout() -> float:
    try:
        return float(os.environ.get("TONGBI_LOCK_TIMEOUT", LOCK_TIMEOUT_S))
    except ValueError:
        return LOCK_TIMEOUT_S


# ------------------------------------------------------------------------------------------ dbt


def dbt_executable() -> str:
    found = shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
    if not found:
        raise BuildError("dbt is not installed in this environment (pip install -e .)")
    return found


def _die_with_parent():
    """A preexec_fn: the child is sent SIGKILL when this process dies (Linux prctl
    PR_SET_PDEATHSIG), so a killed run leaves no dbt writing into its staging file. None where
    prctl is not available. libc is looked up here, in the parent: the child only calls it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def dbt_build(staging: Path, log_dir: Path, keep_fds: tuple[int, ...] = ()) -> None:
    """Run `dbt build` into the staging file; raise with dbt's own error lines on failure.

    `keep_fds` (the run's lock files) are inherited by dbt: the locks stay held while dbt lives.
    """
    env = dict(os.environ, TONGBI_BUILD_PATH=str(staging.resolve()),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(log_dir))
    cmd = [dbt_executable(), "build", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
           "--target", "build", "--no-use-colors"]
    preexec = _die_with_parent() if sys.platform.startswith("linux") else None
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          preexec_fn=preexec, pass_fds=keep_fds if os.name == "posix" else ())
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "dbt_build.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        failing = [ln.strip() for ln in proc.stdout.splitlines()
                   if ("ERROR" in ln or "FAIL" in ln) and "Done." not in ln][:8]
        if not failing:  # dbt died before its summary (a parse error, a signal): its last words
            failing = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()][-3:]
        detail = "; ".join(failing) or f"exit code {proc.returncode}, no output"
        raise BuildError(f"dbt build failed ({log_dir / 'dbt_build.log'}): {detail}")


# -------------------------------------------------------------------------------------- publish


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:  # pragma: no cover - platforms that cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _open_for_writing_elsewhere(db: Path) -> bool:
    """True when another process holds DuckDB's write lock (a POSIX record lock) on `db`."""
    if fcntl is None or not db.exists():
        return False
    fd = os.open(db, os.O_RDONLY)
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def publish(staging: Path, warehouse: Path, run_dir: Path | None = None) -> list[str]:
    """Move the staging file over the warehouse: atomic on one filesystem, and readers holding
    the old file keep reading the old version. Returns notes on anything set aside.

    The staging file is checkpointed first (its data must be in the file, not in a `.wal` that
    the rename would leave behind). A `.wal` beside the published file belongs to the old file;
    DuckDB refuses to open a file with a WAL that is not its own, so it is moved into the run's
    folder — unless a process still has the old file open for writing, then nothing is published.
    """
    import duckdb

    notes: list[str] = []
    con = duckdb.connect(str(staging))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if wal_path(staging).exists():
        raise BuildError(f"{staging} still has a write-ahead log after CHECKPOINT; not published")
    _fsync(staging)
    old_wal = wal_path(warehouse)
    if old_wal.exists():
        if _open_for_writing_elsewhere(warehouse):
            raise Busy(f"{warehouse} is open for writing by another process; not published "
                       f"(staging kept at {staging})")
        target = (run_dir or warehouse.parent) / (old_wal.name + ".stale")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old_wal, target)
        notes.append(f"moved the old warehouse's write-ahead log aside to {target}")
    os.replace(staging, warehouse)
    _fsync(warehouse.parent, directory=True)
    return notes


# ------------------------------------------------------------------------------------- recovery


def recover(staging: Path) -> list[str]:
    """Remove what an interrupted run left: the staging file and its write-ahead log."""
    removed = []
    for path in (staging, wal_path(staging)):
        if path.exists():
            path.unlink()
            removed.append(str(path))
    return removed


def recover_seeds() -> list[str]:
    """Remove half-written seed files (`*.csv.tmp`) of a run killed while writing them."""
    removed = []
    for name in LOADER_SEEDS:
        tmp = SEEDS_DIR / (name + ".tmp")
        if tmp.exists():
            tmp.unlink()
            removed.append(str(tmp))
    return removed


# ------------------------------------------------------------------------------------------ run


def run(opts: RunOptions) -> int:
    """Build, audit and publish; returns 0 or raises a TongbiError (its exit code).

    Whatever happens, `runs/<run id>/summary.json` says so (written at the start with status
    `running`, rewritten at the end).
    """
    from .summary import RunSummary

    paths = opts.paths or [DEFAULT_BULLETINS]
    warehouse = opts.warehouse.resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(warehouse)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    runs_dir = warehouse.parent / "runs"
    run_dir = runs_dir / run_id
    docs_dir = opts.docs_dir or runs_dir / "data_docs"
    summary = RunSummary(run_id, run_dir, warehouse=warehouse, staging=staging, paths=paths,
                         year=opts.year, docs_dir=docs_dir)
    summary.write()
    lock = RunLock(lock_path(warehouse), f"warehouse {warehouse.name}")
    try:
        lock.acquire(run_id, lock_timeout(), opts.progress)
        summary.owns_staging = True
        summary.data["lock_wait_s"]["warehouse"] = lock.waited_s
        if lock.previous:
            summary.interrupted(lock.previous, runs_dir)
        removed = recover(staging)
        summary.recovered(removed)
        if opts.progress and (lock.previous or removed):
            cause = (f"{_describe(lock.previous)} was interrupted" if lock.previous
                     else "the last run failed")
            print(f"  {cause}: removed " + (", ".join(Path(p).name for p in removed) or "nothing"),
                  file=sys.stderr, flush=True)
        _build_audit_publish(opts, paths, warehouse, staging, run_dir, docs_dir, lock, summary)
    except BaseException as exc:
        summary.failed(exc, staging)
        print(f"run summary: {summary.path}", file=sys.stderr)
        raise
    finally:
        try:
            summary.write()  # before the lock goes: an empty lock file means a final summary
        finally:
            lock.release()
    return 0


def _build_audit_publish(opts: RunOptions, paths: list[Path], warehouse: Path, staging: Path,
                         run_dir: Path, docs_dir: Path, lock: RunLock, summary: Any) -> None:
    from . import quality
    from .summary import print_summary

    timer = StageTimer(on_start=summary.stage)
    summary.data["stages"] = timer.stages
    with timer.run("extract", opts.progress):
        def show(i: int, n: int, path: Path) -> None:
            if opts.progress and (i == n or i % max(1, n // 20) == 0):
                print(f"  {i}/{n} documents", file=sys.stderr, flush=True)

        result = extract_corpus(paths, load_vocabulary(), opts.year, show)
        for r in result.rejected:
            where = f"{r['path']}:{r['line']}" if r["line"] else r["path"]
            print(f"  rejected {where}: {r['reason']}", file=sys.stderr)
        summary.documents(result)
        if not result.documents:
            raise NoDocuments(f"no readable bulletins in {', '.join(map(str, paths))}")
    build_lock = RunLock(BUILD_LOCK, f"the project's seeds and dbt target ({PROJECT_ROOT})")
    build_lock.acquire(summary.run_id, lock_timeout(), opts.progress)
    summary.data["lock_wait_s"]["build"] = build_lock.waited_s
    try:
        summary.recovered(recover_seeds())
        with timer.run("load seeds", opts.progress):
            write_csv(raw_metrics_frame(m.as_row() for m in result.mentions), SEEDS_DIR / "raw_metrics.csv")
            write_csv(documents_frame(result.documents), SEEDS_DIR / "documents.csv")
            write_csv(rejected_frame(result.rejected), SEEDS_DIR / "rejected_documents.csv")
        with timer.run("dbt build", opts.progress):
            recover(staging)
            keep = tuple(fd for fd in (lock.fd, build_lock.fd) if fd is not None)
            dbt_build(staging, run_dir, keep)
    finally:
        build_lock.release()
    with timer.run("expectations", opts.progress):
        gate = quality.run_gate(staging, EXPECTATIONS_DIR, docs_dir)
        quality.write_audit_results(staging, gate, summary.run_id)
    summary.gate(gate)
    summary.tables(staging)
    if not gate.passed:
        print(quality.format_gate_table(gate), file=sys.stderr)
        raise GateFailed(f"quality gate failed: {gate_failures(gate)}; "
                         f"{warehouse.name} left unchanged, staging kept at {staging}")
    with timer.run("publish", opts.progress):
        notes = publish(staging, warehouse, run_dir)
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    summary.published(warehouse, notes)
    print_summary(warehouse, gate, timer.stages, len(result.documents), len(result.rejected),
                  len(result.mentions), EXAMPLE_SQL, docs_dir)
    print(f"Run summary: {summary.path}")


def gate_failures(gate: object) -> str:
    failed = [r for r in getattr(gate, "results", []) if not r.success and r.severity == "error"]
    return ", ".join(f"{r.suite}:{r.expectation}" for r in failed[:5]) + (" …" if len(failed) > 5 else "")
