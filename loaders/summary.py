"""The summary `tongbi run` prints after publishing: tables, checks, the file, an example query."""
from __future__ import annotations

from pathlib import Path

import duckdb


def format_rows(columns: list[str], rows: list[tuple[object, ...]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]

    def width(s: str) -> int:  # CJK characters take two terminal columns
        return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in s)

    widths = [max(width(c), *(width(r[i]) for r in cells)) if cells else width(c) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v + " " * (w - width(v)) for v, w in zip(vals, widths)).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    tables = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema not in ('information_schema', 'pg_catalog') order by table_schema, table_name"
    ).fetchall()
    out = []
    for schema, name, kind in tables:
        if kind != "BASE TABLE":
            continue
        n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        out.append((schema, name, n))
    return out


def print_summary(warehouse: Path, gate: object, stages: dict[str, float], n_docs: int, n_rejected: int,
                  n_mentions: int, example_sql: str, docs_dir: Path | None) -> None:
    from .quality import format_gate_table

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts = table_counts(con)
        cur = con.execute(example_sql)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    print(f"\ntongbi: {n_docs} documents ({n_rejected} rejected), {n_mentions} statistics")
    print("stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items()))
    print("\nTables")
    print(format_rows(["schema", "table", "rows"], counts))
    print("\nQuality gate")
    print(format_gate_table(gate))
    if docs_dir is not None and (docs_dir / "index.html").exists():
        print(f"Data Docs: {docs_dir / 'index.html'}")
    print(f"\nPublished warehouse: {warehouse}")
    print("\nExample query:\n" + example_sql + "\n")
    print(format_rows(cols, rows))
