"""`tongbi extract` against jionlp's `extract_money` as whole processes over the same real
bulletins, in the same run (issue 17's measurement): start-up, reading and writing included.

    python -m bench.whole_process --jionlp bench/.venv/bin/python [--corpus DIR] [--docs 2000] [--repeat 3]

The corpus is the dev corpus of ../shared (real bulletins) copied over and over under new file
names until there are --docs of them, in folders of one copy each (/tmp/tongbi-bench/real-<N>).
Each case runs --repeat times, the cases taking turns so that a shared machine's load falls on
all of them alike; medians are reported. Cases: tongbi in one process and on all cores
(`--workers 0`), jionlp in one process and on a pool of all cores (bench/jionlp_bench.py).
Peak RSS is the largest sum over the process tree, sampled every 20 ms, and at least the
process's own ru_maxrss.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from .tree_rss import tree_rss_mib

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"


def real_corpus(source: Path, n: int, root: Path) -> Path:
    """`n` copies of the bulletins of `source` (file names r<k>_<name>, folder s<k> per copy)."""
    files = sorted(p for p in source.glob("*.md") if p.name.lower() != "readme.md")
    if not files:
        raise SystemExit(f"no bulletins in {source}")
    out = root / f"real-{source.name}-{n}"
    marker = out / ".complete"
    if marker.exists() and marker.read_text() == f"{source} {n}":
        return out
    shutil.rmtree(out, ignore_errors=True)
    for i in range(n):
        k, f = divmod(i, len(files))
        shard = out / f"s{k:02d}"
        shard.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[f], shard / f"r{k:02d}_{files[f].name}")
    marker.write_text(f"{source} {n}")
    return out


def measured(cmd: list[str]) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system, the tree's) and peak RSS (MiB) of one process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mib(proc.pid))
            done.wait(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    done.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": max(peak[0], usage.ru_maxrss / 1024)}


def cases(corpus: Path, jionlp: str | None, out: Path) -> dict[str, list[str]]:
    tongbi = [sys.executable, "-m", "tongbi.cli", "extract", str(corpus), "--out", str(out)]
    found = {"tongbi single": tongbi, "tongbi all cores": tongbi + ["--workers", "0"]}
    if jionlp:
        peer = [jionlp, str(ROOT / "bench" / "jionlp_bench.py"), str(corpus)]
        found["jionlp single"] = peer + ["single"]
        found["jionlp all cores"] = peer + ["pool"]
    return found


def run(corpus: Path, jionlp: str | None, repeat: int, work: Path) -> dict[str, object]:
    out = work / "whole-process-raw_metrics.csv"
    todo = cases(corpus, jionlp, out)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in todo}
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for name, cmd in todo.items():   # in turns: the machine's load falls on each alike
            samples[name].append(measured(cmd))
    n_bytes = sum(p.stat().st_size for p in corpus.glob("*/*.md"))
    n_docs = sum(1 for _ in corpus.glob("*/*.md"))
    rows = {}
    for name, runs in samples.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rows[name] = {"seconds": seconds, "all_seconds": [round(r["seconds"], 3) for r in runs],
                      "cpu_s": statistics.median(r["cpu_s"] for r in runs),
                      "mb_s": n_bytes / 2**20 / seconds, "docs_s": n_docs / seconds,
                      "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
    return {"corpus": str(corpus), "docs": n_docs, "bytes": n_bytes, "repeat": repeat,
            "cpu_count": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
            "cases": rows}


def report(result: dict[str, object]) -> str:
    rows: dict[str, dict[str, float]] = result["cases"]   # type: ignore[assignment]
    lines = [f"whole processes over {result['docs']} real bulletins ({result['bytes'] / 2**20:.1f} MB), "
             f"median of {result['repeat']}, load {result['loadavg_before']:.1f} -> {result['loadavg_after']:.1f}",
             "| case | wall s | CPU s | MB/s | docs/s | peak RSS MB |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['seconds']:.2f} | {r['cpu_s']:.2f} | {r['mb_s']:.2f} | {r['docs_s']:.0f} "
                     f"| {r['peak_rss_mb']:.0f} |")
    for mode in ("single", "all cores"):
        ours, peer = rows.get(f"tongbi {mode}"), rows.get(f"jionlp {mode}")
        if ours and peer:
            lines.append(f"tongbi extract vs jionlp extract_money, {mode} each: "
                         f"{peer['seconds'] / ours['seconds']:.2f}x (target >= 2x, goal 4x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jionlp", help="python of a venv with jionlp (make bench: bench/.venv/bin/python)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_SHARED / "corpus" / "dev",
                    help="folder of real bulletins to repeat (default ../shared/corpus/dev)")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tongbi-bench"))
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-whole-process.json")
    args = ap.parse_args(argv)
    corpus = real_corpus(args.corpus, args.docs, args.work)
    result = run(corpus, args.jionlp, args.repeat, args.work)
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
