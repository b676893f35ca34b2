"""The PostgreSQL serving copy: the marts (and the `bi` views) of a published warehouse, loaded
into PostgreSQL for BI tools that speak only the Postgres protocol.

`publish_to_postgres(warehouse, dsn)` reads the warehouse read-only and replaces what PostgreSQL
serves in ONE transaction, so a reader never sees half a publish:

* schema `tongbi` holds the marts of DuckDB's `main` (fct_*, dim_*, conflicts, unresolved_names,
  audit_results, run_history, quarantine when present) and `tongbi.publication`, one row saying which
  warehouse file and run the copy holds;
* schema `bi` holds the views of DuckDB's schema `bi` (dbt's `main_bi` is read too), loaded as
  tables, when the warehouse has any.

Two ways to swap, chosen per publish:

* **in place**, when the tables and their columns are those PostgreSQL already serves (every
  publish but the first after a change of models): in one transaction, every table is emptied
  with DELETE and refilled by COPY. DELETE is MVCC-safe (TRUNCATE is not): a statement sees all
  the old rows of every table or all the new ones, a REPEATABLE READ transaction keeps seeing
  the old version to its end, and nobody waits for anybody.
* **new schemas**, when the layout changed: the tables are built in fresh schemas, then the old
  schemas are renamed away and the new ones renamed into place, in the same transaction. Renaming
  a schema locks none of its tables, and a statement looks each table name up when it first opens
  it, so a reader's statement could read `publication` from the old schema and a fact table from
  the new one. Before renaming, the publisher therefore takes ACCESS EXCLUSIVE locks on every
  table served now: it waits for statements and transactions already reading them, and readers
  that arrive meanwhile wait on the old tables and, once it commits, look their names up again and
  read the new ones. It asks for the locks with a short lock_timeout and starts over on a timeout
  (a reader holding one table and wanting another must not deadlock with it), for at most
  `lock_wait_s`; then the publish fails and nothing changes. A REPEATABLE READ transaction that
  spans this swap sees the new tables empty (PostgreSQL shows no rows committed after its
  snapshot). The old schemas are dropped after the commit unless readers still hold them (then at
  the next publish).

The read-only role (`tongbi` by default) gets USAGE on the schemas and SELECT on the tables, and
nothing else. Concurrent publishers queue on an advisory lock.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from tongbi.errors import TongbiError
from tongbi.serving.export import MART_PREFIXES, MART_TABLES

READER_ROLE = "tongbi"
# DuckDB schema → the PostgreSQL schema that serves it
PUBLIC_SCHEMAS = {"main": "tongbi", "bi": "bi"}
DEFAULT_SCHEMAS = ("main", "bi")
BI_SOURCES = ("bi", "main_bi")   # dbt names a custom schema `bi` main_bi unless told otherwise
PUBLICATION = "publication"
RETIRED_PREFIX = "_tongbi_retired_"
NEXT_PREFIX = "_tongbi_next_"
LOCK_KEY = 7_406_520_251   # pg_advisory_xact_lock: one publisher at a time per database
BATCH_ROWS = 5000
DROP_LOCK_TIMEOUT = "2s"
SWAP_LOCK_WAIT_S = 30.0    # how long a new-schemas swap waits for readers of the old tables
SWAP_LOCK_TRY = "100ms"    # each try at the locks: well below deadlock_timeout (1 s by default)

PUBLICATION_COLUMNS = [
    ("published_at", "timestamp with time zone", "When this copy was published to PostgreSQL."),
    ("run_id", "text", "The `tongbi run` that built the warehouse (audit_results.run_id)."),
    ("warehouse", "text", "The DuckDB file the copy was read from."),
    ("warehouse_modified", "timestamp with time zone", "Its modification time at publish."),
    ("warehouse_bytes", "bigint", "Its size in bytes at publish."),
    ("n_tables", "integer", "Tables published (this one excluded)."),
    ("n_rows", "bigint", "Rows published in them."),
]


class PostgresPublishError(TongbiError):
    """The warehouse could not be read or PostgreSQL refused the publish: what it served is
    unchanged."""
    exit_code = 1


# ------------------------------------------------------------------------------------- layout


@dataclass
class Column:
    name: str
    duck_type: str
    pg_type: str        # as PostgreSQL's format_type() spells it, so layouts compare as text
    expr: str           # the DuckDB select expression that reads it
    comment: str | None = None


@dataclass
class Relation:
    source_schema: str
    name: str
    kind: str           # "table" or "view" in DuckDB; always a table in PostgreSQL
    comment: str | None
    columns: list[Column] = field(default_factory=list)


_SCALARS = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint", "SMALLINT": "smallint", "INTEGER": "integer", "BIGINT": "bigint",
    "UTINYINT": "smallint", "USMALLINT": "integer", "UINTEGER": "bigint",
    "UBIGINT": "numeric", "HUGEINT": "numeric", "UHUGEINT": "numeric", "VARINT": "numeric",
    "BIGNUM": "numeric",
    "FLOAT": "real", "DOUBLE": "double precision",
    "DATE": "date", "TIME": "time without time zone",
    "TIMESTAMP": "timestamp without time zone", "TIMESTAMP_S": "timestamp without time zone",
    "TIMESTAMP_MS": "timestamp without time zone", "TIMESTAMP_NS": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "TIME WITH TIME ZONE": "time with time zone",
    "INTERVAL": "interval", "VARCHAR": "text", "BLOB": "bytea", "UUID": "uuid",
    "JSON": "jsonb", "BIT": "text",
}


def quote_duck(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pg_column(name: str, duck_type: str) -> tuple[str, str]:
    """The PostgreSQL type of a DuckDB column and the DuckDB expression that reads it.

    Scalars map to their PostgreSQL peers, DECIMAL(p,s) to numeric(p,s), lists of scalars to
    arrays; structs, maps, nested lists and anything unknown become JSON (jsonb) or text.
    Text loses NUL characters, which PostgreSQL cannot store.
    """
    col = quote_duck(name)
    t = duck_type.strip().upper()
    if t in _SCALARS:
        pg = _SCALARS[t]
        if t == "VARCHAR":
            return pg, f"replace({col}, chr(0), '')"
        if t == "BIT":
            return pg, f"CAST({col} AS VARCHAR)"
        if t == "JSON":
            return pg, f"CAST({col} AS VARCHAR)"
        return pg, col
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return f"numeric({m.group(1)},{m.group(2)})", col
    if t.endswith("[]") and t[:-2] in _SCALARS and t[:-2] not in ("JSON", "BIT"):
        return _SCALARS[t[:-2]] + "[]", col
    if t.startswith(("STRUCT", "MAP", "UNION")) or t.endswith("[]") or re.search(r"\[\d+\]$", t):
        return "jsonb", f"CAST(to_json({col}) AS VARCHAR)"
    return "text", f"CAST({col} AS VARCHAR)"   # ENUM and whatever DuckDB adds next


def _is_mart(name: str) -> bool:
    return name.startswith(MART_PREFIXES) or name in MART_TABLES


def read_layout(con: Any, schemas: Iterable[str] = DEFAULT_SCHEMAS) -> dict[str, list[Relation]]:
    """The relations of the warehouse to serve, by PostgreSQL schema (schemas absent from the
    warehouse are left out), with their columns, types and dbt's comments."""
    db = con.execute("select current_database()").fetchone()[0]
    present = {r[0] for r in con.execute(
        "select schema_name from duckdb_schemas() where database_name = ?", [db]).fetchall()}
    layout: dict[str, list[Relation]] = {}
    for schema in schemas:
        if schema not in PUBLIC_SCHEMAS:
            raise PostgresPublishError(f"unknown schema {schema!r} (known: {', '.join(PUBLIC_SCHEMAS)})")
        sources = [schema] if schema == "main" else [s for s in BI_SOURCES if s in present][:1]
        if not sources or sources[0] not in present:
            continue
        source = sources[0]
        rels = con.execute("""
            select table_name, 'table', comment from duckdb_tables()
             where database_name = ? and schema_name = ? and not temporary
            union all
            select view_name, 'view', comment from duckdb_views()
             where database_name = ? and schema_name = ? and not internal and not temporary
            order by 1""", [db, source, db, source]).fetchall()
        relations = []
        for name, kind, comment in rels:
            if schema == "main" and not _is_mart(name):
                continue
            rel = Relation(source, name, kind, comment)
            for cname, ctype, ccomment in con.execute("""
                    select column_name, data_type, comment from duckdb_columns()
                     where database_name = ? and schema_name = ? and table_name = ?
                     order by column_index""", [db, source, name]).fetchall():
                pg_type, expr = pg_column(cname, ctype)
                rel.columns.append(Column(cname, ctype, pg_type, expr, ccomment))
            relations.append(rel)
        if relations:
            layout[PUBLIC_SCHEMAS[schema]] = relations
    if "tongbi" not in layout:
        raise PostgresPublishError("the warehouse holds no marts (fct_*, dim_* …) to serve")
    return layout


def _wanted(layout: dict[str, list[Relation]]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    out = {schema: {r.name: [(c.name, c.pg_type) for c in r.columns] for r in rels}
           for schema, rels in layout.items()}
    out["tongbi"][PUBLICATION] = [(n, t) for n, t, _ in PUBLICATION_COLUMNS]
    return out


def _served(cur: Any, schemas: Iterable[str]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """The tables PostgreSQL serves now in these schemas, with their columns and types."""
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    cur.execute("""
        select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
          from pg_namespace n
          left join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'p', 'v', 'm', 'f')
          left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         where n.nspname = any(%s)
         order by n.nspname, c.relname, a.attnum""", [list(schemas)])
    for schema, table, col, typ in cur.fetchall():
        tables = out.setdefault(schema, {})
        if table is not None:
            cols = tables.setdefault(table, [])
            if col is not None:
                cols.append((col, typ))
    return out


# ------------------------------------------------------------------------------------ publish


@dataclass
class PublishResult:
    warehouse: Path
    run_id: str | None
    mode: str                      # "in place" or "new schemas"
    tables: dict[str, int]         # "tongbi.fct_region_quarter" → rows
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def describe(self) -> str:
        return (f"published run {self.run_id or '?'} to PostgreSQL {self.mode}: "
                f"{len(self.tables)} tables, {self.rows} rows in {self.seconds:.1f}s")


def open_warehouse(path: Path) -> Any:
    """A read-only DuckDB connection to the warehouse file under the catalog name `warehouse`,
    whatever the file is called: dbt writes that name into the `bi` views it creates."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{str(path).replace(chr(39), chr(39) * 2)}' as warehouse (read_only)")
        con.execute("use warehouse")
    except BaseException:
        con.close()
        raise
    return con


def warehouse_run_id(con: Any, layout: dict[str, list[Relation]] | None = None) -> str | None:
    """The run that published the warehouse: the last published (or unchanged-republished) run of
    `run_history` when the warehouse keeps one, else the run that wrote `audit_results`."""
    layout = layout if layout is not None else read_layout(con, ("main",))
    tables = {r.name: {c.name for c in r.columns} for r in layout.get("tongbi", [])}
    queries = []
    if {"run_id", "status", "started_at"} <= tables.get("run_history", set()):
        queries.append("select run_id from main.run_history where status in ('published', 'unchanged') "
                       "order by started_at desc, run_id desc limit 1")
    if {"run_id", "checked_at"} <= tables.get("audit_results", set()):
        queries.append("select run_id from main.audit_results order by checked_at desc limit 1")
    for query in queries:
        row = con.execute(query).fetchone()
        if row and row[0]:
            return str(row[0])
    return None


def publish_to_postgres(warehouse: Path, dsn: str, schemas: Iterable[str] = DEFAULT_SCHEMAS,
                        readers: Iterable[str] = (READER_ROLE,),
                        log: Callable[[str], None] | None = None,
                        lock_wait_s: float = SWAP_LOCK_WAIT_S) -> PublishResult:
    """Load the marts (and `bi` views) of `warehouse` into the PostgreSQL at `dsn` and swap
    them in atomically; grant read access to `readers` (roles that do not exist are skipped).

    The DSN's user must be able to create schemas in its database. Raises
    PostgresPublishError; on any failure PostgreSQL keeps serving what it served before.
    """
    import psycopg
    from psycopg import sql

    t0 = time.perf_counter()
    warehouse = Path(warehouse).resolve()
    try:
        stat = warehouse.stat()
        con = open_warehouse(warehouse)
    except Exception as exc:  # noqa: BLE001 - a missing file, a file being replaced, not DuckDB
        raise PostgresPublishError(f"cannot read {warehouse}: {exc}") from exc
    notes: list[str] = []
    try:
        layout = read_layout(con, schemas)
        run_id = warehouse_run_id(con, layout)
        wanted = _wanted(layout)
        managed = [PUBLIC_SCHEMAS[s] for s in schemas]
        try:
            pg = psycopg.connect(dsn, autocommit=False, application_name="tongbi publish")
        except psycopg.Error as exc:
            raise PostgresPublishError(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
        with pg:
            try:
                with pg.cursor() as cur:
                    cur.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
                    roles = [r for r in readers if _role_exists(cur, r)]
                    notes += [f"role {r} does not exist: not granted" for r in readers if r not in roles]
                    served = _served(cur, managed)
                    in_place = {s: t for s, t in served.items() if s in managed} == wanted
                    counts: dict[str, int] = {}
                    retired: list[str] = []
                    token = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S%f")
                    for schema, rels in layout.items():
                        target = schema if in_place else NEXT_PREFIX + schema
                        if not in_place:
                            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(target)))
                            cur.execute(sql.SQL("create schema {}").format(sql.Identifier(target)))
                        for rel in rels:
                            counts[f"{schema}.{rel.name}"] = _load(cur, con, rel, target, in_place)
                    _publication(cur, "tongbi" if in_place else NEXT_PREFIX + "tongbi", in_place, warehouse,
                                 stat, run_id, counts)
                    if not in_place:
                        _lock_served(pg, cur, served, lock_wait_s)
                        for schema in managed:
                            if schema in served:
                                old = f"{RETIRED_PREFIX}{schema}_{token}"
                                cur.execute(sql.SQL("alter schema {} rename to {}").format(
                                    sql.Identifier(schema), sql.Identifier(old)))
                                retired.append(old)
                            if schema in layout:
                                cur.execute(sql.SQL("alter schema {} rename to {}").format(
                                    sql.Identifier(NEXT_PREFIX + schema), sql.Identifier(schema)))
                    for schema in layout:
                        _grant(cur, schema, roles)
                pg.commit()
            except psycopg.Error as exc:
                pg.rollback()
                raise PostgresPublishError(f"PostgreSQL refused the publish, nothing changed: {exc}".strip()) from exc
            notes += _after_commit(pg, list(layout), retired)
    finally:
        con.close()
    result = PublishResult(warehouse, run_id, "in place" if in_place else "new schemas", counts,
                           round(time.perf_counter() - t0, 3), notes)
    if log:
        log(result.describe())
        for note in notes:
            log(f"  {note}")
    return result


def _lock_served(pg: Any, cur: Any, served: dict[str, dict[str, list[tuple[str, str]]]],
                 wait_s: float) -> None:
    """ACCESS EXCLUSIVE locks on every table served now, held to the commit (module docstring:
    why a schema rename needs them)."""
    import psycopg
    from psycopg import sql

    tables = [sql.Identifier(schema, table) for schema, rels in served.items() for table in rels]
    if not tables:
        return
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with pg.transaction():   # a savepoint: a timed-out try releases what it had locked
                cur.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TRY)))
                cur.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.SQL(", ").join(tables)))
            cur.execute("set local lock_timeout = default")
            return
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() >= deadline:
                raise PostgresPublishError(
                    f"readers held the served tables for over {wait_s:g} s, so the new schemas could not be "
                    "swapped in; nothing changed (a client idle in a transaction holds its tables)") from None
            time.sleep(0.05)


def _role_exists(cur: Any, role: str) -> bool:
    cur.execute("select 1 from pg_roles where rolname = %s", [role])
    return cur.fetchone() is not None


def _load(cur: Any, con: Any, rel: Relation, schema: str, in_place: bool) -> int:
    """Fill one PostgreSQL table from DuckDB; returns its rows."""
    from psycopg import sql

    table = sql.Identifier(schema, rel.name)
    if in_place:
        cur.execute(sql.SQL("delete from {}").format(table))
    else:
        cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type))
                                  for c in rel.columns)
        cur.execute(sql.SQL("create table {} ({})").format(table, cols))
    cur.execute(sql.SQL("comment on table {} is {}").format(table, sql.Literal(rel.comment)))
    for c in rel.columns:
        cur.execute(sql.SQL("comment on column {}.{} is {}").format(
            table, sql.Identifier(c.name), sql.Literal(c.comment)))
    exprs = ", ".join(c.expr for c in rel.columns)
    result = con.execute(f"select {exprs} from {quote_duck(rel.source_schema)}.{quote_duck(rel.name)}")
    n = 0
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(
        table, sql.SQL(", ").join(sql.Identifier(c.name) for c in rel.columns))
    with cur.copy(copy_sql) as copy:
        while True:
            batch = result.fetchmany(BATCH_ROWS)
            if not batch:
                break
            for row in batch:
                copy.write_row(row)
            n += len(batch)
    return n


def _publication(cur: Any, schema: str, in_place: bool, warehouse: Path, stat: Any, run_id: str | None,
                 counts: dict[str, int]) -> None:
    from psycopg import sql

    table = sql.Identifier(schema, PUBLICATION)
    if in_place:
        cur.execute(sql.SQL("delete from {}").format(table))
    else:
        cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                                  for n, t, _ in PUBLICATION_COLUMNS)
        cur.execute(sql.SQL("create table {} ({})").format(table, cols))
        cur.execute(sql.SQL("comment on table {} is {}").format(
            table, sql.Literal("The warehouse file and run this PostgreSQL copy holds (one row).")))
        for n, _, comment in PUBLICATION_COLUMNS:
            cur.execute(sql.SQL("comment on column {}.{} is {}").format(table, sql.Identifier(n), sql.Literal(comment)))
    modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)
    cur.execute(sql.SQL("insert into {} values (now(), %s, %s, %s, %s, %s, %s)").format(table),
                [run_id, str(warehouse), modified, stat.st_size, len(counts), sum(counts.values())])


def _grant(cur: Any, schema: str, roles: list[str]) -> None:
    from psycopg import sql

    for role in roles:
        cur.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), sql.Identifier(role)))
        cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
            sql.Identifier(schema), sql.Identifier(role)))


def _after_commit(pg: Any, schemas: list[str], retired: list[str]) -> list[str]:
    """ANALYZE the served tables; drop retired schemas (this publish's and any a previous publish
    could not drop) unless readers still hold them. Never fails the publish."""
    import psycopg
    from psycopg import sql

    notes: list[str] = []
    pg.autocommit = True
    try:
        rows = pg.execute("select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                          "where n.nspname = any(%s) and c.relkind = 'r'", [schemas]).fetchall()
        for schema, table in rows:
            pg.execute(sql.SQL("analyze {}").format(sql.Identifier(schema, table)))
    except psycopg.Error as exc:
        notes.append(f"ANALYZE failed (harmless): {exc}")
    leftover = [r[0] for r in pg.execute("select nspname from pg_namespace where starts_with(nspname, %s)",
                                         [RETIRED_PREFIX]).fetchall()]
    for old in dict.fromkeys(retired + leftover):
        try:
            with pg.transaction():
                pg.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(DROP_LOCK_TIMEOUT)))
                pg.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(old)))
        except psycopg.errors.LockNotAvailable:
            notes.append(f"kept {old}: readers still use it; the next publish drops it")
        except psycopg.Error as exc:
            notes.append(f"could not drop {old}: {exc}")
    return notes
