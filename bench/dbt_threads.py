"""Where `dbt build`'s time goes in `tongbi run`, and what dbt's `threads` setting buys.

    python -m bench.dbt_threads --seeds DIR [--threads 1,2,4] [--repeat 2] [--work DIR]

A scratch copy of the project (dbt_project.yml, models/, macros/, seeds/ with the loader seeds
of a real run from --seeds, and profiles.yml with the build target's `threads:` rewritten) is
built with exactly the command `tongbi run` uses (`dbt build --target build`) into a new file
each time. Per run: wall time of the dbt process, node count and the sum of node execution
times by resource type (run_results.json). Also once: `dbt parse` (project parsing alone, with
dbt's partial parsing as a repeated run has it) and the build without the data tests.
Nothing of the product's own profiles.yml or target/ is touched.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from .dbt_vs_sql import PROJECT_PARTS, ROOT, _loadavg, dbt


INTERMEDIATE = "    intermediate:\n      +materialized: view\n"


def scratch(work: Path, seeds: Path, threads: int, intermediate_tables: bool = False) -> Path:
    project = work / ("project" if not intermediate_tables else "project-int-tables")
    if not project.exists():
        project.mkdir(parents=True)
        for part in PROJECT_PARTS:
            src = ROOT / part
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, project / part)
        for name in ("raw_metrics.csv", "documents.csv", "rejected_documents.csv", "document_texts.csv"):
            shutil.copy2(seeds / name, project / "seeds" / name)
        if intermediate_tables:
            # the lever: intermediate models as tables, so that their ~70 data tests read a
            # table instead of re-running the view chain (dedup → vintaged → pivoted → …) each
            cfg = (project / "dbt_project.yml").read_text()
            assert INTERMEDIATE in cfg
            (project / "dbt_project.yml").write_text(cfg.replace(INTERMEDIATE, INTERMEDIATE.replace("view", "table")))
    prof = (ROOT / "profiles.yml").read_text()
    # the build target's threads only (the first `threads:` in the file)
    prof = re.sub(r"threads: \d+", f"threads: {threads}", prof, count=1)
    (project / "profiles.yml").write_text(prof)
    return project


def build(project: Path, db: Path, *extra: str) -> dict[str, object]:
    if db.parent.exists():
        shutil.rmtree(db.parent)
    db.parent.mkdir(parents=True)
    load = _loadavg()
    wall, cpu, _ = dbt(project, db, *extra)
    out: dict[str, object] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "loadavg": load}
    rr = project / "target" / "run_results.json"
    if extra[0] == "build":
        results = json.loads(rr.read_text())["results"]
        by: dict[str, list[float]] = {}
        for r in results:
            by.setdefault(r["unique_id"].split(".")[0], []).append(r["execution_time"])
        out["nodes"] = len(results)
        out["node_s"] = round(sum(sum(v) for v in by.values()), 2)
        out["by_type"] = {k: [len(v), round(sum(v), 2)] for k, v in sorted(by.items())}
        out["slowest"] = [[r["unique_id"].split(".")[-1], round(r["execution_time"], 2)]
                          for r in sorted(results, key=lambda r: -r["execution_time"])[:6]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=Path, required=True, help="seeds/ of a tongbi run (raw_metrics.csv …)")
    ap.add_argument("--threads", default="1,2,4")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tongbi-bench/dbt-threads"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--extras", action="store_true", help="also dbt parse and the build without tests")
    ap.add_argument("--intermediate-tables", default="",
                    help="threads (e.g. 1,2) to also build with the intermediate models as tables")
    args = ap.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    rows = sum(1 for _ in open(args.seeds / "raw_metrics.csv", encoding="utf-8")) - 1
    runs = []
    threads = [int(t) for t in args.threads.split(",")]
    int_threads = [int(t) for t in args.intermediate_tables.split(",") if t]
    plan = [(t, False) for t in threads] + [(t, True) for t in int_threads]
    for rep in range(args.repeat):
        for t, tables in plan:
            project = scratch(args.work, args.seeds, t, tables)
            r = {"threads": t, "intermediate_tables": tables, "repeat": rep,
                 **build(project, args.work / "db" / "warehouse.duckdb", "build")}
            runs.append(r)
            print(f"  threads {t}{' intermediate tables' if tables else ''}: {r['wall_s']:.1f} s (CPU {r['cpu_s']} s)  nodes {r['nodes']} "
                  f"({r['node_s']} s)  load {r['loadavg']}  {r['by_type']}  slowest {r['slowest']}", file=sys.stderr)
    extras = {}
    if args.extras:
        project = scratch(args.work, args.seeds, 1)
        extras["parse"] = build(project, args.work / "db" / "warehouse.duckdb", "parse")
        extras["build_no_tests"] = build(project, args.work / "db" / "warehouse.duckdb", "build",
                                         "--exclude", "resource_type:test", "resource_type:unit_test")
        extras["seed_only"] = build(project, args.work / "db" / "warehouse.duckdb", "seed")
        for k, v in extras.items():
            print(f"  {k}: {v}", file=sys.stderr)
    print(f"raw_metrics rows: {rows}")
    for t, tables in plan:
        walls = [r["wall_s"] for r in runs if r["threads"] == t and r["intermediate_tables"] == tables]
        print(f"threads {t}{', intermediate as tables' if tables else ''}: dbt build {min(walls):.1f} s best, "
              f"{max(walls):.1f} s worst of {len(walls)}")
    out = args.out or args.work / "results.json"
    out.write_text(json.dumps({"raw_rows": rows, "runs": runs, "extras": extras}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
