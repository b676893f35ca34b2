"""`make bench`: generate the corpora, measure, print one table, write runs/bench-results.json.

    python -m bench.run [--sizes 1000,10000] [--corpora DIR] [--jionlp PYTHON] [--e2e 1000,10000] [--no-extraction]
                        [--real-docs 2000] [--shared ../shared]

Every measurement runs in its own interpreter so that its peak RSS is its own. Corpora are
generated once per (size, seed) under --corpora (default /tmp/tongbi-bench) and reused.
First, `tongbi extract` and jionlp's `extract_money` as whole processes over --real-docs real
bulletins (../shared's dev corpus repeated; bench/whole_process.py), one process each and all
cores each, medians of 3 taken in turns: the ratio issue 17 sets its target on.
`--e2e 1000,10000` also times `tongbi run` end to end on each size (corpora g<N>): a full run
into a new warehouse, one new document added (twice: incremental builds), and a run with nothing
changed, in a detached git worktree so that the shared tree's seeds/ and target/ are not touched.
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

from . import scheduled as sched
from . import whole_process
from .generate import generate
from .tree_rss import run_measured

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
    for mode in ("single", "pool") if jionlp_python else ():
        r = _json_run([jionlp_python, str(ROOT / "bench" / "jionlp_bench.py"), str(corpus), mode])
        if r:
            rows.append(r)
            _show(r)
    return rows


def _show(r: dict[str, object]) -> None:
    print(f"  {r['tool']:<24} {r['mode']:<6} {r['docs']:>7} docs {r['seconds']:8.1f} s "
          f"{r['mb_s']:6.2f} MB/s {r['docs_s']:7.0f} docs/s  peak RSS {r['peak_rss_mb']:6.0f} MB",
          file=sys.stderr)


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def worktree(work: Path) -> Path:
    """A detached git worktree of HEAD under work/: tongbi writes seeds/ and target/ into its
    project tree, and those of the tree this runs from are not to be touched."""
    wt = work / "worktree"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()
    if not wt.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), head], cwd=ROOT, check=True,
                       capture_output=True)
    else:
        subprocess.run(["git", "checkout", "--quiet", "--detach", head], cwd=wt, check=True)
    return wt


def dbt_nodes(wt: Path) -> dict[str, object]:
    """Nodes of the last dbt invocation in the worktree (target/run_results.json): count per
    resource type, their summed execution time and the slowest."""
    path = wt / "target" / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())["results"]
    kinds: dict[str, list[float]] = {}
    for r in results:
        kinds.setdefault(r["unique_id"].split(".")[0], []).append(r["execution_time"])
    slow = sorted(results, key=lambda r: -r["execution_time"])[:5]
    return {"nodes": len(results),
            "by_type": {k: {"n": len(v), "seconds": round(sum(v), 2)} for k, v in sorted(kinds.items())},
            "node_seconds": round(sum(r["execution_time"] for r in results), 2),
            "slowest": [[r["unique_id"].split(".")[-1], round(r["execution_time"], 2)] for r in slow]}


def tongbi_run(wt: Path, paths: list[Path], wh: Path, label: str) -> dict[str, object]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false"}
    before = _loadavg()
    t0 = time.perf_counter()
    proc, peak_rss = run_measured([PY, "-m", "tongbi.cli", "run", *map(str, paths), "--warehouse", str(wh)],
                                  cwd=wt, env=env)
    seconds = time.perf_counter() - t0
    summaries = sorted((wh.parent / "runs").glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    summary = json.loads(summaries[-1].read_text()) if summaries else {}
    docs = summary.get("documents", {})
    out = {"rc": proc.returncode, "seconds": round(seconds, 2), "peak_rss_mb": peak_rss,
           "stages": summary.get("stages", {}),
           "mode": summary.get("mode"), "status": summary.get("status"),
           "documents": {k: docs.get(k) for k in ("loaded", "statistics", "added", "changed", "removed",
                                                    "unchanged", "extracted", "reused")},
           "loadavg_before": before, "loadavg_after": _loadavg()}
    if "dbt build" in out["stages"] and out["mode"] == "full":   # an incremental run writes no run_results
        out["dbt"] = dbt_nodes(wt)
    print(f"  tongbi run {label}: rc {proc.returncode}, {seconds:.1f} s, peak RSS {peak_rss:.0f} MB, stages {out['stages']}, "
          f"documents {out['documents']}, load {before} -> {out['loadavg_after']}", file=sys.stderr)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    return out


def e2e(corpus: Path, work: Path, n: int) -> dict[str, object]:
    """`tongbi run` on corpus in a worktree of HEAD: a full run into a new warehouse (empty
    extraction cache), then one new document added (twice: two measurements), then a run with
    nothing changed. The new documents are the generator's documents n and n+1, each in a
    folder of its own passed as a second path (the corpus folder itself is not modified)."""
    wt = worktree(work.parent / "e2e-worktree")
    run_dir = work / f"n{n}"
    shutil.rmtree(run_dir, ignore_errors=True)   # warehouse, runs/ and the extraction cache
    run_dir.mkdir(parents=True)
    wh = run_dir / "warehouse.duckdb"
    extras = []
    for k in range(2):
        extra = run_dir / f"added-{k}"
        generate(extra, 1, start=n + k)
        extras.append(extra)
    out: dict[str, object] = {"docs": n, "corpus": str(corpus)}
    out["full"] = tongbi_run(wt, [corpus], wh, f"full ({n} documents)")
    if out["full"]["rc"] != 0:
        return out
    out["incremental"] = tongbi_run(wt, [corpus, extras[0]], wh, "one document added")
    out["incremental_2"] = tongbi_run(wt, [corpus, *extras], wh, "another document added")
    out["unchanged"] = tongbi_run(wt, [corpus, *extras], wh, "nothing changed")
    full = out["full"]["seconds"]
    out["ratios"] = {k: round(out[k]["seconds"] / full, 3) for k in ("incremental", "incremental_2", "unchanged")}
    # a generated corpus may have documents the gate quarantines: the full run then rebuilds and
    # audits again without them; against its wall time less those rebuilds as well
    rebuilds = sum(s for name, s in out["full"]["stages"].items() if "quarantine round" in name)
    out["full_without_quarantine_rebuilds_s"] = round(full - rebuilds, 2)
    out["ratios_without_quarantine_rebuilds"] = {
        k: round(out[k]["seconds"] / (full - rebuilds), 3) for k in ("incremental", "incremental_2", "unchanged")}
    return out


def e2e_table(results: list[dict[str, object]]) -> str:
    stages = ("extract", "load seeds", "dbt build", "expectations", "publish")
    lines = ["| docs | run | exit | mode | extracted / reused | total s | " + " | ".join(stages)
             + " | % of full | peak RSS MB | load avg before |",
             "|---:|---|---:|---|---|---:|" + "---:|" * len(stages) + "---:|---:|---|"]
    for e in results:
        for k in ("full", "incremental", "incremental_2", "unchanged"):
            r = e.get(k)
            if not r:
                continue
            d = r["documents"]
            cells = " | ".join(f"{r['stages'][s]:.1f}" if s in r["stages"] else "–" for s in stages)
            pct = f"{r['seconds'] / e['full']['seconds']:.0%}"
            lines.append(f"| {e['docs']} | {k} | {r['rc']} | {r['mode']} | {d['extracted']} / {d['reused']} "
                         f"| {r['seconds']:.1f} | {cells} | {pct} | {r.get('peak_rss_mb', 0):.0f} "
                         f"| {r['loadavg_before']} |")
    return "\n".join(lines)


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
    ap.add_argument("--e2e", default="", help="corpus sizes for `tongbi run` end to end, e.g. 1000,10000 (empty: skip)")
    ap.add_argument("--scheduled", default="", help="corpus sizes for `tongbi run --every` (one process, runs "
                    "asked for by SIGUSR1): full, +1, +1, nothing changed (empty: skip)")
    ap.add_argument("--no-extraction", action="store_true", help="only the end-to-end runs")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-results.json")
    ap.add_argument("--real-docs", type=int, default=2000,
                    help="real bulletins for the whole-process comparison with jionlp (0: skip)")
    ap.add_argument("--shared", type=Path, default=whole_process.DEFAULT_SHARED,
                    help="the shared folder whose corpus/dev is repeated (default ../shared)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each whole-process case (median)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows: list[dict[str, object]] = []
    whole: dict[str, object] | None = None
    dev = args.shared / "corpus" / "dev"
    if args.real_docs and not args.no_extraction:
        if dev.is_dir():
            real = whole_process.real_corpus(dev, args.real_docs, args.corpora)
            whole = whole_process.run(real, args.jionlp, args.repeat, args.corpora)
            print(whole_process.report(whole), file=sys.stderr)
        else:
            print(f"no {dev}: the whole-process comparison on real bulletins is skipped", file=sys.stderr)
    for n in [] if args.no_extraction else sizes:
        t0 = time.perf_counter()
        corpus = generate(args.corpora / f"g{n}", n)
        print(f"corpus of {n} documents ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        rows += extraction(corpus, args.jionlp)
    result: dict[str, object] = {"cpu_count": os.cpu_count(), "rows": rows, "whole_process": whole}
    if args.e2e:
        result["e2e"] = []
        for n in (int(x) for x in args.e2e.split(",") if x):
            corpus = generate(args.corpora / f"g{n}", n)
            result["e2e"].append(e2e(corpus, args.corpora / "e2e-g", n))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    if args.scheduled:
        result["scheduled"] = []
        for n in (int(x) for x in args.scheduled.split(",") if x):
            corpus = generate(args.corpora / f"g{n}", n)
            wt = worktree(args.corpora / "e2e-worktree")
            result["scheduled"].append(sched.scheduled(corpus, args.corpora / "e2e-g", n, wt))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    if whole:
        print(whole_process.report(whole))
    if rows:
        print(table(rows))
    # targets
    ours = {(r["docs"], r["mode"]): r for r in rows if r["tool"] == "tongbi"}
    peer = {(r["docs"], r["mode"]): r for r in rows if r["tool"] != "tongbi"}
    for n in sizes:
        for mode, how in (("single", "one process each"), ("pool", "all cores each")):
            if (n, mode) in ours and (n, mode) in peer:
                print(f"extraction vs jionlp at {n}: {ours[n, mode]['mb_s'] / peer[n, mode]['mb_s']:.2f}x "
                      f"({how}; target >= 2x)")
        if (n, "pool") in ours and (n, "single") in peer:
            print(f"extraction vs jionlp at {n}: {ours[n, 'pool']['mb_s'] / peer[n, 'single']['mb_s']:.2f}x "
                  "(tongbi on all cores, jionlp in one process)")
    if len(sizes) > 1 and (sizes[0], "single") in ours and (sizes[-1], "single") in ours:
        a, b = ours[sizes[0], "single"]["docs_s"], ours[sizes[-1], "single"]["docs_s"]
        print(f"throughput at {sizes[-1]} vs {sizes[0]}: {b / a - 1:+.1%} (target within 20%)")
    if result.get("e2e"):
        print(e2e_table(result["e2e"]))
        for e in result["e2e"]:
            if "ratios" in e:
                print(f"one document added to {e['docs']}: {e['ratios']['incremental']:.0%} and "
                      f"{e['ratios']['incremental_2']:.0%} of the full run (target <= 15%, goal 10%); "
                      f"nothing changed: {e['ratios']['unchanged']:.0%}")
                bare = e["ratios_without_quarantine_rebuilds"]
                print(f"  against the full run less its quarantine rebuilds ({e['full_without_quarantine_rebuilds_s']} s): "
                      f"{bare['incremental']:.0%} and {bare['incremental_2']:.0%}")
    if result.get("scheduled"):
        print(sched.table(result["scheduled"]))
        standalone = {e["docs"]: e["full"]["seconds"] for e in result.get("e2e", []) if "full" in e}
        for e in result["scheduled"]:
            r = e["ratios"]
            print(f"scheduled (tongbi run --every), one document added to {e['docs']}: {r['incremental']:.0%} and "
                  f"{r['incremental_2']:.0%} of its full run (target <= 15%, goal 10%); nothing changed: "
                  f"{r['unchanged']:.0%}; peak RSS {e['peak_rss_mb']} MB")
            if e["docs"] in standalone:
                full = standalone[e["docs"]]
                print(f"  against the standalone full run ({full} s): {e['incremental']['seconds'] / full:.0%} and "
                      f"{e['incremental_2']['seconds'] / full:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
