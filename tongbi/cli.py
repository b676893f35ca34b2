"""`tongbi`: extract statistics from bulletins and build the warehouse."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .run.pipeline import RunOptions

DEFAULT_MAX_SHARE = 0.20   # tongbi/run/quarantine.py's; not imported here: --help stays fast


def _progress(enabled: bool):
    def show(i: int, n: int, path: Path) -> None:
        if enabled:
            print(f"\r  extracting {i}/{n} {path.name[:40]:<40}", end="" if i < n else "\n",
                  file=sys.stderr, flush=True)
    return show


def cmd_extract(args: argparse.Namespace) -> int:
    import csv

    from loaders.corpus import UNRESOLVED_COLUMNS, extract_corpus, unresolved_report
    from loaders.seedlines import write_mentions_csv   # not loaders.seeds: no polars to import
    from loaders.vocabulary import load_vocabulary

    from loaders.corpus import default_workers

    workers = default_workers() if args.workers == 0 else args.workers
    result = extract_corpus(args.paths, load_vocabulary(), args.year, _progress(sys.stderr.isatty()),
                            workers=workers)
    write_mentions_csv(result.csv_parts, args.out)
    unresolved = unresolved_report(result.mentions)
    if args.unresolved:
        with args.unresolved.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=UNRESOLVED_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(unresolved)
    if unresolved:
        print(f"unresolved names ({len(unresolved)}; the most frequent; add them to seeds/*_aliases.csv):",
              file=sys.stderr)
        for r in unresolved[:10]:
            print(f"  {r['name_kind']:<8} {r['raw_name']:<14} ×{r['n_mentions']}  e.g. {r['example_doc_id']}: "
                  f"{str(r['example_quote'])[-40:]}", file=sys.stderr)
    for r in result.rejected:
        where = f"{r['path']}:{r['line']}" if r["line"] else r["path"]
        print(f"rejected {where}: {r['reason']}", file=sys.stderr)
    print(f"{len(result.mentions)} statistics from {len(result.documents)} documents → {args.out}"
          + (f" ({len(result.rejected)} rejected)" if result.rejected else ""))
    return 0 if result.documents or not result.rejected else 1


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (0 or more)")
    return n


def _interval(text: str) -> float:
    from .run.schedule import parse_interval

    try:
        return parse_interval(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of runs (1 or more)")
    return int(text)


def _share(text: str) -> float:
    from .run.quarantine import parse_share

    try:
        return parse_share(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    if args.log_format == "json":
        from .run.summary import JsonLines

        # stderr carries JSON objects only: whatever else is printed there becomes a message event
        sys.stderr = JsonLines(sys.stderr)  # main() puts the original back
    if args.every is None:
        # dbt imports itself (≈ 2–3 s, in a process of its own) from here, not after this
        # process has imported the pipeline (≈ 0.5 s): an incremental run waits for dbt
        from .run.build import DbtWorker

        worker = DbtWorker()
        try:
            from .run.pipeline import run

            return run(_run_options(args), worker=worker, own_worker=True)
        finally:
            worker.close()
    from .run.schedule import ScheduleOptions, schedule

    return schedule(_run_options(args), ScheduleOptions(args.every, args.runs), argv=args.argv)


def _run_options(args: argparse.Namespace) -> "RunOptions":
    from .run.pipeline import RunOptions

    return RunOptions(paths=args.paths, warehouse=args.warehouse, year=args.year,
                      progress=not args.quiet and args.log_format == "text", force=args.force,
                      skip_unchanged=args.skip_unchanged, wait=args.wait, log_format=args.log_format,
                      strict=args.strict, max_quarantine=args.max_quarantine)


def cmd_export(args: argparse.Namespace) -> int:
    from .serving.export import export_parquet

    result = export_parquet(args.warehouse, args.parquet, schemas=args.schema)
    for f in result.files:
        print(f"  {f.relation:<34} {f.rows:>8} rows  {f.path}")
    print(f"{len(result.files)} tables from {result.warehouse} (run {result.run_id or '?'}) → {result.out_dir}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import ReportOptions, build_report

    result = build_report(ReportOptions(warehouse=args.warehouse, out_dir=args.out))
    font = f"font {result.font.family} ({result.font.source})" if result.font else "no CJK font"
    print(f"{result.n_metrics} metrics, {len(result.images)} charts, {result.n_mentions} mentions; {font}")
    print(f"Report: {result.index.resolve()}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serving.serve import ServeOptions, serve

    return serve(ServeOptions(warehouse=args.warehouse, host=args.host, port=args.port, data_dir=args.data_dir))


def cmd_publish_postgres(args: argparse.Namespace) -> int:
    from .serving.postgres import publish_to_postgres

    result = publish_to_postgres(args.warehouse, args.dsn, readers=args.reader or ["tongbi"])
    print(result.describe())
    for note in result.notes:
        print(f"  {note}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tongbi", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tongbi {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="documents → raw_metrics CSV; nothing else is touched")
    p.add_argument("paths", nargs="+", type=Path, help="files, or folders of .md/.txt bulletins")
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.add_argument("--year", type=int, help="reference year for documents that give none")
    p.add_argument("--unresolved", type=Path, help="also write the unresolved-names report to this CSV")
    p.add_argument("--workers", type=_workers, default=1, metavar="N",
                   help="extraction processes (0: one per core, or TONGBI_WORKERS); the output is the "
                        "same for any N (default 1: a pool's start-up costs more than a few hundred bulletins take)")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("run", help="extract → seeds → dbt build → expectations → publish")
    p.add_argument("paths", nargs="*", type=Path, help="bulletins (default: the bundled samples)")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"))
    p.add_argument("--year", type=int, help="reference year for documents that give none")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--force", action="store_true",
                   help="extract every document and rebuild even when nothing changed")
    p.add_argument("--skip-unchanged", action="store_true",
                   help="when nothing changed, leave the published file byte-identical (the run joins "
                        "run_history at the next publish) instead of republishing it with this run recorded")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="wait this long for another run of the same warehouse (default: exit at once, code 5) "
                        "and for the project's build lock (default 600 s)")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="json: one JSON object per line on stderr (stage events, rejects, gate, summary)")
    p.add_argument("--strict", action="store_true",
                   help="any failed error-level check blocks publishing (exit 4, the published file "
                        "byte-identical) instead of quarantining the documents that break it")
    p.add_argument("--max-quarantine", type=_share, default=DEFAULT_MAX_SHARE, metavar="SHARE",
                   help="fail the run (exit 4) rather than quarantine more than this share of its documents, "
                        "as 0.2 or 20%% (default 20%%). A publish with quarantined documents exits 0; the "
                        "JSON run_end event's `quarantined` (and run_history.documents_quarantined) counts them")
    p.add_argument("--every", type=_interval, metavar="INTERVAL",
                   help="the scheduled job in one process: run now and then every INTERVAL (90s, 30m, 2h, 1d), "
                        "keeping dbt and Great Expectations loaded between runs; a failed run is reported and "
                        "the next tick runs; SIGTERM ends it between runs; --force applies to the first run only")
    p.add_argument("--runs", type=_positive, metavar="N", help="with --every: end after N runs (the last run's exit code)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("export", help="the published warehouse's marts (and bi views) → Parquet files")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"), help="opened read-only")
    p.add_argument("--parquet", type=Path, required=True, metavar="DIR",
                   help="folder to write <schema>/<table>.parquet into (replaced as a whole)")
    p.add_argument("--schema", action="append", choices=("main", "bi"),
                   help="schemas to export (default: main marts and bi views)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="the published warehouse → a static HTML report with PNG charts")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"), help="opened read-only")
    p.add_argument("--out", type=Path, help="folder for index.html and img/ (default: reports/ beside the warehouse)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("serve", help="a local PostgreSQL serving copy of the warehouse that follows its publishes "
                                     "(read-only role tongbi, password from TONGBI_PASSWORD)")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"), help="opened read-only")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5433, help="TCP port (default 5433)")
    p.add_argument("--data-dir", type=Path,
                   help="the cluster's folder (default .tongbi-pg/ beside the warehouse)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("publish-postgres", help="load the marts and bi views into an existing PostgreSQL, "
                                                "swapped in atomically")
    p.add_argument("--dsn", required=True, help="libpq URL or key=value string; the user must be able to create schemas")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"), help="opened read-only")
    p.add_argument("--reader", action="append", metavar="ROLE",
                   help="role granted read access (repeatable; default tongbi, skipped when it does not exist)")
    p.set_defaults(func=cmd_publish_postgres)
    return parser


def _exit_without_teardown(code: int) -> None:
    """End a `tongbi run` process once everything is written: the interpreter's teardown of
    Great Expectations, pandas and dbt's modules takes ~0.8 s, 5 % of an incremental run."""
    import logging
    import os

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _collect_less_often() -> None:
    """Python's cyclic collector runs every 700 net allocations by default, and its older
    generations hold the long-lived objects of pandas, polars, DuckDB and GX (hundreds of
    thousands once GX is imported), which it walks again and again. 50,000 cut a +1 run into 10k
    documents by ≈ 0.7 s (extract and gate, BENCHMARKS.md); what this process allocates and drops
    in cycles is still collected, later. A scheduled process also collects after every run."""
    import gc

    gc.set_threshold(50_000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "runs", None) is not None and args.every is None:
        parser.error("--runs needs --every")
    args.argv = list(sys.argv[1:] if argv is None else argv)   # a scheduled run re-executes itself with them
    if argv is None:   # a process of its own, not main([...]) in a test
        _collect_less_often()
        if args.func is cmd_run:
            _exit_without_teardown(_main(args))
    return _main(args)


def _main(args: argparse.Namespace) -> int:
    stderr = sys.stderr
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("tongbi: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one-line reason; TONGBI_DEBUG=1 shows the traceback
        import os

        from .errors import TongbiError

        if os.environ.get("TONGBI_DEBUG"):
            raise
        if isinstance(exc, TongbiError):
            print(f"tongbi: {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"tongbi: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if sys.stderr is not stderr:  # --log-format json wrapped it
            getattr(sys.stderr, "close_line", sys.stderr.flush)()
            sys.stderr = stderr


if __name__ == "__main__":
    sys.exit(main())
