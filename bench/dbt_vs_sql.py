"""(5) The marts at ~1M raw rows: `dbt build` against the same SQL run directly in DuckDB (the floor).

    python -m bench.dbt_vs_sql [--seeds DIR] [--rows 1000000] [--repeat 2] [--work DIR]

Setup (not timed, the same for both sides):

* a scratch copy of the dbt project (dbt_project.yml, profiles.yml, models/, macros/, seeds/)
  under --work, so that no shared target/ or seeds/ is touched;
* `raw_metrics` and `documents` of ~--rows rows made from the seeds of a real run (--seeds, by
  default the end-to-end worktree's, left there by `bench.run --e2e 10000`): replicated with
  polars, each replica with its doc ids suffixed (`#r<k>`) and every year (period_year,
  published, reference_year) shifted by a multiple of the corpus's year span, so replicas never
  share a statistic and each is as consistent as the original;
* those two tables are written straight into the DuckDB file with the duckdb client, typed as
  dbt_project.yml types the seeds (`dbt seed` would push 1M rows through agate, minutes); the
  small vocabulary seeds are loaded with `dbt seed`. The file is then copied, so every timed run
  starts from the same bytes.

Timed, each on a fresh copy of that file:

* (a) `dbt build --exclude resource_type:seed resource_type:test resource_type:unit_test`:
  every model, materialized as configured (staging/intermediate/bi views, marts tables);
  wall time of the dbt process, and the sum of its nodes' execution times (run_results.json);
* (a') with --tests, the same with the data tests (unit tests still excluded: they run on
  fixtures, not data);
* (b) the floor: the SQL dbt compiled for the same models (manifest.json `compiled_code`),
  each as `create or replace view|table <relation> as <sql>` in dependency order in one duckdb
  connection (views stay views, tables tables); (b') with --tests, plus every data test's compiled query,
  counted as dbt does (`select count(*) from (<test sql>)`).

dbt's extras that the floor skips, and that are counted in (a): process start and project
parsing, the `__dbt_tmp` + rename dance for tables, `COMMENT ON` for persist_docs, the
adapter's metadata queries and run_results/manifest writing.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).parent / "dbt")
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds")
LOADED = ("raw_metrics", "documents")     # written directly, not through `dbt seed`


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "TONGBI_BUILD_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET": "build"}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def dbt(project: Path, db: Path, *args: str) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run dbt; its wall seconds and CPU seconds (user + sys, all threads): on a shared machine
    the CPU time moves much less with the other load than the wall time does."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run([DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project),
                           "--target", "build", "--no-use-colors"], cwd=project, env=_env(db),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"dbt {' '.join(args)} failed ({proc.returncode})")
    return seconds, cpu, proc


def seed_types() -> dict[str, dict[str, str]]:
    import yaml
    cfg = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["seeds"]["tongbi"]
    return {name: cfg[name]["+column_types"] for name in LOADED}


def replicate(seeds: Path, rows: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    types = seed_types()
    raw = pl.read_csv(seeds / "raw_metrics.csv", infer_schema=False)
    docs = pl.read_csv(seeds / "documents.csv", infer_schema=False)
    years = raw["period_year"].cast(pl.Int64, strict=False)
    span = int(years.max() - years.min() + 3)
    copies = max(1, round(rows / raw.height))

    def shift_date(col: str, k: int) -> pl.Expr:
        d = pl.col(col).str.to_date(strict=False)
        return pl.date(d.dt.year() + span * k, d.dt.month(), d.dt.day()).cast(pl.Utf8).alias(col)

    def copy(df: pl.DataFrame, k: int, year_cols: tuple[str, ...], date_cols: tuple[str, ...]) -> pl.DataFrame:
        if k == 0:
            return df
        exprs = [(pl.col("doc_id") + f"#r{k}").alias("doc_id")]
        exprs += [(pl.col(c).cast(pl.Int64, strict=False) + span * k).cast(pl.Utf8).alias(c) for c in year_cols]
        exprs += [shift_date(c, k) for c in date_cols]
        return df.with_columns(exprs)

    raw_all = pl.concat([copy(raw, k, ("period_year",), ("published",)) for k in range(copies)])
    docs_all = pl.concat([copy(docs, k, ("reference_year",), ("published",)) for k in range(copies)])
    if "path" in docs_all.columns:   # unique paths too, as unique files would have
        docs_all = docs_all.with_columns((pl.col("path") + "#" + pl.col("doc_id")).alias("path"))
    return raw_all, docs_all, copies


def load_direct(db: Path, name: str, df: pl.DataFrame, types: dict[str, str]) -> None:
    parquet = db.parent / f"{name}.parquet"    # no pyarrow here: hand the frame over as Parquet
    df.write_parquet(parquet)
    con = duckdb.connect(str(db))
    try:
        cols = ", ".join(f'cast(nullif("{c}", \'\') as {types.get(c, "varchar")}) as "{c}"' for c in df.columns)
        con.execute(f"create or replace table main.\"{name}\" as select {cols} from read_parquet('{parquet}')")
    finally:
        con.close()
    parquet.unlink()


def topo_models(manifest: dict) -> list[dict]:
    nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen or uid not in nodes:
            return
        seen.add(uid)
        for dep in nodes[uid]["depends_on"]["nodes"]:
            visit(dep)
        order.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    return [nodes[u] for u in order]


def floor(db: Path, manifest: dict, with_tests: bool) -> dict[str, float]:
    models = topo_models(manifest)
    tests = [v for v in manifest["nodes"].values() if v["resource_type"] == "test"] if with_tests else []
    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    per_model: dict[str, float] = {}
    for m in models:
        t1 = time.perf_counter()
        kind = m["config"]["materialized"]
        rel = m["relation_name"]
        if m["schema"] != "main":
            con.execute(f'create schema if not exists "{m["database"]}"."{m["schema"]}"')
        if kind == "view":
            con.execute(f"create or replace view {rel} as {m['compiled_code']}")
        elif kind == "table":
            con.execute(f"create or replace table {rel} as {m['compiled_code']}")
        else:
            raise SystemExit(f"{m['unique_id']}: materialization {kind} not handled")
        per_model[m["name"]] = time.perf_counter() - t1
    t_models = time.perf_counter() - t0
    failures = 0
    for t in tests:
        failures += con.execute(f"select count(*) from ({t['compiled_code']}) dbt_internal_test").fetchone()[0] > 0
    total = time.perf_counter() - t0
    con.close()
    return {"models_s": round(t_models, 2), "tests_s": round(total - t_models, 2), "total_s": round(total, 2),
            "n_models": len(models), "n_tests": len(tests), "failing_tests": int(failures),
            "slowest": [[k, round(v, 2)] for k, v in sorted(per_model.items(), key=lambda kv: -kv[1])[:8]]}


def node_seconds(project: Path) -> dict[str, float]:
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    out: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        out[kind] = round(out.get(kind, 0) + r["execution_time"], 2)
    out["n_nodes"] = len(results)
    out["slowest"] = [[r["unique_id"].split(".")[-1], round(r["execution_time"], 2)]
                      for r in sorted(results, key=lambda r: -r["execution_time"])[:8]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=Path, default=Path("/tmp/tongbi-bench/e2e-worktree/worktree/seeds"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tongbi-bench/dbt-vs-sql"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--tests", action="store_true", help="also compare with the data tests (slow at 1M rows)")
    args = ap.parse_args(argv)

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    project = work / "project"
    project.mkdir(parents=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, project / part)
    # the loader's seeds: the run's (tiny) rejected_documents; raw_metrics/documents header only
    # (dbt must know the seed nodes; their data is loaded directly below)
    shutil.copy2(args.seeds / "rejected_documents.csv", project / "seeds" / "rejected_documents.csv")
    # the texts of the run's documents (not of their copies: with --tests, quotes_match_text
    # reports the copies' mentions)
    shutil.copy2(args.seeds / "document_texts.csv", project / "seeds" / "document_texts.csv")
    for name in LOADED:
        header = (args.seeds / f"{name}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        (project / "seeds" / f"{name}.csv").write_text(header + "\n", encoding="utf-8")

    t0 = time.perf_counter()
    raw, docs, copies = replicate(args.seeds, args.rows)
    print(f"raw_metrics {raw.height} rows, documents {docs.height} ({copies} copies of {args.seeds}), "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    # every dbt invocation uses the same file path (TONGBI_BUILD_PATH), as `tongbi run` does: a
    # changed path would make dbt re-parse the whole project instead of its partial parse
    side_dir = work / "side"
    side_dir.mkdir()
    db = side_dir / "warehouse.duckdb"           # catalog "warehouse", as the build target's
    seconds, _, _ = dbt(project, db, "seed", "--exclude", *LOADED)
    types = seed_types()
    load_direct(db, "raw_metrics", raw, types["raw_metrics"])
    load_direct(db, "documents", docs, types["documents"])
    del raw, docs
    base = work / "base.duckdb"
    shutil.copy2(db, base)
    print(f"base file: vocabulary seeds by dbt seed ({seconds:.1f} s), raw_metrics/documents direct", file=sys.stderr)
    dbt(project, db, "compile", "--exclude", "resource_type:seed")
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    parse_s, _, _ = dbt(project, db, "parse")
    print(f"dbt parse (partial, warm): {parse_s:.1f} s", file=sys.stderr)

    variants: list[tuple[str, tuple[str, ...] | None]] = [
        ("dbt models", ("resource_type:seed", "resource_type:test", "resource_type:unit_test")),
        ("sql models", None)]
    if args.tests:
        variants += [("dbt models+tests", ("resource_type:seed", "resource_type:unit_test")),
                     ("sql models+tests", None)]
    runs: list[dict[str, object]] = []
    for rep in range(args.repeat):
        for label, excl in variants:
            shutil.copy2(base, db)
            load = _loadavg()
            if excl is not None:
                wall, cpu, _ = dbt(project, db, "build", "--exclude", *excl)
                r = {"label": label, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     **node_seconds(project)}
            else:
                t0, c0 = time.perf_counter(), time.process_time()
                f = floor(db, manifest, with_tests=label.endswith("tests"))
                r = {"label": label, "wall_s": round(time.perf_counter() - t0, 2),
                     "cpu_s": round(time.process_time() - c0, 2), **f}
            r["loadavg"] = load
            r["repeat"] = rep
            runs.append(r)
            print(f"  {label:<18} {r['wall_s']:7.1f} s  load {load}  {r}", file=sys.stderr)

    def best(label: str) -> float:
        return min(float(r["wall_s"]) for r in runs if r["label"] == label)

    def best_cpu(label: str) -> float:
        return min(float(r["cpu_s"]) for r in runs if r["label"] == label)

    ratio_models = best("dbt models") / best("sql models")
    model_nodes = min(float(r["model"]) for r in runs if r["label"] == "dbt models")
    summary = {"raw_rows": int(duckdb.connect(str(base), read_only=True)
                               .execute("select count(*) from raw_metrics").fetchone()[0]),
               "copies": copies, "dbt_parse_s": round(parse_s, 2), "runs": runs,
               "ratio_models": round(ratio_models, 2),
               "ratio_models_node_time": round(model_nodes / best("sql models"), 2),
               "ratio_models_cpu": round(best_cpu("dbt models") / best_cpu("sql models"), 2)}
    print(f"at {summary['raw_rows']} raw rows: dbt models {best('dbt models'):.1f} s (node time {model_nodes:.1f} s) "
          f"vs SQL {best('sql models'):.1f} s: {ratio_models:.2f}x (node time only "
          f"{summary['ratio_models_node_time']:.2f}x; target <= 1.5x; best of {args.repeat}); CPU seconds "
          f"{best_cpu('dbt models'):.1f} vs {best_cpu('sql models'):.1f}: {summary['ratio_models_cpu']:.2f}x")
    if args.tests:
        ratio_tests = best("dbt models+tests") / best("sql models+tests")
        summary["ratio_models_tests"] = round(ratio_tests, 2)
        print(f"with the data tests: dbt {best('dbt models+tests'):.1f} s vs SQL {best('sql models+tests'):.1f} s: "
              f"{ratio_tests:.2f}x")
    out = args.out or work / "results.json"
    out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
