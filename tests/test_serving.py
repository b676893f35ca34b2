"""Serving the warehouse while scheduled runs rebuild it: readers are never blocked.

DuckDB allows one writer or many readers per file. `tongbi run` never opens the published file for
writing: it builds `<name>.next.duckdb`, moves it to an immutable version file and swaps the
`warehouse.duckdb` symlink to it (tongbi/run/publish.py says why not a rename of the file), so a
reader that opened the old version keeps reading it, and a reader opening during the swap gets
the old or the new version, whole, however busy the machine. These tests check that with reader
processes (also with both CPUs saturated), through SQLAlchemy/duckdb-engine as Superset connects,
through the Parquet export, the `bi` views and MetricFlow.

Runtime: the sample site is built once per session (conftest.sample_site); the five runs under
four readers (conftest.five_runs, shared with tests/test_incremental.py) rebuild once (an
incremental dbt build) and then find nothing changed and republish (~2 s each); the readers
(tests/readers.py) pause between queries so as not to starve the runs, and are stopped once each
has made a set number of queries spanning the publishes, however fast the runs went.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import clone_site
from tongbi.cli import main
from readers import ENV, FiveRuns, start_readers, stop_readers, tongbi_run, versions

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def site(sample_site: Path, tmp_path: Path) -> Path:
    return clone_site(sample_site, tmp_path / "site")


# ---------------------------------------------------------------------------- readers and runs


def test_four_readers_query_through_five_runs_without_an_error(five_runs: FiveRuns) -> None:
    for proc in five_runs.procs:
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(five_runs.summaries) == 5
    print(f"run timings (s): {five_runs.timings}; reader queries: {[r['queries'] for r in five_runs.readers]}")
    for r in five_runs.readers:
        assert r["n_errors"] == 0, r["errors"]
        assert r["queries"] >= 50 and r["held_checks"] >= 2 and r["held_version"] == 1
    seen = set().union(*({int(v) for v in r["versions"]} for r in five_runs.readers))
    assert 6 in seen and len(seen) >= 3, seen  # the readers saw the publishes happen
    con = duckdb.connect(str(five_runs.site / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select status, mode from run_history order by started_at").fetchall()
    finally:
        con.close()
    # the second publish (a changed and a removed document) is an incremental build
    assert rows == [("published", "full"), ("published", "incremental")] + [("unchanged", "unchanged")] * 4
    assert five_runs.timings[0] > max(five_runs.timings[1:]) and max(five_runs.timings[1:]) < 20


def two_versions(site: Path, folder: Path) -> tuple[Path, Path]:
    """Copies of the site's warehouse: A as published, B with one more run_history row."""
    from tongbi.run.history import write_run_history

    folder.mkdir(parents=True, exist_ok=True)
    a, b = folder / "a.duckdb", folder / "b.duckdb"
    shutil.copy(site / "warehouse.duckdb", a)
    shutil.copy(site / "warehouse.duckdb", b)
    con = duckdb.connect(str(b), read_only=True)
    try:
        cur = con.execute("select * from run_history")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    write_run_history(b, rows + [dict(rows[0], run_id="another-version", started_at=dt.datetime(2030, 1, 1))])
    return a, b


def publish_alternately(wh: Path, a: Path, b: Path, n: int, pause: float = 0.02) -> None:
    from tongbi.run.publish import publish, staging_path

    staging = staging_path(wh)
    for i in range(n):
        shutil.copy(a if i % 2 else b, staging)
        publish(staging, wh, grace_s=2.0)
        time.sleep(pause)


def test_readers_opening_during_publishes_never_fail(site: Path, tmp_path: Path) -> None:
    """40 publishes of two alternating versions in quick succession (pipeline.publish: the link
    swap), while 2 readers open, query and close in a tight loop."""
    wh = site / "warehouse.duckdb"
    a, b = two_versions(site, tmp_path / "versions")
    procs, stop = start_readers(wh, tmp_path / "readers", 2, max_s=120, monotonic=False, pause=0.0)
    try:
        publish_alternately(wh, a, b, 40)
    finally:
        results = stop_readers(procs, stop)
    for r in results:
        assert r["n_errors"] == 0, r["errors"]
        assert {int(v) for v in r["versions"]} == {1, 2}, r["versions"]  # both versions, whole


BUSY_LOOP = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def test_readers_never_fail_with_every_cpu_saturated(site: Path, tmp_path: Path) -> None:
    """The failure seen on a loaded machine: with a busy loop on every core (bounded: 40 s),
    4 readers open, query and close the warehouse in a tight loop through 8 publishes of
    alternating versions. Each keeps one ATTACH open from the start, whose version is removed
    from disk meanwhile: it keeps reading it."""
    from tongbi.run.publish import current_version, remove_old_versions, versions as version_files

    wh = site / "warehouse.duckdb"
    a, b = two_versions(site, tmp_path / "versions")
    n_busy = max(2, os.cpu_count() or 2)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, "40"]) for _ in range(n_busy)]
    try:
        procs, stop = start_readers(wh, tmp_path / "readers", 4, max_s=120, monotonic=False, pause=0.0)
        try:
            time.sleep(1.0)   # the readers under load before the first publish
            publish_alternately(wh, a, b, 8, pause=0.5)
            time.sleep(1.0)
        finally:
            results = stop_readers(procs, stop, min_queries=25)   # one check of the held connection each
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(f"reader opens under load: {[r['queries'] for r in results]}")
    for r in results:
        assert r["n_errors"] == 0, r["errors"]
        assert {int(v) for v in r["versions"]} == {1, 2}, r["versions"]
        assert r["held_checks"] >= 1 and r["queries"] >= 8
    # the versions kept: all but those superseded longer than the grace period ago
    time.sleep(2.1)
    remove_old_versions(wh, grace_s=2.0)
    kept = version_files(wh)
    assert kept[-1] == current_version(wh) and len(kept) == 2, kept
    assert os.readlink(wh) == kept[-1].name  # a relative link: the folder can move


def small_database(path: Path, rows: int, tables: int) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute(f"create table t as select range as i, md5(range::varchar) as s from range({rows})")
        for k in range(tables):
            con.execute(f"create table x{k} as select range as i from range({k * 1000})")
        con.execute("checkpoint")
    finally:
        con.close()
    return path


def test_why_a_link_the_header_and_blocks_of_two_files_do_not_mix(tmp_path: Path) -> None:
    """What the design rests on, checked against the DuckDB installed. (1) DuckDB reads a file's
    12 KiB header through one open and its blocks through another: the header of one database
    with the blocks of another — what a reader got when the file was renamed between those
    opens — fails to load. (2) Through a symlink, DuckDB opens the file the link named when it
    resolved it, whatever the link names afterwards; it names the catalog after that file, up to
    the first dot of its name (so a version file must start with `warehouse.`: the `bi` views
    name the catalog `warehouse`)."""
    a = small_database(tmp_path / "warehouse.va.duckdb", 1000, 3)
    b = small_database(tmp_path / "warehouse.vb.duckdb", 200_000, 12)
    mixed = tmp_path / "mixed.duckdb"
    mixed.write_bytes(a.read_bytes()[:12288] + b.read_bytes()[12288:])
    with pytest.raises(duckdb.Error):
        con = duckdb.connect(str(mixed), read_only=True)
        try:
            con.execute("select count(*), sum(i) from t").fetchall()
        finally:
            con.close()
    link = tmp_path / "warehouse.duckdb"
    os.symlink(a.name, link)
    con = duckdb.connect(str(link), read_only=True)
    try:
        os.symlink(b.name, tmp_path / "next-link")
        os.replace(tmp_path / "next-link", link)   # swapped while open: the open one stays a
        ((name, path),) = con.execute("select database_name, path from duckdb_databases() "
                                      "where not internal and database_name <> 'memory'").fetchall()
        assert name == "warehouse" and Path(path) == a.resolve()
        assert con.execute("select count(*) from t").fetchall() == [(1000,)]
        # a new connection in the same process opens the version the link names now
        other = duckdb.connect(str(link), read_only=True)
        try:
            assert other.execute("select count(*) from t").fetchall() == [(200_000,)]
        finally:
            other.close()
    finally:
        con.close()


def test_a_connection_opened_before_a_publish_keeps_its_version(site: Path) -> None:
    wh = site / "warehouse.duckdb"
    old = duckdb.connect(str(wh), read_only=True)
    try:
        before = old.execute("select count(*), max(run_id) from run_history").fetchone()
        proc = tongbi_run(site)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # the old connection: the old version, whole (tables and bi views)
        assert old.execute("select count(*), max(run_id) from run_history").fetchone() == before
        assert old.execute("select count(*) from bi.region_quarter").fetchone()[0] > 0
        # a file opened afresh (here ATTACH: in this process, connect() would share the open
        # connection's database instance until it is closed) is the new version
        fresh = duckdb.connect(":memory:")
        try:
            fresh.execute(f"attach '{wh}' as wh (read_only)")
            after = fresh.execute("select count(*), max(run_id) from wh.run_history").fetchone()
        finally:
            fresh.close()
        assert after[0] == before[0] + 1 and after[1] > before[1]
    finally:
        old.close()
    new = duckdb.connect(str(wh), read_only=True)  # every connection to the old file is closed
    try:
        assert new.execute("select count(*), max(run_id) from run_history").fetchone() == after
    finally:
        new.close()


# ------------------------------------------------------------------------------- BI connectivity


def test_superset_connects_through_duckdb_engine_across_a_publish(site: Path) -> None:
    """Superset's recipe: SQLAlchemy URI duckdb:////path/warehouse.duckdb with engine parameters
    {"connect_args": {"read_only": true}}; Superset opens connections without a pool (NullPool)."""
    sa = pytest.importorskip("sqlalchemy")
    pytest.importorskip("duckdb_engine")
    from sqlalchemy.pool import NullPool

    wh = (site / "warehouse.duckdb").resolve()
    engine = sa.create_engine(f"duckdb:///{wh}", connect_args={"read_only": True}, poolclass=NullPool)
    try:
        insp = sa.inspect(engine)
        assert {"region_quarter", "industry_quarter", "month_ytd", "mentions"} <= set(insp.get_view_names(schema="bi"))
        columns = {c["name"]: c for c in insp.get_columns("region_quarter", schema="bi")}
        assert str(columns["quarter_end_date"]["type"]) == "DATE"
        assert "季末日期" in columns["quarter_end_date"]["comment"]
        assert all(c.get("comment") for c in columns.values()), [n for n, c in columns.items() if not c.get("comment")]
        sql = sa.text("select region_name_zh, region_name_en, ytd_value_yi_yuan from bi.region_quarter "
                      "where metric_code = 'external_funds' and quarter_end_date = date '2025-03-31' "
                      "and region_code = '650000'")
        with engine.connect() as conn:
            assert conn.execute(sql).fetchall() == [("新疆维吾尔自治区", "Xinjiang Uygur Autonomous Region", 1616.27)]
            n_before = conn.execute(sa.text("select count(*) from run_history")).scalar()
            proc = tongbi_run(site)  # the scheduled job, another process
            assert proc.returncode == 0, proc.stderr[-3000:]
            # a connection opened before the publish keeps its version
            assert conn.execute(sa.text("select count(*) from run_history")).scalar() == n_before
        with engine.connect() as conn:  # the next one (Superset's next query) sees the new one
            assert conn.execute(sa.text("select count(*) from run_history")).scalar() == n_before + 1
            assert conn.execute(sql).fetchall()[0][2] == 1616.27
    finally:
        engine.dispose()


def test_export_parquet_writes_every_mart_and_bi_view(site: Path, capsys) -> None:
    wh = site / "warehouse.duckdb"
    out = site / "parquet"
    assert main(["export", "--warehouse", str(wh), "--parquet", str(out)]) == 0
    manifest = json.loads((out / "_export.json").read_text(encoding="utf-8"))
    files = {(f["schema"], f["name"]): f["rows"] for f in manifest["files"]}
    for rel in [("main", "fct_region_quarter"), ("main", "dim_region"), ("main", "run_history"),
                ("main", "audit_results"), ("bi", "region_quarter"), ("bi", "mentions")]:
        assert rel in files, rel
    assert ("main", "raw_metrics") not in files and ("main", "stg_vocab__units") not in files
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for (schema, name), rows in files.items():
            assert con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0] == rows
            assert con.execute(f"select count(*) from read_parquet('{out / schema / (name + '.parquet')}')"
                               ).fetchone()[0] == rows
        types = {r[0]: r[1] for r in con.execute(
            f"describe select * from read_parquet('{out / 'bi' / 'region_quarter.parquet'}')").fetchall()}
    finally:
        con.close()
    assert types["quarter_end_date"] == "DATE"
    # a second export replaces the folder as a whole
    (out / "stale.parquet").write_bytes(b"x")
    assert main(["export", "--warehouse", str(wh), "--parquet", str(out), "--schema", "bi"]) == 0
    assert not (out / "stale.parquet").exists() and not (out / "main").exists()
    assert sorted(p.name for p in (out / "bi").glob("*.parquet")) == [
        "industry_quarter.parquet", "mentions.parquet", "month_ytd.parquet", "region_quarter.parquet"]


def test_bi_views_are_in_schema_bi_with_dates_yi_yuan_and_labels(sample_site: Path) -> None:
    con = duckdb.connect(str(sample_site / "warehouse.duckdb"), read_only=True)
    try:
        # a storage format the DuckDB 1.x engines inside BI drivers can read (profiles.yml)
        (tags,) = con.execute("select tags from duckdb_databases() where database_name = 'warehouse'").fetchone()
        assert tags["storage_version"] == "v1.0.0+"
        views = {r[0]: r[1] for r in con.execute(
            "select view_name, comment from duckdb_views() where schema_name = 'bi'").fetchall()}
        assert set(views) == {"region_quarter", "industry_quarter", "month_ytd", "mentions"}
        assert all(views.values())
        uncommented = con.execute("select table_name, column_name from duckdb_columns() "
                                  "where schema_name = 'bi' and comment is null").fetchall()
        assert uncommented == []
        assert con.execute("select count(*) from duckdb_schemas() where schema_name = 'main_bi'").fetchone()[0] == 0
        bad = con.execute("""select count(*) from bi.region_quarter
            where (unit = 'CNY' and abs(ytd_value_yi_yuan * 1e8 - ytd_value) > 1e-3)
               or (unit <> 'CNY' and ytd_value_yi_yuan is not null)
               or quarter_end_date <> last_day(make_date(year, quarter * 3, 1))
               or metric_name_zh is null or metric_name_en is null or region_name_en is null""").fetchone()[0]
        assert bad == 0
        (n,) = con.execute("select count(*) from bi.region_quarter").fetchone()
        assert n == con.execute("select count(*) from fct_region_quarter").fetchone()[0]
        row = con.execute("""select quarter_label, quarter_label_zh, unit_name_zh, unit_name_en from bi.region_quarter
            where metric_code = 'external_funds' and region_code = '650000' and year = 2025 and quarter = 1""").fetchone()
        assert row == ("2025Q1", "2025年一季度", "元", "yuan (CNY)")
    finally:
        con.close()


# ------------------------------------------------------------------------------ semantic layer


def test_metricflow_queries_the_published_warehouse_through_the_reader_target(sample_site: Path) -> None:
    mf = Path(sys.executable).with_name("mf")
    if not mf.exists():
        pytest.skip("dbt-metricflow is not installed (pip install -e '.[test]')")
    if not (PROJECT / "target" / "semantic_manifest.json").exists():
        pytest.skip("no target/semantic_manifest.json: dbt has not parsed the project")
    wh = sample_site / "warehouse.duckdb"
    before = wh.stat().st_mtime_ns
    env = dict(ENV, DBT_TARGET="reader", TONGBI_WAREHOUSE=str(wh), DBT_PROFILES_DIR=str(PROJECT))
    proc = subprocess.run([str(mf), "query", "--metrics",
                           "external_funds_ytd_yi_yuan,external_funds_yoy_pct_reported,external_funds_yoy_pct_computed",
                           "--group-by", "metric_time__quarter", "--where", "{{ Entity('region') }} = '650000'",
                           "--order", "metric_time__quarter"], cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = {ln.split()[0][:10]: ln.split()[1:] for ln in proc.stdout.splitlines() if ln[:4].isdigit()}
    # 2024 Q4: 9355.26 亿元 (a year-to-date level, not the sum of the quarters), 11 % reported,
    # 10.995 % computed from 2023 Q4's 8428.53; 2025 Q1: 1616.27 亿元, 21.59 % reported
    assert lines["2024-10-01"][:2] == ["9355.26", "11"] and lines["2024-10-01"][2].startswith("10.99")
    assert lines["2025-01-01"][:2] == ["1616.27", "21.59"]
    assert wh.stat().st_mtime_ns == before  # read-only: the file was not touched
