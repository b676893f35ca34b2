"""The PostgreSQL serving copy: `tongbi serve` and `publish_to_postgres`.

* `tongbi serve` (a subprocess, on a free port of 127.0.0.1) opens its port only once the marts
  are published (a client connecting the moment it answers finds them), serves the marts to
  psycopg and to psql, refuses every write and DDL of the read-only role, refuses to start without
  TONGBI_PASSWORD, follows a warehouse replaced under it without a restart, and stops cleanly on
  SIGTERM;
* psql keeps querying it while a real `tongbi run` publishes a new warehouse (the issue's "done");
* `publish_to_postgres` into a cluster of the test's own: while publishes alternate between two
  versions of the warehouse, reader threads see no error and only complete versions; a REPEATABLE
  READ transaction keeps its version; a change of layout swaps new schemas in once the readers of
  the old tables are done (or fails, changing nothing, when one holds them too long); the `bi`
  views are served as tables.

Needs PostgreSQL's server binaries (Debian: `postgresql`; `.ci/run` installs them) and psycopg;
skips with a message without them. One `tongbi run` builds the base warehouse (~45 s) and one
more is the concurrent run of the acceptance test (~45 s); the rest takes about 20 s.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tongbi.serving.postgres import open_warehouse, read_layout, warehouse_run_id
from tongbi.serving.serve import find_bindir

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e .)")

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"
PASSWORD = "t0ngbi test pass'word"
ENV = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", GX_ANALYTICS_ENABLED="false",
           PYTHONUNBUFFERED="1", TONGBI_LOCK_TIMEOUT="900")
ENV.pop("TONGBI_PASSWORD", None)
RUN_TIMEOUT_S = 900
WAIT_S = 90.0
PSQL = shutil.which("psql") or next((str(Path(d) / "psql") for d in [find_bindir()] if d and (Path(d) / "psql").exists()), None)

pytestmark = pytest.mark.skipif(
    find_bindir() is None,
    reason="PostgreSQL server binaries (postgres, initdb) not found: apt-get install postgresql "
           "(.ci/run does), or set TONGBI_PG_BINDIR")

VERSION_B = "test-version-b"
VERSION_C = "test-version-c"


def tongbi(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "tongbi.cli", *map(str, args)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Stop `tongbi serve` as a scheduler would: SIGTERM, then SIGKILL after a minute."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported if it never succeeds
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last!r})")


def counts_sql() -> str:
    return ("select (select run_id from tongbi.publication), (select count(*) from tongbi.fct_region_quarter), "
            "(select count(*) from tongbi.fct_industry_quarter)")


def reader_dsn(port: int, password: str = PASSWORD, user: str = "tongbi", dbname: str = "tongbi") -> str:
    return psycopg.conninfo.make_conninfo(host="127.0.0.1", port=port, user=user, dbname=dbname,
                                          password=password, connect_timeout=5)


def pg_folder() -> Path:
    """A folder for a cluster that the unprivileged service user can reach when the tests run as
    root (pytest's tmp_path sits under a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="tongbi-pg-test-"))
    folder.chmod(0o755)
    return folder


# ---------------------------------------------------------------------------------- warehouses


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> dict[str, Path]:
    """A: the bundled bulletins as `tongbi run` publishes them. B: A without 2024 in the two
    quarter facts (other row counts, run id test-version-b). C: A with another layout (a column
    more in dim_region) and one more view in schema `bi` (run id test-version-c)."""
    root = tmp_path_factory.mktemp("pg_versions")
    a = root / "a" / "warehouse.duckdb"
    a.parent.mkdir()
    proc = subprocess.run(tongbi("run", SAMPLES, "--warehouse", a, "--quiet"), cwd=PROJECT, env=ENV,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    b, c = root / "b" / "warehouse.duckdb", root / "c" / "warehouse.duckdb"  # dbt's bi views name the catalog
    for path, run_id, statements in (
        (b, VERSION_B, ["delete from fct_region_quarter where year = 2024",
                        "delete from fct_industry_quarter where year = 2024"]),
        (c, VERSION_C, ["alter table dim_region add column note varchar", "create schema if not exists bi",
                        "create view bi.test_region_quarter as select metric_code, region_code, region_name_zh, "
                        "year, quarter, ytd_value / 1e8 as ytd_yi_yuan from main.fct_region_quarter",
                        "comment on view bi.test_region_quarter is 'Whole-economy figures in 亿元'"]),
    ):
        path.parent.mkdir()
        shutil.copy(a, path)
        con = duckdb.connect(str(path))
        try:
            old = warehouse_run_id(con)
            for statement in statements:
                con.execute(statement)
            for table in ("audit_results", "run_history"):  # the run id the copy reports
                if con.execute("select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?",
                               [table]).fetchone()[0]:
                    con.execute(f"update {table} set run_id = ? where run_id = ?", [run_id, old])
            con.execute("checkpoint")
            assert warehouse_run_id(con) == run_id
        finally:
            con.close()
    return {"A": a, "B": b, "C": c}


def duck_counts(path: Path) -> tuple[str, int, int]:
    con = open_warehouse(path)
    try:
        return (warehouse_run_id(con),) + con.execute(
            "select (select count(*) from fct_region_quarter), (select count(*) from fct_industry_quarter)").fetchone()
    finally:
        con.close()


# ------------------------------------------------------------------------------------ tongbi serve


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, warehouse: Path, folder: Path, out: Path) -> None:
        self.proc, self.port, self.warehouse, self.folder, self.out = proc, port, warehouse, folder, out

    def output(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def connect(self, **kw):
        return psycopg.connect(reader_dsn(self.port), autocommit=True, **kw)

    def run_id(self) -> str | None:
        with self.connect() as pg:
            return pg.execute("select run_id from tongbi.publication").fetchone()[0]


@pytest.fixture(scope="module")
def served(versions, tmp_path_factory):
    """`tongbi serve` on a copy of warehouse A, until the module ends (then SIGTERM)."""
    root = tmp_path_factory.mktemp("served")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(versions["A"], warehouse)
    folder, port, out = pg_folder(), free_port(), root / "serve.out"
    with out.open("wb") as f:
        proc = subprocess.Popen(tongbi("serve", "--warehouse", warehouse, "--port", port, "--data-dir", folder),
                                cwd=PROJECT, env=dict(ENV, TONGBI_PASSWORD=PASSWORD), stdout=f,
                                stderr=subprocess.STDOUT)
    s = Served(proc, port, warehouse, folder, out)
    try:
        wait_for(lambda: proc.poll() is not None or s.run_id(), WAIT_S, "tongbi serve to publish")
        assert proc.poll() is None, s.output()
        yield s
    finally:
        if proc.poll() is None:
            stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def test_serve_refuses_to_start_without_a_password(tmp_path):
    folder = tmp_path / "pg"
    proc = subprocess.run(tongbi("serve", "--warehouse", tmp_path / "w.duckdb", "--port", free_port(),
                                 "--data-dir", folder), cwd=PROJECT, env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "TONGBI_PASSWORD" in proc.stderr
    assert not folder.exists()  # nothing was initialised


def test_a_client_connecting_the_moment_the_port_answers_finds_the_marts(versions, tmp_path):
    """A BI tool or health check started beside `tongbi serve`: psql (psycopg without it) tries
    to connect in a tight loop from the moment the command starts; the first connection that
    gets in reads fct_region_quarter (the port opens only once the first copy is in place)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(versions["A"], warehouse)
    expected = duck_counts(warehouse)
    folder, port, out = pg_folder(), free_port(), tmp_path / "serve.out"
    sql = "select count(*) from fct_region_quarter"
    with out.open("wb") as f:
        proc = subprocess.Popen(tongbi("serve", "--warehouse", warehouse, "--port", port, "--data-dir", folder),
                                cwd=PROJECT, env=dict(ENV, TONGBI_PASSWORD=PASSWORD), stdout=f,
                                stderr=subprocess.STDOUT)
    try:
        refused, deadline, got = 0, time.monotonic() + WAIT_S, None
        while got is None and time.monotonic() < deadline and proc.poll() is None:
            if PSQL:
                r = subprocess.run([PSQL, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql,
                                    f"host=127.0.0.1 port={port} dbname=tongbi user=tongbi connect_timeout=2"],
                                   env=dict(ENV, PGPASSWORD=PASSWORD), capture_output=True, text=True, timeout=30)
                if r.returncode == 2 and "connection" in r.stderr.lower():   # could not connect (yet)
                    refused += 1
                    continue
                assert r.returncode == 0, r.stderr
                got = int(r.stdout.strip())
            else:
                try:
                    pg = psycopg.connect(reader_dsn(port), autocommit=True)
                except psycopg.OperationalError:
                    refused += 1
                    time.sleep(0.01)
                    continue
                with pg:
                    got = pg.execute(sql).fetchone()[0]
        assert proc.poll() is None, out.read_text(encoding="utf-8", errors="replace")
        assert got == expected[1] and got > 0, (got, expected)
        assert refused > 0  # it was tried before the server listened, and was refused, not served empty
        printed = wait_for(lambda: (lambda t: "connect: postgresql://" in t and t)(
            out.read_text(encoding="utf-8", errors="replace")), 30, "the address to be printed")
        assert printed.index("published run") < printed.index("connect: postgresql://"), printed
    finally:
        stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def test_psycopg_reads_the_marts_with_types_and_comments(served):
    with served.connect() as pg:
        (value, share, end, derived), = pg.execute("""
            select ytd_value, share_pct_reported, quarter_end_date, is_derived from fct_region_quarter
             where metric_code = 'external_funds' and region_name_zh = '北疆地区' and year = 2025 and quarter = 1
            """).fetchall()
        assert round(value / 1e8, 2) == 909.41 and share == pytest.approx(56.27)
        assert str(end) == "2025-03-31" and derived is False
        types = dict(pg.execute("""select column_name, data_type from information_schema.columns
                                    where table_schema = 'tongbi' and table_name = 'fct_region_quarter'""").fetchall())
        assert types["ytd_value"] == "double precision" and types["quarter_end_date"] == "date"
        assert types["is_derived"] == "boolean" and types["region_code"] == "text" and types["year"] == "integer"
        comment, = pg.execute("select col_description('tongbi.fct_region_quarter'::regclass, 5)").fetchone()
        assert comment == "Full official Chinese name of the region."
        tables = {r[0] for r in pg.execute(
            "select table_name from information_schema.tables where table_schema = 'tongbi'").fetchall()}
        assert {"fct_region_quarter", "fct_industry_quarter", "fct_metric_mentions", "dim_region", "dim_metric",
                "conflicts", "unresolved_names", "audit_results", "publication"} <= tables
        assert not any(t.startswith(("stg_", "int_")) for t in tables)


@pytest.mark.skipif(PSQL is None, reason="psql not found (apt-get install postgresql-client)")
def test_psql_reads_the_marts(served):
    proc = subprocess.run([PSQL, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
                           "select round((ytd_value / 1e8)::numeric, 2) from fct_region_quarter "
                           "where metric_code = 'external_funds' and region_code = 'XJN' and year = 2025 and quarter = 1",
                           f"host=127.0.0.1 port={served.port} dbname=tongbi user=tongbi"],
                          env=dict(ENV, PGPASSWORD=PASSWORD), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "909.41"


WRITES = [
    "insert into tongbi.dim_region (region_code) values ('X')",
    "update tongbi.fct_region_quarter set ytd_value = 0",
    "delete from tongbi.fct_region_quarter",
    "truncate tongbi.fct_region_quarter",
    "drop table tongbi.fct_region_quarter",
    "alter table tongbi.fct_region_quarter add column x int",
    "create table tongbi.x (a int)",
    "create table public.x (a int)",
    "create schema x",
    "create temporary table x (a int)",
    "create view tongbi.v as select 1",
    "comment on table tongbi.fct_region_quarter is 'x'",
    "create index on tongbi.dim_region (region_code)",
    "create function tongbi.f() returns int language sql as 'select 1'",
    "select lo_create(0)",
    "select lo_from_bytea(0, 'x')",
]


@pytest.mark.parametrize("read_write", [False, True], ids=["default", "after SET READ WRITE"])
def test_the_reader_role_cannot_write_or_change_anything(served, read_write):
    refused = []
    with served.connect() as pg:
        if read_write:  # the read-only default is a convenience; privileges refuse on their own
            pg.execute("set session characteristics as transaction read write")
            assert pg.execute("show transaction_read_only").fetchone()[0] == "off"
        else:
            assert pg.execute("show transaction_read_only").fetchone()[0] == "on"
        for statement in WRITES:
            try:
                pg.execute(statement)
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction) as exc:
                refused.append(type(exc).__name__)
            else:
                pytest.fail(f"the reader role could run: {statement}")
        assert pg.execute("select count(*) from fct_region_quarter").fetchone()[0] > 0
    if read_write:
        assert set(refused) == {"InsufficientPrivilege"}


def test_only_the_reader_role_with_its_password_connects(served):
    for dsn in (reader_dsn(served.port, password="wrong"),
                reader_dsn(served.port, user="tongbi_admin", password=""),
                reader_dsn(served.port, dbname="postgres")):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn).close()


def test_serve_follows_a_replaced_warehouse_without_restart(served, versions):
    with served.connect() as pg:  # a connection opened before the new publish keeps working
        assert pg.execute(counts_sql()).fetchone() == duck_counts(served.warehouse)
        tmp = served.warehouse.with_name("incoming.duckdb")
        shutil.copy(versions["B"], tmp)
        os.replace(tmp, served.warehouse)  # what `tongbi run` does when it publishes
        wait_for(lambda: pg.execute(counts_sql()).fetchone() == duck_counts(versions["B"]), 30,
                 "tongbi serve to publish version B")
    assert served.proc.poll() is None
    # the publish logs after its commit and the ANALYZE that follows: the readers may see it first
    wait_for(lambda: "in place" in served.output(), 30, "tongbi serve to report the publish")


@pytest.mark.skipif(PSQL is None, reason="psql not found (apt-get install postgresql-client)")
def test_psql_queries_tongbi_serve_while_tongbi_run_publishes(served, tmp_path):
    """The issue's acceptance: a real `tongbi run` over the served warehouse while psql queries."""
    before = served.run_id()
    log = tmp_path / "run.out"
    with log.open("wb") as f:
        run = subprocess.Popen(tongbi("run", SAMPLES, "--warehouse", served.warehouse, "--quiet", "--force"), cwd=PROJECT,
                               env=ENV, stdout=f, stderr=subprocess.STDOUT)
    conninfo = f"host=127.0.0.1 port={served.port} dbname=tongbi user=tongbi"
    sql = ("select run_id, (select count(*) from fct_region_quarter where metric_code = 'external_funds') "
           "from publication")
    seen: list[str] = []
    failures: list[str] = []
    ran_until = time.monotonic() + RUN_TIMEOUT_S
    after_run: float | None = None   # when the run ended: psql gets 30 s more to see its publish
    while time.monotonic() < ran_until:
        if after_run is None and run.poll() is not None:
            after_run = time.monotonic()
        if after_run is not None and (run.returncode != 0 or len(set(seen)) > 1
                                      or time.monotonic() > after_run + 30):
            break
        proc = subprocess.run([PSQL, "-X", "-A", "-t", "-F", " ", "-v", "ON_ERROR_STOP=1", "-c", sql, conninfo],
                              env=dict(ENV, PGPASSWORD=PASSWORD), capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            failures.append(proc.stderr.strip())
        else:
            seen.append(proc.stdout.strip().split(" ")[0])
        time.sleep(0.2)
    run.wait(RUN_TIMEOUT_S)
    assert run.returncode == 0, log.read_text(encoding="utf-8", errors="replace")[-2000:]
    assert not failures, failures[:3]
    versions_seen = list(dict.fromkeys(seen))
    assert versions_seen[0] == before and len(versions_seen) == 2, versions_seen  # old, then new: nothing else
    assert len(seen) > 20


def test_serve_stops_cleanly_on_sigterm(served):
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(60) == 0, served.output()
    out = served.output()
    assert "stopping PostgreSQL" in out and out.rstrip().endswith("stopped"), out
    assert not (served.folder / "data" / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(reader_dsn(served.port)).close()


# ---------------------------------------------------------------------------- publish_to_postgres


@pytest.fixture(scope="module")
def cluster():
    """A cluster of the test's own, to publish into through the admin socket."""
    from tongbi.serving.serve import Cluster, service_user

    folder = pg_folder()
    c = Cluster(folder, port=free_port(), user=service_user(lambda m: None), log=lambda m: None)
    try:
        with c:
            c.setup(PASSWORD)
            yield c
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_readers_see_only_complete_versions_while_publishes_swap(cluster, versions):
    from tongbi.serving.postgres import publish_to_postgres

    admin = cluster.admin_dsn()
    first = publish_to_postgres(versions["A"], admin)
    complete = {duck_counts(versions[v]) for v in ("A", "B", "C")}
    assert len({c[1:] for c in complete}) == 2  # B differs from A (and C) in both tables
    stop = threading.Event()
    seen: set[tuple] = set()
    errors: list[str] = []
    n_queries = [0]

    def reader() -> None:
        try:
            with psycopg.connect(reader_dsn(cluster.port), autocommit=True) as pg:
                while not stop.is_set():
                    row = pg.execute(counts_sql()).fetchone()
                    n_queries[0] += 1
                    seen.add(row)
                    if row not in complete:
                        errors.append(f"incomplete version {row}")
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        modes = [publish_to_postgres(versions[v], admin).mode for v in ("B", "A", "B", "A", "B")]
        assert modes == ["in place"] * 5
        # dim_region's columns differ between A and C: every publish swaps new schemas in
        assert [publish_to_postgres(versions[v], admin).mode for v in ("C", "A", "C", "A")] == ["new schemas"] * 4
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:5]
    assert {r[0] for r in seen} >= {first.run_id, VERSION_B}
    assert n_queries[0] > 20
    with psycopg.connect(admin) as pg:
        assert not pg.execute("select nspname from pg_namespace where nspname like '\\_tongbi\\_%'").fetchall()


def test_a_repeatable_read_transaction_keeps_its_version_during_a_publish(cluster, versions):
    from tongbi.serving.postgres import publish_to_postgres

    admin = cluster.admin_dsn()
    publish_to_postgres(versions["A"], admin)
    a, b = duck_counts(versions["A"]), duck_counts(versions["B"])
    with psycopg.connect(reader_dsn(cluster.port)) as pg:
        pg.execute("set transaction isolation level repeatable read")
        assert pg.execute(counts_sql()).fetchone() == a
        result = publish_to_postgres(versions["B"], admin)  # not blocked by the open reader
        assert result.mode == "in place"
        assert pg.execute(counts_sql()).fetchone() == a
        assert pg.execute("select count(*) from fct_region_quarter where year = 2024").fetchone()[0] > 0
        pg.commit()
        assert pg.execute(counts_sql()).fetchone() == b


def test_bi_views_are_served_as_tables_and_layout_changes_swap_schemas(cluster, versions):
    from tongbi.serving.postgres import PostgresPublishError, publish_to_postgres

    admin = cluster.admin_dsn()
    publish_to_postgres(versions["A"], admin)
    a = duck_counts(versions["A"])
    with psycopg.connect(reader_dsn(cluster.port), autocommit=False) as holder:
        # A reader in a transaction holds old tables: the swap waits for it (renaming a schema
        # locks no table, so without the wait a statement could mix old and new tables) …
        assert holder.execute("select run_id from tongbi.publication").fetchone()[0] == a[0]
        with pytest.raises(PostgresPublishError, match="readers held the served tables"):
            publish_to_postgres(versions["C"], admin, lock_wait_s=1)
        with psycopg.connect(reader_dsn(cluster.port), autocommit=True) as other:
            assert other.execute(counts_sql()).fetchone() == a  # … and a swap that gave up changed nothing
        done: list = []
        swap = threading.Thread(target=lambda: done.append(publish_to_postgres(versions["C"], admin, lock_wait_s=60)))
        swap.start()
        time.sleep(1.5)
        assert swap.is_alive() and not done
        # until the transaction ends, it reads the old tables only, whatever the publisher has built
        assert holder.execute(counts_sql()).fetchone() == a
        holder.rollback()
        swap.join(60)
    result = done[0]
    assert result.mode == "new schemas" and "bi.test_region_quarter" in result.tables
    with psycopg.connect(reader_dsn(cluster.port), autocommit=True) as pg:
        n, kind = pg.execute("select count(*), (select relkind from pg_class where oid = 'bi.test_region_quarter'::regclass) "
                             "from test_region_quarter").fetchone()
        assert n == duck_counts(versions["C"])[1] and kind == "r"
        assert pg.execute("select obj_description('bi.test_region_quarter'::regclass)").fetchone()[0] == "Whole-economy figures in 亿元"
        assert "note" in [r[0] for r in pg.execute("select column_name from information_schema.columns "
                                                   "where table_schema = 'tongbi' and table_name = 'dim_region'")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg.execute("set session characteristics as transaction read write")
            pg.execute("create table bi.x (a int)")
    result = publish_to_postgres(versions["A"], admin)  # back to A: its bi views, if any, and no test view
    assert result.mode == "new schemas" and not result.notes
    con = open_warehouse(versions["A"])
    try:
        a_has_bi = "bi" in read_layout(con)
    finally:
        con.close()
    with psycopg.connect(admin) as pg:
        schemas = {r[0] for r in pg.execute("select nspname from pg_namespace").fetchall()}
        assert ("bi" in schemas) == a_has_bi and "tongbi" in schemas
        assert not any(s.startswith("_tongbi_") for s in schemas)
        assert pg.execute("select to_regclass('bi.test_region_quarter')").fetchone()[0] is None


def test_publish_postgres_command_into_an_existing_server(cluster, versions, capsys):
    from tongbi.cli import main

    assert main(["publish-postgres", "--dsn", cluster.admin_dsn(), "--warehouse", str(versions["B"]),
                 "--reader", "tongbi", "--reader", "nobody_here"]) == 0
    out, err = capsys.readouterr()
    assert f"published run {VERSION_B}" in out and "role nobody_here does not exist" in err
    with psycopg.connect(reader_dsn(cluster.port)) as pg:
        assert pg.execute(counts_sql()).fetchone() == duck_counts(versions["B"])
    assert main(["publish-postgres", "--dsn", cluster.admin_dsn(), "--warehouse", str(versions["B"].with_name("no.duckdb"))]) == 1
    assert "cannot read" in capsys.readouterr().err
