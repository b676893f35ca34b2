"""The gate of an incremental build (tongbi/gate/scoped.py) on a small warehouse of our own: a
dataset with no rows in the rebuilt slices is not validated again and keeps its audited verdict;
one with rows there is validated and merged with the previous audit, also when a removed
document takes away rows the previous audit counted as failing."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tongbi.gate import GateResult, scoped, write_audit_results
from tongbi.gate.scoped import BaselineThread, Scope, audit_baseline, run_scoped_gate
from tongbi.gate.validate import run_gate

SUITE = {
    "name": "facts",
    "layer": "marts",
    "description": "test facts",
    "table": "facts",
    "queries": {"targets": {"description": "targets", "sql": "SELECT * FROM targets"}},
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "value"},
         "meta": {"check": "value_not_null", "severity": "error", "description": "a value"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "value", "min_value": 0, "max_value": 100},
         "meta": {"check": "value_in_range", "severity": "warning", "description": "0-100"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "target", "min_value": 0, "max_value": 100},
         "meta": {"check": "target_in_range", "severity": "warning", "description": "0-100", "query": "targets"}},
    ],
}


def warehouse(path: Path, facts: list[tuple], targets: list[tuple]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE facts (metric_code VARCHAR, year BIGINT, doc_id VARCHAR, value DOUBLE)")
    con.execute("CREATE TABLE targets (metric_code VARCHAR, year BIGINT, doc_id VARCHAR, target DOUBLE)")
    if facts:
        con.executemany("INSERT INTO facts VALUES (?, ?, ?, ?)", facts)
    if targets:
        con.executemany("INSERT INTO targets VALUES (?, ?, ?, ?)", targets)
    con.close()
    return path


FACTS = [("m1", 2020, "d1", 10.0), ("m1", 2021, "d2", 150.0), ("m2", 2020, "d3", 20.0)]
TARGETS = [("m2", 2020, "d3", 250.0), ("m2", 2021, "d3", 30.0)]


@pytest.fixture()
def published(tmp_path: Path) -> tuple[Path, Path]:
    """A published file audited by a full gate: value_in_range fails once (m1 2021, 150) and
    target_in_range once (m2 2020, 250)."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "facts.json").write_text(json.dumps(SUITE), encoding="utf-8")
    db = warehouse(tmp_path / "published.duckdb", FACTS, TARGETS)
    full = run_gate(db, suites)
    by_check = {r.expectation: r for r in full.results}
    assert (by_check["value_in_range"].unexpected_count, by_check["target_in_range"].unexpected_count) == (1, 1)
    write_audit_results(db, full, "run-full")
    return db, suites


def scoped_run(monkeypatch: pytest.MonkeyPatch, new: Path, suites: Path, scope: Scope, previous: Path):
    """The scoped gate's results by check, and the datasets it validated."""
    validated: list[str] = []
    real = scoped._validate_dataset

    def spy(gx, context, batch, suite, dataset, *args, **kwargs):
        validated.append(dataset.name)
        return real(gx, context, batch, suite, dataset, *args, **kwargs)

    monkeypatch.setattr(scoped, "_validate_dataset", spy)
    result = run_scoped_gate(new, suites, scope, previous)
    return {r.expectation: r for r in result.results}, validated


def test_a_dataset_without_rows_in_the_rebuilt_slices_keeps_its_audited_verdict(
        published: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, suites = published
    # a document adds a fact in a new slice; targets has no row there
    new = warehouse(tmp_path / "new.duckdb", FACTS + [("m3", 2022, "d4", 30.0)], TARGETS)
    found, validated = scoped_run(monkeypatch, new, suites, Scope(docs=["d4"], slices=[("m3", 2022)]), db)
    assert validated.count("main") == 1 and "targets" not in validated
    carried = found["target_in_range"]
    assert (carried.success, carried.unexpected_count) == (False, 1)
    assert "carried over from run run-full" in carried.observed
    assert carried.failing_rows and carried.failing_rows[0]["target"] == 250.0
    # the facts were validated in the slice and merged: the failure elsewhere still counts
    assert (found["value_in_range"].success, found["value_in_range"].unexpected_count) == (False, 1)
    assert found["value_not_null"].success

    # carried again by a second incremental audit, the note is not repeated
    write_audit_results(new, GateResult(results=list(found.values())), "run-incr")
    newer = tmp_path / "newer.duckdb"
    shutil.copyfile(new, newer)
    con = duckdb.connect(str(newer))
    con.execute("INSERT INTO facts VALUES ('m4', 2023, 'd5', 40.0)")
    con.close()
    again, _ = scoped_run(monkeypatch, newer, suites, Scope(docs=["d5"], slices=[("m4", 2023)]), new)
    assert again["target_in_range"].observed.count("carried over") == 1


def test_a_changed_document_that_touches_the_dataset_is_validated_again(
        published: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, suites = published
    # d3 changed: its 2021 target becomes 300 (a second failing row)
    new = warehouse(tmp_path / "new.duckdb", FACTS, [("m2", 2020, "d3", 250.0), ("m2", 2021, "d3", 300.0)])
    found, validated = scoped_run(monkeypatch, new, suites, Scope(docs=["d3"], slices=[("m2", 2021)]), db)
    assert "targets" in validated
    assert (found["target_in_range"].success, found["target_in_range"].unexpected_count) == (False, 2)


def test_a_removed_document_s_failing_rows_leave_the_count(
        published: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, suites = published
    # d2 removed: its slice (m1 2021) has no rows now, but held the previous audit's failing row
    new = warehouse(tmp_path / "new.duckdb", [r for r in FACTS if r[2] != "d2"], TARGETS)
    scope = Scope(docs=["d2"], slices=[("m1", 2021)])
    base = audit_baseline(db, suites, scope)
    assert base.old_counts[("facts", "value_in_range")] == 1
    found, validated = scoped_run(monkeypatch, new, suites, scope, db)
    assert "main" in validated
    assert (found["value_in_range"].success, found["value_in_range"].unexpected_count) == (True, 0)
    # the baseline read in a thread (as a run does while dbt builds) gives the same verdicts
    threaded = {r.expectation: r for r in run_scoped_gate(new, suites, scope, db, BaselineThread(db, suites, scope)).results}
    assert {k: (r.success, r.unexpected_count) for k, r in threaded.items()} == \
        {k: (r.success, r.unexpected_count) for k, r in found.items()}
