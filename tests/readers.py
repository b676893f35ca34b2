"""Reader processes for the serving tests, and the scenario tests/test_serving.py and
tests/test_incremental.py share: five `tongbi run`s of a sample site while four readers query it.

Not a test module (pytest collects test_*.py only); imported by tests/conftest.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", GX_ANALYTICS_ENABLED="false",
           PYTHONUNBUFFERED="1", PYTHONPATH=str(PROJECT))
READER_MAX_S = 400        # a reader stops by itself after this long …
READER_MAX_QUERIES = 200_000  # … or this many connections, whichever comes first
MIN_QUERIES = 60          # the scenario keeps its readers querying at least this long

# One reader process: opens the warehouse read-only, queries, closes, again and again (with a
# short pause: four readers must not starve the run of the 2 cores), until the stop file appears
# or its bounds are reached. It also keeps one connection open from the start and checks that it
# keeps seeing the version it opened. Writes its tally as JSON.
#
# The held connection is an in-memory DuckDB with the file ATTACHed read-only: within one process,
# duckdb.connect(path) shares one database instance among all open connections to that path, so a
# connect() held open would make the loop's new connections read the old file too (consistent, but
# never the new version). ATTACH opens the file on its own.
READER = r"""
import json, os, sys, time
import duckdb

wh, out, stop, max_s, max_n = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
monotonic = sys.argv[6] == "monotonic"   # versions only ever go forward (runs), or alternate (rename test)
errors, seen, n = [], {}, 0
pause = float(os.environ.get("READER_PAUSE_S", "0.5"))
held = duckdb.connect(":memory:")
held.execute("attach '" + wh.replace("'", "''") + "' as wh (read_only)")
held_version = held.execute("select count(*) from wh.run_history").fetchone()[0]
held_facts = held.execute("select count(*), sum(ytd_value) from wh.fct_region_quarter").fetchone()
held_checks, last = 0, 0
open(out + ".ready", "w").close()
deadline = time.monotonic() + max_s
while n < max_n and time.monotonic() < deadline and not os.path.exists(stop):
    n += 1
    if n % 5 == 0:
        with open(out + ".n", "w") as progress:
            progress.write(str(n))
    try:
        con = duckdb.connect(wh, read_only=True)
        try:
            v = con.execute("select count(*) from run_history").fetchone()[0]
            facts = con.execute("select count(*), sum(ytd_value) from fct_region_quarter").fetchone()
            bi = con.execute("select count(*) from bi.region_quarter").fetchone()[0]
            mentions = con.execute("select count(*) from bi.mentions").fetchone()[0]
            v2 = con.execute("select count(*) from run_history").fetchone()[0]
        finally:
            con.close()
        if v2 != v:
            errors.append(f"one connection saw two versions: {v} then {v2}")
        if bi != facts[0] or mentions == 0:
            errors.append(f"half-built state: bi.region_quarter {bi} rows, fct_region_quarter {facts[0]}")
        if monotonic and v < last:
            errors.append(f"went back from version {last} to {v}")
        last = v
        seen[v] = seen.get(v, 0) + 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    if n % 25 == 0:
        try:
            if held.execute("select count(*) from wh.run_history").fetchone()[0] != held_version or \
               held.execute("select count(*), sum(ytd_value) from wh.fct_region_quarter").fetchone() != held_facts:
                errors.append("the connection held open changed version")
            held_checks += 1
        except Exception as exc:
            errors.append(f"held connection: {type(exc).__name__}: {exc}")
    time.sleep(pause)
held.close()
json.dump({"queries": n, "errors": errors[:20], "n_errors": len(errors), "versions": seen,
           "held_version": held_version, "held_checks": held_checks}, open(out, "w"))
"""


def start_readers(wh: Path, folder: Path, n: int, max_s: float = READER_MAX_S,
                  monotonic: bool = True, pause: float = 0.5) -> tuple[list, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stop = folder / "stop"
    procs = []
    for i in range(n):
        out = folder / f"reader{i}.json"
        procs.append((subprocess.Popen([sys.executable, "-c", READER, str(wh), str(out), str(stop), str(max_s),
                                        str(READER_MAX_QUERIES), "monotonic" if monotonic else "any"],
                                       env=dict(ENV, READER_PAUSE_S=str(pause))), out))
    deadline = time.monotonic() + 60
    while not all(Path(str(out) + ".ready").exists() for _, out in procs):
        assert time.monotonic() < deadline, "readers did not start"
        assert all(p.poll() is None for p, _ in procs), "a reader died at start"
        time.sleep(0.05)
    return procs, stop


def stop_readers(procs: list, stop: Path, min_queries: int = 0, wait_s: float = 180) -> list[dict]:
    """Stops the readers once each has made `min_queries` queries (or `wait_s` has passed): the
    scenario ends when enough queries span the publishes, not after a time window, so how fast the
    runs are does not decide how much the readers are exercised."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not all(_progress(out) >= min_queries for _, out in procs):
        if any(p.poll() is not None for p, _ in procs):
            break
        time.sleep(0.2)
    stop.touch()
    results = []
    for proc, out in procs:
        proc.wait(60)
        assert proc.returncode == 0, f"reader exited {proc.returncode}"
        results.append(json.loads(out.read_text()))
    return results


def _progress(out: Path) -> int:
    try:
        return int(Path(str(out) + ".n").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def tongbi_run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tongbi.cli", "run", "bulletins", "--warehouse",
                           "warehouse.duckdb", "--quiet", *args], cwd=site, env=ENV, capture_output=True,
                          text=True, timeout=900)


def versions(wh: Path) -> int:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("select count(*) from run_history").fetchone()[0]
    finally:
        con.close()



def summary_path(proc: subprocess.CompletedProcess[str]) -> Path:
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.lower().startswith("run summary: "):
            return Path(line.split(": ", 1)[1].strip())
    raise AssertionError(f"the run printed no summary path:\n{proc.stderr[-2000:]}")


CHANGED_DOC = "xj-invest-2024"        # its title changes before the first run
REMOVED_DOC = "xj-invest-2023m1-8"    # removed before the first run


@dataclass
class FiveRuns:
    """Five runs of a site under four readers: the first after one document changed and one was
    removed (a rebuild), the other four with nothing new (republished without a rebuild)."""

    site: Path
    before: dict[str, int]                       # mentions per document before the runs
    procs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    timings: list[float] = field(default_factory=list)
    readers: list[dict] = field(default_factory=list)


def five_runs_under_readers(site: Path, readers_dir: Path, n_readers: int = 4) -> FiveRuns:
    wh = site / "warehouse.duckdb"
    con = duckdb.connect(str(wh), read_only=True)
    try:
        before = dict(con.execute("select doc_id, count(*) from fct_metric_mentions group by 1").fetchall())
    finally:
        con.close()
    result = FiveRuns(site, before)
    procs, stop = start_readers(wh, readers_dir, n_readers)
    try:
        doc = site / "bulletins" / f"{CHANGED_DOC}.md"
        doc.write_text(doc.read_text(encoding="utf-8").replace("\ntitle: ", "\ntitle: 【修订】", 1), encoding="utf-8")
        (site / "bulletins" / f"{REMOVED_DOC}.md").unlink()
        for _ in range(5):
            t0 = time.perf_counter()
            proc = tongbi_run(site)
            result.timings.append(round(time.perf_counter() - t0, 1))
            result.procs.append(proc)
            if proc.returncode != 0:
                break
            result.summaries.append(json.loads(summary_path(proc).read_text(encoding="utf-8")))
            time.sleep(0.3)  # let the readers query each version
    finally:
        result.readers = stop_readers(procs, stop, min_queries=MIN_QUERIES)
    return result
