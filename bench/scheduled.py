"""The scheduled job as one process (`tongbi run --every`): a full build of the corpus, then one
new document dropped in and a run asked for (SIGUSR1), twice, then a run with nothing changed.

    python -m bench.run --no-extraction --sizes 10000 --scheduled 10000

Each run's wall time is its `duration_s` in summary.json (lock taken to lock released); the
standalone measure (bench/run.py `e2e`) times whole processes, so it also counts starting Python.
Both ratios are printed: scheduled runs against the scheduled full build, and against a
standalone full build when one was measured in the same bench run.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .generate import generate
from .tree_rss import PeakRss, tree_rss_mib

PY = sys.executable
RUN_TIMEOUT_S = 1800


def _summaries(wh: Path) -> list[dict[str, object]]:
    found = []
    for p in sorted((wh.parent / "runs").glob("2*/summary.json")):
        try:
            found.append(json.loads(p.read_text()))
        except (OSError, ValueError):   # being rewritten
            continue
    return found


def _wait_for_run(proc: subprocess.Popen[bytes], wh: Path, n: int) -> dict[str, object]:
    """The n-th run's final summary (status no longer `running`)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        done = [s for s in _summaries(wh) if s.get("status") not in (None, "running")]
        if len(done) >= n:
            return done[n - 1]
        if proc.poll() is not None:
            raise SystemExit(f"the scheduled process ended (exit {proc.returncode}) before run {n}")
        time.sleep(0.1)
    raise SystemExit(f"run {n} of the scheduled process did not end within {RUN_TIMEOUT_S} s")


def _idle_rss(proc: subprocess.Popen[bytes]) -> float:
    """The process tree's RSS once a run has ended and the process waits for its next tick."""
    time.sleep(1.0)
    return round(tree_rss_mib(proc.pid))


def _row(s: dict[str, object], label: str, load_before: str) -> dict[str, object]:
    docs = dict(s.get("documents") or {})
    row = {"label": label, "status": s.get("status"), "mode": s.get("mode"), "seconds": s.get("duration_s"),
           "stages": s.get("stages", {}),
           "documents": {k: docs.get(k) for k in ("loaded", "added", "extracted", "reused")},
           "loadavg_before": load_before, "loadavg_after": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    print(f"  scheduled {label}: {row['status']} {row['mode']} {row['seconds']} s, stages {row['stages']}, "
          f"load {load_before} -> {row['loadavg_after']}", file=sys.stderr)
    return row


def scheduled(corpus: Path, work: Path, n: int, wt: Path) -> dict[str, object]:
    """The four runs of one scheduled process on `corpus` (n documents), in worktree `wt`."""
    run_dir = work / f"sched-n{n}"
    shutil.rmtree(run_dir, ignore_errors=True)
    incoming = run_dir / "incoming"
    incoming.mkdir(parents=True)
    held = run_dir / "held"
    generate(held, 2, start=n)
    new_docs = sorted(p for p in held.rglob("*.md"))
    wh = run_dir / "warehouse.duckdb"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false"}
    load = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())   # noqa: E731
    proc = subprocess.Popen([PY, "-m", "tongbi.cli", "run", str(corpus), str(incoming), "--warehouse", str(wh),
                             "--quiet", "--every", "1d"], cwd=wt, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(run_dir / "scheduler.log", "wb"))
    peak = PeakRss(proc, 0.05)
    out: dict[str, object] = {"docs": n, "corpus": str(corpus)}
    try:
        before = load()
        out["full"] = _row(_wait_for_run(proc, wh, 1), f"full ({n} documents)", before)
        out["full"]["idle_rss_mb"] = _idle_rss(proc)
        for k, (label, doc) in enumerate((("incremental", new_docs[0]), ("incremental_2", new_docs[1])), start=2):
            shutil.move(str(doc), incoming / doc.name)
            before = load()
            proc.send_signal(signal.SIGUSR1)
            out[label] = _row(_wait_for_run(proc, wh, k), label, before)
            out[label]["idle_rss_mb"] = _idle_rss(proc)
        before = load()
        proc.send_signal(signal.SIGUSR1)
        out["unchanged"] = _row(_wait_for_run(proc, wh, 4), "unchanged", before)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
    out["peak_rss_mb"] = round(peak.stop())
    full = float(out["full"]["seconds"])   # type: ignore[index]
    out["ratios"] = {k: round(float(out[k]["seconds"]) / full, 3)   # type: ignore[index]
                     for k in ("incremental", "incremental_2", "unchanged")}
    return out


def table(results: list[dict[str, object]]) -> str:
    stages = ("extract", "load seeds", "dbt build", "expectations", "publish")
    lines = ["| docs | run | status | mode | run s | " + " | ".join(stages) + " | % of scheduled full | RSS after, MB | load avg before |",
             "|---:|---|---|---|---:|" + "---:|" * len(stages) + "---:|---:|---|"]
    for e in results:
        full = float(e["full"]["seconds"])   # type: ignore[index]
        for k in ("full", "incremental", "incremental_2", "unchanged"):
            r = e.get(k)
            if not isinstance(r, dict):
                continue
            st = dict(r["stages"])
            cells = " | ".join(f"{st[s]:.1f}" if s in st else "–" for s in stages)
            lines.append(f"| {e['docs']} | {k} | {r['status']} | {r['mode']} | {float(r['seconds']):.1f} | {cells} "
                         f"| {float(r['seconds']) / full:.0%} | {r.get('idle_rss_mb', '–')} | {r['loadavg_before']} |")
    return "\n".join(lines)
