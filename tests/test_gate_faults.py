"""Write-audit-publish under faults and hostile input, through `tongbi run` as a subprocess.

* a run killed with SIGKILL while it writes the seeds, builds with dbt or runs the gate leaves
  the published warehouse byte-identical and readable, leaves no dbt behind, and the next run
  cleans up after it by itself (stale staging file, its `.wal`, the dead holder's lock record);
* hostile files beside the sample bulletins (binary, empty, 50 MB, broken front matter,
  undecodable) are each rejected with the file and the reason, the rest is published, and the
  rejects are in the published `rejected_documents` table;
* each rule-breaking bulletin of tests/fixtures/bad_bulletins stops a `--strict` run from
  publishing with the rule and the quote named (or, for a warning, publishes and reports it);
* every run writes runs/<run id>/summary.json, and the Data Docs site exists after a run.

Each `tongbi run` takes about 40 s (dbt build ~25 s, gate ~10 s): the published baseline is built
once per module, and the kill test uses three kill points.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from loaders.documents import iter_document_paths
from loaders.documents import DocumentError, load_document
from runs import ENV, RUN_TIMEOUT_S, Watched, query, tongbi

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"
BAD_BULLETINS = PROJECT / "tests" / "fixtures" / "bad_bulletins"
N_SAMPLES = len(iter_document_paths([SAMPLES]))   # the .md, .html and .pdf samples

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_tongbi(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tongbi("run", *args), cwd=PROJECT, env=ENV, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


def summary_of(proc: subprocess.CompletedProcess[str]) -> dict:
    """The JSON run summary whose path the run printed (stdout on success, stderr on failure)."""
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.lower().startswith("run summary: "):
            return json.loads(Path(line.split(": ", 1)[1].strip()).read_text(encoding="utf-8"))
    raise AssertionError(f"the run printed no summary path:\n{proc.stderr[-2000:]}")


def fresh_copy(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copy2(source, target)
    return target


# ------------------------------------------------------------------------------- hostile files

BROKEN_FRONT_MATTER = """---
id: broken-front-matter
title: [一季度区外资金到位情况
published: 2025-04-14
---
一季度，全区区外资金到位1616.27亿元。
"""


def write_hostile_files(folder: Path) -> dict[str, str]:
    """Five files that must be refused; returns file name → a phrase of the expected reason."""
    folder.mkdir(parents=True, exist_ok=True)
    # a PNG header and zero bytes under a bulletin's name
    (folder / "scan-of-page.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (folder / "empty.md").write_bytes(b"")
    # 50 MB without using 50 MB of disk: a sparse file (the loader must refuse it unread)
    with (folder / "huge.md").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (folder / "broken-front-matter.md").write_text(BROKEN_FRONT_MATTER, encoding="utf-8")
    # Windows-1252 text: 0x80 (€) and 0xFF (ÿ) are neither UTF-8 nor GB18030
    (folder / "cp1252.txt").write_bytes("Bulletin 2025: 1616 \u20ac, na\u00efve caf\u00e9 \u00ff\n".encode("cp1252"))
    return {
        "scan-of-page.md": "binary",
        "empty.md": "empty file",
        "huge.md": "too large",
        "broken-front-matter.md": "broken front matter",
        "cp1252.txt": "undecodable",
    }


# ------------------------------------------------------------------------------------ baseline


@dataclass
class Published:
    warehouse: Path
    proc: subprocess.CompletedProcess[str]
    seconds: float
    hostile: dict[str, str]
    folder: Path


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The sample bulletins with the five hostile files beside them, published once: the
    baseline every other test copies."""
    root = tmp_path_factory.mktemp("published")
    folder = root / "bulletins"
    shutil.copytree(SAMPLES, folder)
    hostile = write_hostile_files(folder)
    warehouse = root / "warehouse.duckdb"
    t0 = time.perf_counter()
    proc = run_tongbi(folder, "--warehouse", warehouse, "--quiet")
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]
    return Published(warehouse, proc, seconds, hostile, folder)


def test_hostile_files_are_rejected_by_name_and_reason_and_the_rest_is_published(published: Published) -> None:
    err = published.proc.stderr
    for name, reason in published.hostile.items():
        line = next((ln for ln in err.splitlines() if ln.strip().startswith("rejected") and name in ln), None)
        assert line is not None, f"{name} not reported as rejected:\n{err}"
        assert str(published.folder / name) in line and reason in line, line
    assert re.search(r"broken-front-matter\.md:\d+: broken front matter", err)  # with the line
    assert re.search(r"cp1252\.txt:1: undecodable", err)

    wh = published.warehouse
    rejected = {Path(p).name: (line, reason)
                for p, line, reason in query(wh, "select path, line, reason from rejected_documents")}
    assert set(rejected) == set(published.hostile)
    for name, reason in published.hostile.items():
        assert reason in rejected[name][1]
    assert "MB" in rejected["huge.md"][1]
    # the staging model over the seed is there too, with its own column names
    assert query(wh, "select count(*) from stg_bulletins__rejected_documents")[0][0] == len(published.hostile)

    (n_docs,), = query(wh, "select count(distinct doc_id) from fct_metric_mentions")
    assert n_docs == N_SAMPLES
    summary = summary_of(published.proc)
    assert summary["documents"]["loaded"] == N_SAMPLES
    assert summary["documents"]["rejected"] == len(published.hostile)
    assert {Path(r["path"]).name for r in summary["documents"]["rejects"]} == set(published.hostile)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         converter) -> None:
    huge = tmp_path / "huge.md"
    with huge.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)

    def no_read(self: Path) -> bytes:
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    with pytest.raises(DocumentError, match=r"too large \(50\.0 MB, the limit is 20 MB\)") as err:
        load_document(huge, converter)
    assert err.value.path == str(huge)


def test_a_published_run_writes_its_summary_and_the_data_docs(published: Published) -> None:
    summary = summary_of(published.proc)
    assert summary["status"] == "published" and summary["exit_code"] == 0 and summary["error"] is None
    assert summary["run_id"] and summary["started_at"] < summary["ended_at"]
    assert summary["warehouse"]["published"] is True
    assert summary["warehouse"]["path"] == str(published.warehouse)
    assert set(summary["stages"]) == {"extract", "load seeds", "dbt build", "expectations", "publish"}
    assert summary["tables"]["fct_region_quarter"] > 0 and summary["tables"]["rejected_documents"] == 5
    gate = summary["gate"]
    assert gate["passed"] is True and gate["counts"]["failed_error"] == 0
    assert all(c["severity"] == "warning" for c in gate["failed_checks"])
    assert gate["counts"]["failed_warning"] == len(gate["failed_checks"])
    # the Data Docs site
    index = Path(gate["docs_index"])
    assert index == published.warehouse.parent / "runs" / "data_docs" / "index.html" and index.is_file()
    html = index.read_text(encoding="utf-8")
    assert "fct_region_quarter" in html and "fct_metric_mentions.restated_across_documents" in html
    assert list(index.parent.glob("validations/**/*.html"))
    # nothing left behind: no staging file, no WAL, the lock released
    wh = published.warehouse
    assert not (wh.parent / "warehouse.next.duckdb").exists()
    assert not Path(str(wh) + ".wal").exists()
    assert Path(str(wh) + ".lock").read_text() == ""


def _summary_in(runs: Path) -> dict:
    (path,) = sorted(runs.glob("2*/summary.json"))[-1:]
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_run_with_nothing_readable_says_so_in_its_summary(tmp_path: Path) -> None:
    from tongbi.cli import main

    folder = tmp_path / "bulletins"
    folder.mkdir()
    (folder / "empty.md").write_bytes(b"")
    wh = tmp_path / "warehouse.duckdb"
    assert main(["run", str(folder), "--warehouse", str(wh), "--quiet"]) == 2
    assert not wh.exists()
    summary = _summary_in(tmp_path / "runs")
    assert summary["status"] == "failed" and summary["exit_code"] == 2 and summary["stage"] == "extract"
    assert summary["error"]["type"] == "NoDocuments"
    assert summary["documents"]["rejects"] == [{"path": str(folder / "empty.md"), "line": None,
                                                "reason": "empty file"}]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock")
def test_a_second_run_on_a_locked_warehouse_gives_up_without_touching_it(
        published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import fcntl

    from tongbi.cli import main

    wh = fresh_copy(published.warehouse, tmp_path)
    before = sha256(wh)
    monkeypatch.setenv("TONGBI_LOCK_TIMEOUT", "0.5")
    with open(str(wh) + ".lock", "w") as held:  # another live run holds the warehouse
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(json.dumps({"pid": 4242, "run_id": "the-other-run", "host": "here"}))
        held.flush()
        assert main(["run", str(SAMPLES), "--warehouse", str(wh), "--quiet"]) == 5
    assert "the-other-run" in capsys.readouterr().err
    assert sha256(wh) == before
    summary = _summary_in(tmp_path / "runs")
    assert summary["status"] == "failed" and summary["exit_code"] == 5 and summary["error"]["type"] == "Busy"


# -------------------------------------------------------------------------------------- faults


def processes_building(staging: Path) -> list[int]:
    """Live processes (other than zombies) whose environment says they build `staging`."""
    needle = f"TONGBI_BUILD_PATH={staging}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _after_dbt_wrote_something(run: Watched, staging: Path) -> None:
    # dbt has created the staging file and is writing into it (its .wal, when DuckDB keeps one)
    deadline = time.monotonic() + 120
    while not staging.exists() and time.monotonic() < deadline and run.proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.5)


def _while_the_gate_reads(run: Watched, staging: Path) -> None:
    # the gate has the staging file open (read-only) in tongbi's own process: it is validating.
    # A fixed sleep after the stage's marker was not enough once the gate took under 2 s.
    fds = Path(f"/proc/{run.proc.pid}/fd")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.proc.poll() is None:
        try:
            if any(os.readlink(fd) == str(staging) for fd in fds.iterdir()):
                return
        except OSError:   # an fd closed while it was listed
            pass
        time.sleep(0.01)


# (stderr marker, what to wait for after it, the stages the run may have reached when it dies):
# killed as soon as it writes the seeds (a few ms: it may have started dbt), while the gate
# validates (after a build that recovered from the first kill), and in the middle of dbt build
# (last, so the next run finds the most to clean up: staging file, .wal, two dead lock holders)
KILL_POINTS = [
    ("▶ load seeds", None, {"load seeds", "dbt build"}),
    ("▶ expectations", _while_the_gate_reads, {"expectations"}),
    ("▶ dbt build", _after_dbt_wrote_something, {"dbt build"}),
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; dbt dies with tongbi on Linux")
def test_kill_9_at_any_stage_leaves_the_published_warehouse_and_the_next_run_recovers(
        published: Published, tmp_path: Path) -> None:
    wh = fresh_copy(published.warehouse, tmp_path)
    staging = wh.resolve().with_name("warehouse.next.duckdb")
    before = sha256(wh)
    n_facts = query(wh, "select count(*) from fct_region_quarter")[0][0]
    killed: list[str] = []
    timings: dict[str, float] = {}
    for marker, then, stages in KILL_POINTS:
        name = marker.strip("▶ ")
        t0 = time.perf_counter()
        run = Watched(SAMPLES, "--warehouse", wh)
        run.wait_for(marker)
        if then is not None:
            then(run, staging)
        run.kill()
        timings[name] = round(time.perf_counter() - t0, 1)
        # the published file: byte-identical and a valid warehouse
        assert sha256(wh) == before, f"killed at {name}: the published warehouse changed"
        assert query(wh, "select count(*) from fct_region_quarter")[0][0] == n_facts
        # no dbt left writing into the staging file
        deadline = time.monotonic() + 10
        while processes_building(staging) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_building(staging) == [], f"killed at {name}: dbt outlived tongbi"
        # the killed run's summary still says running: it had no chance to say more
        runs = sorted((wh.parent / "runs").glob("2*/summary.json"))
        last = json.loads(runs[-1].read_text(encoding="utf-8"))
        assert last["status"] == "running" and last["stage"] in stages, (name, last["stage"])
        killed.append(last["run_id"])
    lock_record = json.loads(Path(str(wh) + ".lock").read_text())
    assert lock_record["run_id"] == killed[-1]  # the dead holder's record is still in the lock file
    assert staging.exists(), "killed in dbt build: the staging file is left for the next run"

    t0 = time.perf_counter()
    proc = run_tongbi(SAMPLES, "--warehouse", wh, "--quiet")
    timings["recovery run"] = round(time.perf_counter() - t0, 1)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = summary_of(proc)
    assert summary["status"] == "published"
    assert summary["recovery"]["interrupted_run"]["run_id"] == killed[-1]
    assert str(staging) in summary["recovery"]["removed"]
    assert not staging.exists() and not Path(str(staging) + ".wal").exists()
    assert Path(str(wh) + ".lock").read_text() == ""
    assert query(wh, "select count(*) from fct_region_quarter")[0][0] == n_facts
    # every killed run's summary now says it was interrupted (each was found by the run after it)
    for run_id in killed:
        old = json.loads((wh.parent / "runs" / run_id / "summary.json").read_text(encoding="utf-8"))
        assert old["status"] == "interrupted" and old["error"]["type"] == "Interrupted", run_id
    print(f"kill test timings (s): {timings}")


# ----------------------------------------------------------------------- rule-breaking bulletins


def _front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n", 2)[1])


BAD = sorted(p for p in BAD_BULLETINS.glob("*.md") if p.name.lower() != "readme.md")


def test_every_rule_breaking_bulletin_says_what_it_breaks() -> None:
    assert len(BAD) >= 4
    for path in BAD:
        meta = _front_matter(path)
        assert meta["expect_severity"] in ("error", "warning"), path
        assert meta["expect_quote"] in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("bulletin", BAD, ids=[p.stem for p in BAD])
def test_a_rule_breaking_bulletin_is_caught_with_its_rule_and_quote(
        bulletin: Path, published: Published, tmp_path: Path) -> None:
    meta = _front_matter(bulletin)
    suite, check = meta["expect_check"].split(".")
    quote = meta["expect_quote"]
    folder = tmp_path / "bulletins"
    shutil.copytree(SAMPLES, folder)
    shutil.copy(bulletin, folder / bulletin.name)
    wh = fresh_copy(published.warehouse, tmp_path)
    before = sha256(wh)

    # an error-level rule: --strict, the all-or-nothing gate (the default run quarantines the
    # bulletin instead: tests/test_quarantine.py)
    strict = ["--strict"] if meta["expect_severity"] == "error" else []
    proc = run_tongbi(folder, "--warehouse", wh, "--quiet", *strict)
    summary = summary_of(proc)
    failing = {(c["suite"], c["expectation"]): c for c in (summary["gate"] or {}).get("failed_checks", [])}
    assert (suite, check) in failing, f"{suite}.{check} did not fail:\n{proc.stderr[-3000:]}"
    found = failing[(suite, check)]
    assert found["severity"] == meta["expect_severity"]
    quotes = [(row.get("doc_id"), row.get("quote"), row.get("other_doc_id"), row.get("other_quote"))
              for row in found["failing_rows"]]
    assert any(bulletin.stem in (d, od) and (quote in (q or "") or quote in (oq or ""))
               for d, q, od, oq in quotes), quotes

    if meta["expect_severity"] == "error":
        assert proc.returncode == 4, proc.stderr[-3000:]
        assert sha256(wh) == before, "a failed gate must leave the published file byte-identical"
        assert summary["status"] == "failed" and summary["exit_code"] == 4
        assert summary["warehouse"]["published"] is False and summary["warehouse"]["staging_kept"] is True
        # the report on stderr: the rule, the document and the quote
        err = proc.stderr
        assert f"tongbi: quality gate failed: " in err and f"{suite}:{check}" in err
        table_line = next(ln for ln in err.splitlines() if ln.startswith("FAIL") and check[:30] in ln)
        assert suite in table_line
        assert any(f"doc_id={bulletin.stem}" in ln and quote in ln for ln in err.splitlines() if "↳" in ln), err
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert sha256(wh) != before, "a warning does not stop publishing"
        assert summary["status"] == "published" and summary["gate"]["passed"] is True
        out = proc.stdout
        assert any(ln.startswith("WARN") and check[:30] in ln for ln in out.splitlines()), out
        assert any(f"doc_id={bulletin.stem}" in ln and quote in ln for ln in out.splitlines() if "↳" in ln), out
        (n,), = query(wh, "select count(*) from audit_results where not success"
                          f" and suite = '{suite}' and expectation = '{check}'")
        assert n == 1
