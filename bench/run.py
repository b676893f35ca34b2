"""`make bench`: generate the corpora, measure, print one table, write runs/bench-results.json.

    python -m bench.run [--sizes 1000,10000] [--corpora DIR] [--jionlp PYTHON] [--e2e 1000]

Every measurement runs in its own interpreter so that its peak RSS is its own. Corpora are
generated once per (size, seed) under --corpora (default /tmp/tongbi-bench) and reused.
`--e2e N` also times `tongbi run` end to end on N documents (and one added document after it),
in a detached git worktree so that the shared tree's seeds/ and target/ are not touched.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .generate import generate

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _json_run(cmd: list[str], cwd: Path = ROOT) -> dict[str, object] | None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def extraction(corpus: Path, jionlp_python: str | None) -> list[dict[str, object]]:
    rows = []
    for mode in ("single", "pool"):
        r = _json_run([PY, "-m", "bench.extract_bench", "--one", mode, str(corpus)])
        if r:
            rows.append(r)
            _show(r)
    if jionlp_python:
        r = _json_run([jionlp_python, str(ROOT / "bench" / "jionlp_bench.py"), str(corpus)])
        if r:
            rows.append(r)
            _show(r)
    return rows


def _show(r: dict[str, object]) -> None:
    print(f"  {r['tool']:<24} {r['mode']:<6} {r['docs']:>7} docs {r['seconds']:8.1f} s "
          f"{r['mb_s']:6.2f} MB/s {r['docs_s']:7.0f} docs/s  peak RSS {r['peak_rss_mb']:6.0f} MB",
          file=sys.stderr)


def e2e(corpus: Path, work: Path) -> dict[str, object]:
    """`tongbi run` on corpus in a worktree of HEAD: full run, then one document added."""
    wt = work / "worktree"
    if not wt.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), "HEAD"], cwd=ROOT, check=True,
                       capture_output=True)
    wh = work / "warehouse.duckdb"
    for p in work.glob("warehouse*"):
        p.unlink()
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false"}
    out: dict[str, object] = {"docs": sum(1 for _ in corpus.glob("*/*.md"))}
    # the new document: one more generated bulletin in a shard of its own
    extra = work / "extra"
    shutil.rmtree(extra, ignore_errors=True)
    generate(extra, 1, seed=99)
    added = corpus / "9999"
    shutil.rmtree(added, ignore_errors=True)
    for label, prep in (("full", None), ("incremental", extra)):
        if prep is not None:
            shutil.copytree(prep / "0000", added)
            (added / "bench-0000000.md").rename(added / "bench-added-0000000.md")
        t0 = time.perf_counter()
        proc = subprocess.run([PY, "-m", "loaders.cli", "run", str(corpus), "--warehouse", str(wh)],
                              cwd=wt, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        summaries = sorted((work / "runs").glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
        stages = json.loads(summaries[-1].read_text()).get("stages", {}) if summaries else {}
        out[label] = {"rc": proc.returncode, "seconds": seconds, "stages": stages}
        print(f"  tongbi run {label}: rc {proc.returncode}, {seconds:.1f} s, stages {stages}", file=sys.stderr)
        if proc.returncode != 0:
            print(proc.stdout[-1500:], proc.stderr[-1500:], file=sys.stderr)
    shutil.rmtree(added, ignore_errors=True)
    return out


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| tool | mode | workers | docs | MB | seconds | MB/s | docs/s | peak RSS MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['mode']} | {r['workers']} | {r['docs']} | {r['bytes'] / 2**20:.1f} "
                     f"| {r['seconds']:.1f} | {r['mb_s']:.3f} | {r['docs_s']:.0f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--corpora", type=Path, default=Path("/tmp/tongbi-bench"))
    ap.add_argument("--jionlp", help="python of a venv with jionlp (make bench: .venv-bench/bin/python)")
    ap.add_argument("--e2e", type=int, default=0, help="documents for `tongbi run` end to end (0: skip)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-results.json")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows: list[dict[str, object]] = []
    for n in sizes:
        t0 = time.perf_counter()
        corpus = generate(args.corpora / f"n{n}", n)
        print(f"corpus of {n} documents ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        rows += extraction(corpus, args.jionlp)
    result: dict[str, object] = {"cpu_count": os.cpu_count(), "rows": rows}
    if args.e2e:
        corpus = generate(args.corpora / f"n{args.e2e}", args.e2e)
        result["e2e"] = e2e(corpus, args.corpora / "e2e")
    print(table(rows))
    # targets
    ours = {(r["docs"], r["mode"]): r for r in rows if r["tool"] == "tongbi"}
    peer = {r["docs"]: r for r in rows if r["tool"] != "tongbi"}
    for n in sizes:
        if (n, "single") in ours and n in peer:
            print(f"extraction vs jionlp at {n}: {ours[n, 'single']['mb_s'] / peer[n]['mb_s']:.2f}x "
                  "(one process each; target >= 2x)")
    if len(sizes) > 1 and (sizes[0], "single") in ours and (sizes[-1], "single") in ours:
        a, b = ours[sizes[0], "single"]["docs_s"], ours[sizes[-1], "single"]["docs_s"]
        print(f"throughput at {sizes[-1]} vs {sizes[0]}: {b / a - 1:+.1%} (target within 20%)")
    if "e2e" in result:
        e = result["e2e"]
        print(f"tongbi run at {e['docs']}: full {e['full']['seconds']:.1f} s {e['full']['stages']}; "
              f"one document added: {e['incremental']['seconds']:.1f} s "
              f"({e['incremental']['seconds'] / e['full']['seconds']:.0%} of the full run; target <= 10%)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
