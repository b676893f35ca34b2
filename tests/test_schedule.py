"""`tongbi run --every` (tongbi/run/schedule.py): the scheduled job as one process. Its runs are
ordinary runs (the same published data as runs started one by one), one dbt worker serves them
all, SIGUSR1 runs now and SIGTERM ends it between runs; a failed run does not end the loop."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import clone_site
from runs import ENV, RUN_TIMEOUT_S, query
from tongbi.errors import Busy, GateFailed
from tongbi.run.pipeline import RunOptions
from tongbi.run.schedule import ScheduleOptions, next_tick, parse_interval, schedule

FACTS = "select * from fct_region_quarter order by all"


def test_intervals_are_read_in_seconds_minutes_hours_and_days() -> None:
    assert [parse_interval(t) for t in ("90", "90s", "30m", "1.5h", "1d", " 2H ")] == [90, 90, 1800, 5400, 86400, 7200]
    for bad in ("", "0", "-5m", "30 minutes", "1w", "m"):
        with pytest.raises(ValueError, match="not an interval"):
            parse_interval(bad)


def test_a_run_that_overruns_its_interval_moves_the_next_tick_past_its_end_without_a_burst() -> None:
    assert next_tick(100.0, 60.0, 100.5) == 160.0          # on time: the next tick
    assert next_tick(100.0, 60.0, 159.9) == 160.0
    assert next_tick(100.0, 60.0, 290.0) == 340.0          # ran 190 s: ticks 160, 220, 280 are not made up


def _children(pid: int) -> list[tuple[int, str]]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            out.append((int(child), cmd))
    return out


def _finished(site: Path) -> list[dict]:
    import json

    found = []
    for p in sorted((site / "runs").glob("2*/summary.json")):
        data = json.loads(p.read_text())
        if data.get("status") != "running":
            found.append(data)
    return found


def _wait_runs(proc: subprocess.Popen, site: Path, n: int) -> list[dict]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        done = _finished(site)
        if len(done) >= n:
            return done
        assert proc.poll() is None, f"the scheduled process ended ({proc.returncode}) after {len(done)} runs"
        time.sleep(0.1)
    raise AssertionError(f"{n} runs did not finish within {RUN_TIMEOUT_S} s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the dbt worker")
def test_scheduled_runs_publish_what_runs_one_by_one_would_with_one_dbt_worker(sample_site: Path, tmp_path: Path) -> None:
    site = clone_site(sample_site, tmp_path / "site")
    expected = query(sample_site / "warehouse.duckdb", FACTS)
    bulletins = sorted((site / "bulletins").glob("*.md"))
    away = tmp_path / bulletins[-1].name
    shutil.move(str(bulletins[-1]), away)   # run 1 sees a document removed
    proc = subprocess.Popen([sys.executable, "-m", "tongbi.cli", "run", "bulletins", "--warehouse", "warehouse.duckdb",
                             "--quiet", "--every", "1d"], cwd=site, env=ENV, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        first = _wait_runs(proc, site, 1)[-1]
        assert (first["status"], first["mode"], first["documents"]["removed"]) == ("published", "incremental", 1)
        workers = [pid for pid, cmd in _children(proc.pid) if "tongbi.run.dbt_child" in cmd]
        assert len(workers) == 1, _children(proc.pid)
        assert query(site / "warehouse.duckdb", FACTS) != expected
        shutil.move(str(away), bulletins[-1])   # back: run 2 adds it
        proc.send_signal(signal.SIGUSR1)        # run now, not in a day
        second = _wait_runs(proc, site, 2)[-1]
        assert (second["status"], second["mode"], second["documents"]["added"]) == ("published", "incremental", 1)
        # the same worker served both runs' dbt: dbt was imported once
        assert [pid for pid, cmd in _children(proc.pid) if "tongbi.run.dbt_child" in cmd] == workers
        assert query(site / "warehouse.duckdb", FACTS) == expected
        assert [r[0] for r in query(site / "warehouse.duckdb", "select mode from run_history order by started_at")][-2:] \
            == ["incremental", "incremental"]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped by SIGTERM after 2 runs" in err
    assert not any("tongbi.run.dbt_child" in cmd for _, cmd in _children(os.getpid()))


def test_a_failed_or_skipped_run_is_reported_and_the_loop_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes: list[BaseException | int] = [GateFailed("quality gate failed: x"), Busy("held by run y"), 0]
    seen: list[bool] = []

    def fake_run(opts: RunOptions, worker: object) -> int:
        seen.append(opts.force)
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    code = schedule(RunOptions(force=True), ScheduleOptions(every_s=0.01, runs=3), run_once=fake_run)
    err = capsys.readouterr().err
    assert code == 0 and not outcomes
    assert "tongbi: quality gate failed: x" in err and "skipped this tick: held by run y" in err
    assert seen == [True, False, False]   # --force rebuilds at the first run only
    # the last run's exit code when it failed
    outcomes[:] = [0, GateFailed("still failing")]
    assert schedule(RunOptions(), ScheduleOptions(every_s=0.01, runs=2), run_once=fake_run) == GateFailed.exit_code


def test_a_change_of_tongbis_code_on_disk_ends_a_loop_that_cannot_restart(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import tongbi.run.schedule as sched

    prints = iter(["a", "b"])
    monkeypatch.setattr(sched, "code_fingerprint", lambda: next(prints))
    runs: list[int] = []
    code = schedule(RunOptions(), ScheduleOptions(every_s=0.01), argv=None,
                    run_once=lambda opts, worker: runs.append(1) or 0)
    assert code == 0 and runs == [1]
    assert "code changed on disk; stopping" in capsys.readouterr().err
