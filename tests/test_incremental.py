"""Scheduled-job mode of `tongbi run`: the run lock, incremental extraction, idempotent re-runs,
`run_history` and `--log-format json`.

The sample site (tests/conftest.py, `sample_site`) is built once per session; every test here
works on its own copy. The rebuild after a changed and a removed document is the first of the
five runs tests/test_serving.py makes under readers (conftest `five_runs`, run once per session);
the rest take a few seconds each.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import clone_site
from readers import CHANGED_DOC, REMOVED_DOC, FiveRuns
from runs import query
from tongbi.cli import main
from loaders.cache import DocumentCache, extractor_fingerprint
from loaders.documents import iter_document_paths
from tongbi.run.lock import RunLock

PROJECT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", GX_ANALYTICS_ENABLED="false",
           PYTHONUNBUFFERED="1")
# tables whose content depends on the run (its id and time), not on the data
RUN_TABLES = {"run_history", "audit_results"}
# the bundled sample bulletins every site starts from (.md, .html and .pdf)
N_SAMPLES = len(iter_document_paths([PROJECT / "data" / "bulletins"]))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def history(db: Path) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("select * from run_history order by started_at, run_id")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def differing_tables(a: Path, b: Path) -> list[str]:
    """Tables and views (every schema) whose rows differ between two warehouse files."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        rels = {(s, n) for s, n in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'a' union "
            "select schema_name, view_name from duckdb_views() where database_name = 'a' and not internal"
        ).fetchall()}
        rels_b = {(s, n) for s, n in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'b' union "
            "select schema_name, view_name from duckdb_views() where database_name = 'b' and not internal"
        ).fetchall()}
        out = sorted(f"{s}.{n}" for s, n in rels ^ rels_b)
        for s, n in sorted(rels & rels_b):
            if n in RUN_TABLES:
                continue
            diff = con.execute(f'select count(*) from ((select * from a."{s}"."{n}" except all '
                               f'select * from b."{s}"."{n}") union all (select * from b."{s}"."{n}" '
                               f'except all select * from a."{s}"."{n}"))').fetchone()[0]
            if diff:
                out.append(f"{s}.{n}")
        return out
    finally:
        con.close()


def last_summary(site: Path) -> dict:
    (path,) = sorted((site / "runs").glob("2*/summary.json"))[-1:]
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def site(sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = clone_site(sample_site, tmp_path / "site")
    monkeypatch.chdir(site)
    return site


def run(*args: str) -> int:
    return main(["run", "bulletins", "--warehouse", "warehouse.duckdb", "--quiet", *args])


# ------------------------------------------------------------------------------- idempotence


def test_a_rerun_with_no_new_documents_leaves_the_data_identical_and_run_history_shows_both(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wh = site / "warehouse.duckdb"
    before = site / "before.duckdb"
    before.write_bytes(wh.read_bytes())
    first = history(wh)
    assert [r["status"] for r in first] == ["published"] and first[0]["mode"] == "full"
    assert first[0]["documents_added"] == N_SAMPLES and first[0]["gate_passed"] is True

    t0 = time.perf_counter()
    assert run() == 0
    seconds = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert "nothing changed" in out
    summary = last_summary(site)
    assert summary["status"] == "unchanged" and summary["mode"] == "unchanged"
    assert set(summary["stages"]) == {"extract", "publish"}  # no dbt build, no gate
    assert summary["documents"]["unchanged"] == N_SAMPLES and summary["documents"]["reused"] == N_SAMPLES
    assert summary["documents"]["extracted"] == 0
    assert seconds < 15, f"an unchanged run took {seconds:.1f}s"

    assert differing_tables(before, wh) == []
    rows = history(wh)
    assert [r["run_id"] for r in rows[:1]] == [first[0]["run_id"]]
    assert [(r["status"], r["mode"]) for r in rows] == [("published", "full"), ("unchanged", "unchanged")]
    assert rows[1]["data_built_by"] == first[0]["run_id"]
    assert rows[1]["input_fingerprint"] == first[0]["input_fingerprint"]
    assert rows[1]["gate_passed"] is True and rows[1]["documents_unchanged"] == N_SAMPLES
    assert json.loads(rows[1]["table_rows"]) == json.loads(first[0]["table_rows"])
    print(f"unchanged re-run: {seconds:.2f}s")


def test_skip_unchanged_keeps_the_file_byte_identical_and_the_next_publish_records_the_run(site: Path) -> None:
    wh = site / "warehouse.duckdb"
    before = sha256(wh)
    assert run("--skip-unchanged") == 0
    skipped = last_summary(site)
    assert skipped["status"] == "unchanged" and skipped["warehouse"]["published"] is False
    assert sha256(wh) == before
    # the next publish carries the skipped run into run_history, from runs/history.jsonl
    assert run() == 0
    ids = [r["run_id"] for r in history(wh)]
    assert skipped["run_id"] in ids and len(ids) == 3


def test_force_extracts_and_builds_everything_again(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--force with nothing changed: every document extracted, the build and the gate made. dbt is
    stood in for by a copy of the published file (a real build is tested by the five runs)."""
    import shutil

    from tongbi.run import pipeline

    built: list[Path] = []

    def build(staging: Path, log_dir: Path, keep_fds: tuple[int, ...] = (), **options: object) -> None:
        built.append(staging)
        shutil.copyfile(site / "warehouse.duckdb", staging)

    monkeypatch.setattr(pipeline, "dbt_build", build)
    assert run("--force") == 0
    summary = last_summary(site)
    assert built and summary["status"] == "published" and summary["mode"] == "full"
    assert set(summary["stages"]) == {"extract", "load seeds", "dbt build", "expectations", "publish"}
    assert (summary["documents"]["extracted"], summary["documents"]["reused"]) == (N_SAMPLES, 0)
    assert summary["documents"]["unchanged"] == N_SAMPLES and summary["gate"]["passed"] is True
    rows = history(site / "warehouse.duckdb")
    assert [(r["status"], r["mode"]) for r in rows] == [("published", "full")] * 2
    assert rows[-1]["data_built_by"] == rows[-1]["run_id"]
    assert rows[-1]["input_fingerprint"] == rows[0]["input_fingerprint"]


def test_failed_and_busy_runs_join_run_history_at_the_next_publish(site: Path, tmp_path: Path) -> None:
    wh = site / "warehouse.duckdb"
    empty = site / "empty"
    empty.mkdir()
    (empty / "blank.md").write_bytes(b"")
    assert main(["run", str(empty), "--warehouse", "warehouse.duckdb", "--quiet"]) == 2
    failed = last_summary(site)
    lines = [json.loads(ln) for ln in (site / "runs" / "history.jsonl").read_text().splitlines()]
    assert lines[-1]["run_id"] == failed["run_id"] and lines[-1]["status"] == "failed"
    assert run() == 0
    rows = {r["run_id"]: r for r in history(wh)}
    assert rows[failed["run_id"]]["status"] == "failed" and rows[failed["run_id"]]["exit_code"] == 2
    assert rows[failed["run_id"]]["error_type"] == "NoDocuments"


# ------------------------------------------------------------------------------- incremental


def test_a_changed_document_replaces_its_rows_and_a_removed_one_retires(five_runs: FiveRuns) -> None:
    """The first of the five runs (conftest.five_runs, under readers): one document's title
    changed, another document removed; the rest are unchanged and come from the cache."""
    wh = five_runs.site / "warehouse.duckdb"
    changed, removed = CHANGED_DOC, REMOVED_DOC
    assert five_runs.before[removed] > 0 and five_runs.before[changed] > 0
    assert five_runs.procs[0].returncode == 0, five_runs.procs[0].stderr[-3000:]
    summary = five_runs.summaries[0]
    docs = summary["documents"]
    # built incrementally on the published file (tests/test_incremental_build.py holds it to a full build)
    assert summary["status"] == "published" and summary["mode"] == "incremental", summary.get("build")
    assert (docs["added"], docs["changed"], docs["removed"], docs["unchanged"]) == (0, 1, 1, N_SAMPLES - 2)
    assert docs["changed_ids"] == [changed] and docs["removed_ids"] == [removed]
    assert (docs["extracted"], docs["reused"]) == (1, N_SAMPLES - 2)  # only the changed document is read again

    assert query(wh, f"select count(*) from fct_metric_mentions where doc_id = '{removed}'")[0][0] == 0
    assert query(wh, f"select count(*) from documents where doc_id = '{removed}'")[0][0] == 0
    titles = query(wh, f"select distinct document_title from fct_metric_mentions where doc_id = '{changed}'")
    assert len(titles) == 1 and titles[0][0].startswith("【修订】")
    n_changed = query(wh, f"select count(*) from fct_metric_mentions where doc_id = '{changed}'")[0][0]
    assert n_changed == five_runs.before[changed]
    rows = history(wh)
    assert [r["status"] for r in rows[:2]] == ["published", "published"]
    assert rows[1]["documents_changed"] == 1 and rows[1]["documents_removed"] == 1
    assert rows[1]["input_fingerprint"] != rows[0]["input_fingerprint"]
    # the four runs after it found nothing new: the same inputs, the data built by run 1
    assert all(r["status"] == "unchanged" and r["data_built_by"] == rows[1]["run_id"]
               and r["input_fingerprint"] == rows[1]["input_fingerprint"] for r in rows[2:])


def test_the_extraction_cache_is_keyed_by_the_extractor_and_the_bytes(tmp_path: Path, monkeypatch) -> None:
    from loaders import cache as extraction_cache
    from loaders.corpus import extract_corpus
    from loaders.vocabulary import load_vocabulary

    folder = tmp_path / "docs"
    folder.mkdir()
    src = PROJECT / "data" / "bulletins" / "xj-invest-2025q1.md"
    (folder / src.name).write_bytes(src.read_bytes())
    vocab = load_vocabulary()
    cache = DocumentCache(tmp_path / "cache", "fp-one")
    fresh = extract_corpus([folder], vocab, None, None, cache)
    assert (len(cache.hits), len(cache.misses)) == (0, 1)
    again = DocumentCache(tmp_path / "cache", "fp-one")
    cached = extract_corpus([folder], vocab, None, None, again)
    assert (len(again.hits), len(again.misses)) == (1, 0)
    assert [m.as_row() for m in cached.mentions] == [m.as_row() for m in fresh.mentions]
    assert cached.documents == fresh.documents
    # another extractor version misses, and pruning removes the old version's folder
    other = DocumentCache(tmp_path / "cache", "fp-two")
    extract_corpus([folder], vocab, None, None, other)
    assert len(other.misses) == 1 and other.prune() == [again.folder.name]
    # changed bytes miss
    (folder / src.name).write_bytes(src.read_bytes() + "\n".encode())
    third = DocumentCache(tmp_path / "cache", "fp-two")
    extract_corpus([folder], vocab, None, None, third)
    assert len(third.misses) == 1

    # the extractor's fingerprint follows the vocabulary and the grammar
    grammar = tmp_path / "grammar"
    grammar.mkdir()
    (grammar / "period_phrases.csv").write_text("pattern\n一季度\n", encoding="utf-8")
    monkeypatch.setattr(extraction_cache, "GRAMMAR_DIR", grammar)
    fp = extractor_fingerprint()
    assert extractor_fingerprint() == fp
    (grammar / "period_phrases.csv").write_text("pattern\n一季度\n上半年\n", encoding="utf-8")
    assert extractor_fingerprint() != fp


# ------------------------------------------------------------------------------------ the lock


def test_a_second_run_exits_at_once_with_its_own_exit_code(site: Path, capsys) -> None:
    import fcntl

    wh = site / "warehouse.duckdb"
    before = sha256(wh)
    with open(str(wh) + ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.truncate(0)
        held.write(json.dumps({"pid": 4242, "run_id": "the-scheduled-run", "host": "here"}))
        held.flush()
        t0 = time.perf_counter()
        code = run()
        seconds = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert code == 5 and seconds < 5
    assert "another run is in progress" in err and "the-scheduled-run" in err and "--wait" in err
    assert sha256(wh) == before
    assert last_summary(site)["error"]["type"] == "Busy"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock")
def test_a_lock_left_by_a_killed_run_does_not_block_the_next(tmp_path: Path) -> None:
    """A process that holds the run lock is killed with SIGKILL: the kernel drops its flock, the
    next holder gets the lock at once and reads the dead holder's record."""
    lock_file = tmp_path / "warehouse.duckdb.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from tongbi.run.lock import RunLock\n"
        f"lock = RunLock(Path({str(lock_file)!r}), 'w'); lock.acquire('dead-run', 0, False)\n"
        "print('held', flush=True); time.sleep(60)")], cwd=PROJECT, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        from tongbi.errors import Busy

        with pytest.raises(Busy):
            RunLock(lock_file, "w").acquire("second", 0, False)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        lock = RunLock(lock_file, "w")
        t0 = time.monotonic()
        lock.acquire("next-run", 0, False)
        assert time.monotonic() - t0 < 1
        assert lock.previous is not None and lock.previous["run_id"] == "dead-run"
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_a_process_holding_the_warehouse_open_for_writing_stops_the_run_with_code_6(site: Path, capsys) -> None:
    wh = site / "warehouse.duckdb"
    before = sha256(wh)
    writer = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(wh)!r})\n"   # read-write: DuckDB's write lock
        "print('open', flush=True); time.sleep(60)")], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        assert run() == 6
    finally:
        writer.kill()
        writer.wait(10)
    err = capsys.readouterr().err
    assert "open for writing by another process" in err and "read-only" in err
    assert sha256(wh) == before
    assert last_summary(site)["error"]["type"] == "WarehouseInUse"


# ---------------------------------------------------------------------------------- JSON logs


def test_log_format_json_writes_one_json_object_per_line_on_stderr(site: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tongbi.cli", "run", "bulletins", "--warehouse",
                           "warehouse.duckdb", "--log-format", "json"], cwd=site, env=dict(ENV, PYTHONPATH=str(PROJECT)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    events = [json.loads(ln) for ln in lines]  # every line is a JSON object
    assert all(isinstance(e, dict) and "event" in e and "ts" in e for e in events)
    names = [e["event"] for e in events]
    assert names[0] == "run_start" and names[-1] == "run_end"
    assert {"stage_start", "stage_end", "documents", "unchanged", "publish"} <= set(names)
    end = events[-1]
    assert end["status"] == "unchanged" and end["exit_code"] == 0 and Path(end["summary"]).is_file()
    docs = next(e for e in events if e["event"] == "documents")
    assert docs["unchanged"] == N_SAMPLES and docs["loaded"] == N_SAMPLES
    assert proc.stdout == ""

    # a failing run: the error is an event too, and rejects are events
    bad = site / "bad"
    bad.mkdir()
    (bad / "blank.md").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "tongbi.cli", "run", "bad", "--warehouse",
                           "warehouse.duckdb", "--log-format", "json"], cwd=site, env=dict(ENV, PYTHONPATH=str(PROJECT)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    events = [json.loads(ln) for ln in proc.stderr.splitlines() if ln.strip()]
    assert any(e["event"] == "reject" and e["reason"] == "empty file" for e in events)
    end = next(e for e in events if e["event"] == "run_end")
    assert end["status"] == "failed" and end["exit_code"] == 2 and end["error"]["type"] == "NoDocuments"
