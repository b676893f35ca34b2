"""`tongbi run --every INTERVAL`: the scheduled job as one long-lived process.

A job started by cron or a systemd timer every 30 minutes pays, at every run, for starting
Python, importing Great Expectations and pandas (≈ 3.4 s of CPU), importing dbt (≈ 3 s) and
loading the vocabulary: at 10,000 bulletins that is most of what adding one bulletin costs.
Run as `tongbi run --every 30m`, the same job keeps them loaded: each tick is an ordinary run
(`pipeline.run`: the same locks, write-audit-publish, summary.json and run_history row as a run
started by hand), and dbt's commands go to one `DbtWorker` that imports dbt once and runs each
command in a fresh fork of itself.

* Ticks are `start + k × interval`; a run that overruns its interval makes the next tick the
  first one after it ends (no burst of missed runs).
* SIGUSR1 runs the next run now (`kill -USR1 PID` after dropping new bulletins in); the ticks
  after it keep their times.
* A run that fails (gate, build, no documents) is reported and the loop goes on; a warehouse
  held by another run (`Busy`) skips that tick. `--runs N` ends after N runs with the last
  run's exit code; `--force` rebuilds at the first run only; SIGTERM or Ctrl-C ends it between runs (a run in progress is let finish on
  SIGTERM, interrupted on Ctrl-C) with exit code 0 / 130.
* The code this process runs was imported when it started. When tongbi's own code on disk
  changes (a deploy), the next tick re-executes the process with the same arguments instead of
  running stale extraction code under the new code's fingerprint.
"""
from __future__ import annotations

import ctypes
import dataclasses
import gc
import hashlib
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tongbi.errors import Busy, TongbiError

from .build import DbtWorker
from .pipeline import RunOptions, run

TONGBI_PACKAGE = Path(__file__).resolve().parents[1]
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


def parse_interval(text: str) -> float:
    """Seconds of `90`, `90s`, `30m`, `1.5h` or `1d`; ValueError otherwise (or when not > 0)."""
    m = _INTERVAL.fullmatch(text.lower())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not an interval (a positive number of seconds, or 30m, 2h, 1d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def code_fingerprint() -> str:
    """What this process imported that can change on disk: tongbi's and the loaders' code."""
    from loaders.cache import extraction_code, hash_files

    h = hashlib.sha256(b"tongbi code\0")
    hash_files(h, sorted(p for p in TONGBI_PACKAGE.rglob("*.py") if "__pycache__" not in p.parts),
               TONGBI_PACKAGE.parent)
    hash_files(h, extraction_code(), TONGBI_PACKAGE.parent)
    return h.hexdigest()


@dataclass
class ScheduleOptions:
    every_s: float
    runs: int | None = None   # end after this many runs (None: until stopped)


def next_tick(start: float, every_s: float, now: float) -> float:
    """The first tick `start + k × every_s` after `now` (k ≥ 1)."""
    k = max(1, int((now - start) // every_s) + 1)
    return start + k * every_s


def _give_back_memory() -> None:
    """Between runs the process only waits: return what the last run freed (a full build's gate
    leaves hundreds of MB in glibc's free lists) to the system."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def schedule(opts: RunOptions, sched: ScheduleOptions, argv: list[str] | None = None,
             run_once: Callable[[RunOptions, DbtWorker], int] = run) -> int:
    """Run `opts` every `sched.every_s` seconds until stopped; `argv` re-executes the process
    when the code changes (None: the loop ends instead, with exit code 0)."""
    stop = threading.Event()
    wake = threading.Event()   # set by SIGTERM (stop) and SIGUSR1 (run now)
    stopped_by: list[str] = []

    def on_term(signum: int, _frame: object) -> None:
        stopped_by.append(signal.Signals(signum).name)
        stop.set()
        wake.set()

    previous = {sig: signal.signal(sig, handler) for sig, handler in
                ((signal.SIGTERM, on_term), (signal.SIGUSR1, lambda *_: wake.set()))}
    worker = DbtWorker(reuse_manifest=True)
    code_fp = code_fingerprint()
    start = time.monotonic()
    code, n = 0, 0
    try:
        while True:
            n += 1
            print(f"tongbi: scheduled run {n} (every {sched.every_s:g} s)", file=sys.stderr, flush=True)
            try:
                code = run_once(opts, worker)
            except Busy as exc:
                print(f"tongbi: skipped this tick: {exc}", file=sys.stderr, flush=True)
                code = exc.exit_code
            except TongbiError as exc:
                print(f"tongbi: {exc}", file=sys.stderr, flush=True)
                code = exc.exit_code
            except KeyboardInterrupt:
                print("tongbi: interrupted", file=sys.stderr)
                return 130
            if (sched.runs is not None and n >= sched.runs) or stop.is_set():
                break
            _give_back_memory()
            opts = dataclasses.replace(opts, force=False)   # --force: a full rebuild once, then incremental
            if not worker.alive:   # killed or crashed between commands: a new one for the next run
                worker.close()
                worker = DbtWorker(reuse_manifest=True)
            try:
                wake.wait(max(0.0, next_tick(start, sched.every_s, time.monotonic()) - time.monotonic()))
                wake.clear()
            except KeyboardInterrupt:
                print("tongbi: interrupted", file=sys.stderr)
                return 130
            if stop.is_set():
                break
            if code_fingerprint() != code_fp:
                if argv is None:
                    print("tongbi: tongbi's code changed on disk; stopping", file=sys.stderr, flush=True)
                    return 0
                print("tongbi: tongbi's code changed on disk; restarting with it", file=sys.stderr, flush=True)
                worker.close()
                sys.stderr.flush()
                sys.stdout.flush()
                os.execv(sys.executable, [sys.executable, "-m", "tongbi.cli", *argv])
    finally:
        worker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped_by:
        print(f"tongbi: stopped by {stopped_by[0]} after {n} runs", file=sys.stderr, flush=True)
        return 0
    return code
