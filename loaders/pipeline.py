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

Scheduled runs (cron, systemd timers, Airflow, Dagster):

* A second run while one holds the warehouse exits at once with exit code 5 (`Busy`) and says
  which run holds it; `--wait SECONDS` (or TONGBI_LOCK_TIMEOUT) waits instead.
* Incremental (loaders/manifest.py): unchanged documents are not extracted again (a cache keyed
  by their bytes and the extractor's fingerprint); the run compares its documents with the
  published `documents` table (added, changed, removed) and, when its inputs fingerprint equals
  the one recorded by the build of the published warehouse, makes no dbt build: it republishes
  the same data with one more row in `run_history` (`--skip-unchanged`: leaves the file
  byte-identical instead). `--force` extracts and builds everything again.
* `run_history` in the published warehouse: one row per run (the previous file's rows carried
  over, plus the runs that failed or were interrupted since, from `runs/history.jsonl`, where
  every run appends its row whatever its outcome).
* `--log-format json`: one JSON object per line on stderr (loaders/summary.py, EventLog).
"""
from __future__ import annotations

import ctypes
import datetime as dt
import gc
import hashlib
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

from .corpus import iter_corpus
from .errors import BuildError, Busy, GateFailed, NoDocuments, TongbiError, WarehouseInUse
from .manifest import (DocumentCache, PublishedState, build_fingerprint, cache_root, compare,
                       extractor_fingerprint, input_fingerprint_of_digests, read_published)
import polars as pl

from .schema import DOCUMENTS_SCHEMA, RAW_METRICS_SCHEMA
from . import document_texts
from .seeds import SortedCsvWriter, csv_bytes, header_csv, rejected_frame
from .vocabulary import PROJECT_ROOT, SEEDS_DIR, load_vocabulary

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not locked there
    fcntl = None  # type: ignore[assignment]

DEFAULT_BULLETINS = PROJECT_ROOT / "data" / "bulletins"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
BUILD_LOCK = PROJECT_ROOT / "target" / "tongbi-build.lock"
LOADER_SEEDS = ("raw_metrics.csv", "documents.csv", "rejected_documents.csv", "document_texts.csv")
LOCK_TIMEOUT_S = 600.0    # how long to wait for the project's build lock (another warehouse's run)
# how long to wait for the warehouse's own lock: 0, a second run of the same warehouse exits at
# once (Busy, exit code 5); --wait SECONDS or TONGBI_LOCK_TIMEOUT (both locks) override
WAREHOUSE_WAIT_S = 0.0

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
                    if timeout <= 0:
                        raise Busy(f"another run is in progress: {_describe(holder)} holds {self.label} "
                                   f"(lock {self.path}); this run exits without touching it "
                                   "(--wait SECONDS waits for it)") from None
                    raise Busy(f"{self.label} is in use by {_describe(holder)} (lock {self.path}); "
                               f"gave up after {timeout:g}s") from None
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


def lock_timeout(default: float = LOCK_TIMEOUT_S) -> float:
    try:
        return float(os.environ.get("TONGBI_LOCK_TIMEOUT", default))
    except ValueError:
        return default


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
            raise WarehouseInUse(f"{warehouse} is open for writing by another process; not published "
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


def write_bytes(data: bytes, path: Path) -> None:
    """Write atomically: a reader (or dbt) never sees half a seed file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def move_into_place(src: Path, dst: Path) -> None:
    """Move a staged seed file over `dst` atomically (a rename when both are on one filesystem;
    else a copy to `dst`.tmp first): a reader (or dbt) never sees half a seed file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.move(str(src), str(tmp))
    tmp.replace(dst)


_DOC_COLUMNS = tuple(DOCUMENTS_SCHEMA)
_SHA = _DOC_COLUMNS.index("sha256")


@dataclass
class CorpusCounts:
    """What a streaming extraction keeps: the documents' rows (as tuples in DOCUMENTS_SCHEMA
    order, a third of the memory of dicts at 100k documents), the rejected rows, and a count of
    the raw_metrics rows (those went to the seed file)."""

    rows: list[tuple[object, ...]] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)
    n_mentions: int = 0
    n_documents: int = 0

    @property
    def documents(self) -> list[dict[str, str]]:
        """doc_id and sha256 of each document (what `compare` and the summary read)."""
        return [{"doc_id": str(r[0]), "sha256": str(r[_SHA] or "")} for r in self.rows]

    def release(self) -> None:
        """Drop the document rows and give the freed memory back to the system before dbt
        runs beside this process."""
        self.n_documents = len(self.rows)
        self.rows = []
        gc.collect()
        try:
            ctypes.CDLL(None).malloc_trim(0)   # glibc keeps freed small blocks otherwise
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def _extract_to_seeds(paths: list[Path], year: int | None, progress: Any, cache: DocumentCache,
                      staged: Path) -> tuple[CorpusCounts, dict[str, bytes]]:
    """Extract the corpus into the three loader seed files in `staged`, streaming: each
    document's rows go to raw_metrics.csv as they come (in doc_id order at the end), so memory
    does not grow with the corpus' mentions. Returns what was read and the sha256 digest of
    each file (the run's input fingerprint). The files are byte for byte what
    `seeds.write_csv` of the whole frames writes."""
    result = CorpusCounts()
    writer = SortedCsvWriter(staged / "raw_metrics.csv", header_csv(RAW_METRICS_SCHEMA))
    texts = SortedCsvWriter(staged / document_texts.SEED_NAME, document_texts.header_csv())
    try:
        for item in iter_corpus(paths, load_vocabulary(), year, progress, cache):
            if item.row is None:
                result.rejected.append(item.rejected or {})
                continue
            n = int(item.row.get("n_mentions") or 0)
            result.rows.append(tuple(item.row.get(k) for k in _DOC_COLUMNS))
            result.n_mentions += n
            writer.add(str(item.row["doc_id"]), item.csv, n)
            text = item.text if item.text is not None else document_texts.read_text(item.path)
            texts.add(str(item.row["doc_id"]), document_texts.text_csv(str(item.row["doc_id"]), text), 1)
        digests = {"raw_metrics.csv": bytes.fromhex(writer.finish()),
                   document_texts.SEED_NAME: bytes.fromhex(texts.finish())}
    except BaseException:
        writer.abort()
        texts.abort()
        raise
    result.n_documents = len(result.rows)
    documents = pl.DataFrame(result.rows, schema=dict(DOCUMENTS_SCHEMA), orient="row").sort("doc_id")
    for name, df in (("documents.csv", documents), ("rejected_documents.csv", rejected_frame(result.rejected))):
        data = csv_bytes(df)
        write_bytes(data, staged / name)
        digests[name] = hashlib.sha256(data).digest()
    del documents
    return result, digests


def read_previous(warehouse: Path) -> PublishedState:
    """The published warehouse's documents and run history (read-only, like any reader)."""
    import duckdb

    if not warehouse.exists():
        return PublishedState()
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        message = " ".join(str(exc).split())
        if "lock" in message.lower():
            raise WarehouseInUse(f"{warehouse} is open for writing by another process, which blocks "
                                 f"every reader ({message}); open it read-only (read_only=True, "
                                 "access_mode=READ_ONLY) and run again") from None
        return _unreadable(warehouse, message)
    except duckdb.Error as exc:
        return _unreadable(warehouse, " ".join(str(exc).split()))
    try:
        return read_published(con)
    except duckdb.Error as exc:
        return _unreadable(warehouse, " ".join(str(exc).split()))
    finally:
        con.close()


def _unreadable(warehouse: Path, reason: str) -> PublishedState:
    """A published file DuckDB cannot read: nothing is known of it, so this run builds
    everything and, if its gate passes, replaces it (its run_history is lost; runs/history.jsonl
    keeps the runs)."""
    print(f"  {warehouse.name} cannot be read ({reason}); building everything", file=sys.stderr, flush=True)
    return PublishedState(exists=True)


def history_path(warehouse: Path) -> Path:
    return warehouse.parent / "runs" / "history.jsonl"


def run(opts: RunOptions) -> int:
    """Build, audit and publish; returns 0 or raises a TongbiError (its exit code).

    Whatever happens, `runs/<run id>/summary.json` says so (written at the start with status
    `running`, rewritten at the end), and the run's row is appended to `runs/history.jsonl`.
    """
    from .summary import EventLog, RunSummary, append_history, history_row

    paths = opts.paths or [DEFAULT_BULLETINS]
    warehouse = opts.warehouse.resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(warehouse)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    runs_dir = warehouse.parent / "runs"
    run_dir = runs_dir / run_id
    docs_dir = opts.docs_dir or runs_dir / "data_docs"
    log = EventLog(opts.log_format, run_id)
    summary = RunSummary(run_id, run_dir, warehouse=warehouse, staging=staging, paths=paths,
                         year=opts.year, docs_dir=docs_dir)
    summary.data["options"] = {"force": opts.force, "skip_unchanged": opts.skip_unchanged}
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
            cause = (f"{_describe(lock.previous)} was interrupted" if lock.previous
                     else "the last run failed")
            print(f"  {cause}: removed " + (", ".join(Path(p).name for p in removed) or "nothing"),
                  file=sys.stderr, flush=True)
        _build_audit_publish(opts, paths, warehouse, staging, run_dir, docs_dir, lock, summary, log)
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
                         run_dir: Path, docs_dir: Path, lock: RunLock, summary: Any, log: Any) -> None:
    staged = run_dir / "seeds"   # the seed files this run would load, until they are moved into seeds/
    try:
        _build_audit_publish_staged(opts, paths, warehouse, staging, run_dir, docs_dir, lock, summary, log, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _build_audit_publish_staged(opts: RunOptions, paths: list[Path], warehouse: Path, staging: Path,
                                run_dir: Path, docs_dir: Path, lock: RunLock, summary: Any, log: Any,
                                staged: Path) -> None:
    from . import quality
    from .summary import history_row, pending_history, print_summary, write_run_history

    timer = StageTimer(on_start=lambda name: (summary.stage(name), log.event("stage_start", stage=name)),
                       on_end=lambda name, s: log.event("stage_end", stage=name, seconds=s))
    summary.data["stages"] = timer.stages
    with timer.run("extract", opts.progress):
        def show(i: int, n: int, path: Path) -> None:
            if opts.progress and (i == n or i % max(1, n // 20) == 0):
                print(f"  {i}/{n} documents", file=sys.stderr, flush=True)

        extractor_fp = extractor_fingerprint()
        cache = DocumentCache(cache_root(warehouse), extractor_fp, opts.year, enabled=not opts.force)
        result, digests = _extract_to_seeds(paths, opts.year, show, cache, staged)
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
        changes = compare(previous.documents, result.documents)
        fingerprint = input_fingerprint_of_digests(build_fingerprint(extractor_fp), digests)
        unchanged = previous.input_fingerprint == fingerprint
        summary.incremental(changes, cache, fingerprint, previous, unchanged and not opts.force)
        log.event("documents", **{k: v for k, v in summary.data["documents"].items() if k != "rejects"})
        result.release()   # only the counts are needed from here: dbt and the gate come next

    if unchanged and not opts.force:
        _publish_unchanged(opts, warehouse, staging, run_dir, previous, timer, summary, log)
        cache.prune()
        return

    build_lock = RunLock(BUILD_LOCK, f"the project's seeds and dbt target ({PROJECT_ROOT})")
    build_lock.acquire(summary.run_id, opts.wait if opts.wait is not None else lock_timeout(), opts.progress)
    summary.data["lock_wait_s"]["build"] = build_lock.waited_s
    try:
        summary.recovered(recover_seeds())
        with timer.run("load seeds", opts.progress):
            for name in LOADER_SEEDS:
                move_into_place(staged / name, SEEDS_DIR / name)
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
    log.gate(summary.data["gate"])
    if not gate.passed:
        if not log.json:
            print(quality.format_gate_table(gate), file=sys.stderr)
        raise GateFailed(f"quality gate failed: {gate_failures(gate)}; "
                         f"{warehouse.name} left unchanged, staging kept at {staging}")
    with timer.run("publish", opts.progress):
        summary.publishing()
        history = previous.history + pending_history(history_path(warehouse), warehouse, previous.history)
        write_run_history(staging, history + [history_row(summary.data)])
        notes = publish(staging, warehouse, run_dir)
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    summary.published(warehouse, notes)
    log.event("publish", warehouse=str(warehouse), mode="full", notes=notes)
    cache.prune()
    if not log.json:
        print_summary(warehouse, gate, timer.stages, result.n_documents, len(result.rejected),
                      result.n_mentions, EXAMPLE_SQL, docs_dir, summary.data["documents"])
        print(f"Run summary: {summary.path}")


def _publish_unchanged(opts: RunOptions, warehouse: Path, staging: Path, run_dir: Path,
                       previous: PublishedState, timer: StageTimer, summary: Any, log: Any) -> None:
    """Nothing changed since the build of the published warehouse: no dbt build. By default the
    same data is republished with this run's row added to `run_history` (a copy of the
    published file, never written in place); with --skip-unchanged the file stays byte-identical
    and the run joins `run_history` at the next publish (from runs/history.jsonl)."""
    from .summary import history_row, pending_history, write_run_history

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
