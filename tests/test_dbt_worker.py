"""The dbt worker (tongbi/run/build.py `DbtWorker`, tongbi/run/dbt_child.py): it runs each
command it is sent in a fork of itself, as `dbt` would, holding the file descriptors sent with
it; it serves one command after another (a scheduled run keeps it); `close` ends it; one that
died leaves `dbt_build` to start dbt itself."""
from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

import pytest

from tongbi.errors import BuildError
from tongbi.run.build import DbtWorker, dbt_build


def test_the_worker_runs_the_command_it_is_sent_and_holds_the_fds_sent_with_it(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    worker = DbtWorker()
    try:
        proc = worker.start(["--version"], {}, (fd,))
        assert proc is not None
        assert worker.start(["--version"], {}, ()) is None   # one command at a time
        os.close(fd)   # the command's copy keeps the lock until it exits
        held = os.open(lock, os.O_RDWR)
        try:
            # sent and not yet exited: the lock is still taken
            with pytest.raises(BlockingIOError):
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            out, err = proc.communicate()
            assert proc.returncode == 0, err
            assert "installed" in out.lower()
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)   # free once it has exited
        finally:
            os.close(held)
    finally:
        worker.close()


def test_one_worker_serves_command_after_command_each_with_its_own_output_and_exit_code(tmp_path: Path) -> None:
    worker = DbtWorker()
    try:
        first = worker.start(["--version"], {}, ())
        assert first is not None
        out1, _ = first.communicate()
        assert first.returncode == 0 and "installed" in out1.lower()
        # a command dbt refuses: its own exit code and message, and the worker goes on
        bad = worker.start(["no-such-command"], {}, ())
        assert bad is not None
        out2, err2 = bad.communicate()
        assert bad.returncode != 0
        assert "no-such-command" in (out2 + err2) and "installed" not in out2.lower()
        third = worker.start(["--version"], {"DBT_LOG_PATH": str(tmp_path)}, ())
        assert third is not None
        out3, _ = third.communicate()
        assert third.returncode == 0 and out3 == out1
        assert worker.alive
    finally:
        worker.close()
    assert not worker.alive and worker.start(["--version"], {}, ()) is None


def test_a_command_killed_mid_way_reports_the_signal_and_the_worker_goes_on(tmp_path: Path) -> None:
    worker = DbtWorker()
    try:
        proc = worker.start(["--version"], {}, ())
        assert proc is not None
        proc.kill()
        proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL)   # it may have finished first
        again = worker.start(["--version"], {}, ())
        assert again is not None
        again.communicate()
        assert again.returncode == 0
    finally:
        worker.close()


def test_a_worker_never_sent_a_command_is_ended_by_close() -> None:
    worker = DbtWorker()
    worker.close()
    assert worker.proc.returncode is not None
    assert worker.start(["--version"], {}, ()) is None


def test_a_dead_worker_lets_dbt_build_start_dbt_itself(tmp_path: Path) -> None:
    worker = DbtWorker()
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    assert worker.start(["--version"], {}, ()) is None
    # dbt_build falls back to a process of its own: dbt runs (whether this project's seeds are
    # there decides only whether it succeeds) and its output is logged as any build's
    try:
        dbt_build(tmp_path / "w.next.duckdb", tmp_path / "logs", select=("no_such_model_anywhere",), worker=worker)
    except BuildError:
        pass
    assert "Running with dbt" in (tmp_path / "logs" / "dbt_build.log").read_text(encoding="utf-8")


def test_a_parsed_manifest_is_reused_only_while_what_dbt_parses_is_unchanged(tmp_path: Path) -> None:
    from tongbi.run.dbt_child import parse_inputs

    (tmp_path / "models").mkdir()
    (tmp_path / "seeds").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    (tmp_path / "models" / "a.sql").write_text("select 1 as x\n")
    (tmp_path / "seeds" / "raw.csv").write_text("x\n1\n")
    env = {"TONGBI_BUILD_PATH": "/w/a.next.duckdb", "DBT_LOG_PATH": "/runs/1"}
    first = parse_inputs(str(tmp_path), env)
    # a new run: new seed rows, a new log folder — the same manifest
    (tmp_path / "seeds" / "raw.csv").write_text("x\n1\n2\n")
    assert parse_inputs(str(tmp_path), {**env, "DBT_LOG_PATH": "/runs/2"}) == first
    # what the manifest is made of: parsed again
    changed = [
        lambda: (tmp_path / "models" / "a.sql").write_text("select 2 as x\n"),
        lambda: (tmp_path / "models" / "b.sql").write_text("select 1 as y\n"),
        lambda: (tmp_path / "seeds" / "other.csv").write_text("y\n"),
        lambda: (tmp_path / "seeds" / "raw.yml").write_text("version: 2\n"),
        lambda: (tmp_path / "dbt_project.yml").write_text("name: q\n"),
    ]
    seen = {first}
    for change in changed:
        change()
        fp = parse_inputs(str(tmp_path), env)
        assert fp not in seen
        seen.add(fp)
    assert parse_inputs(str(tmp_path), {**env, "TONGBI_BUILD_PATH": "/w/b.next.duckdb"}) not in seen
