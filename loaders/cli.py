"""`tongbi`: extract statistics from bulletins and build the warehouse."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__


def _progress(enabled: bool):
    def show(i: int, n: int, path: Path) -> None:
        if enabled:
            print(f"\r  extracting {i}/{n} {path.name[:40]:<40}", end="" if i < n else "\n",
                  file=sys.stderr, flush=True)
    return show


def cmd_extract(args: argparse.Namespace) -> int:
    import csv

    from .corpus import UNRESOLVED_COLUMNS, extract_corpus, unresolved_report
    from .seeds import raw_metrics_frame, write_csv
    from .vocabulary import load_vocabulary

    result = extract_corpus(args.paths, load_vocabulary(), args.year, _progress(sys.stderr.isatty()))
    write_csv(raw_metrics_frame(m.as_row() for m in result.mentions), args.out)
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


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import RunOptions, run

    return run(RunOptions(paths=args.paths, warehouse=args.warehouse, year=args.year,
                          progress=not args.quiet))


def cmd_report(args: argparse.Namespace) -> int:
    from .report import ReportOptions, build_report

    result = build_report(ReportOptions(warehouse=args.warehouse, out_dir=args.out))
    font = f"font {result.font.family} ({result.font.source})" if result.font else "no CJK font"
    print(f"{result.n_metrics} metrics, {len(result.images)} charts, {result.n_mentions} mentions; {font}")
    print(f"Report: {result.index.resolve()}")
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
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("run", help="extract → seeds → dbt build → expectations → publish")
    p.add_argument("paths", nargs="*", type=Path, help="bulletins (default: the bundled samples)")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"))
    p.add_argument("--year", type=int, help="reference year for documents that give none")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="the published warehouse → a static HTML report with PNG charts")
    p.add_argument("--warehouse", type=Path, default=Path("warehouse.duckdb"), help="opened read-only")
    p.add_argument("--out", type=Path, help="folder for index.html and img/ (default: reports/ beside the warehouse)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
