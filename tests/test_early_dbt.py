"""The dbt process a run starts early (tongbi/run/build.py `EarlyDbt`, tongbi/run/dbt_child.py):
it runs the command it is sent, as `dbt` would, holding the file descriptors sent with it; one
never sent a command is ended by `close`; one that died leaves `dbt_build` to start dbt itself."""
from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

import pytest

from tongbi.run.build import EarlyDbt


def test_the_early_process_runs_the_command_it_is_sent_and_holds_the_fds_sent_with_it(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    early = EarlyDbt(tmp_path / "w.next.duckdb", tmp_path / "logs")
    proc = early.start(["--version"], {}, (fd,))
    assert proc is not None and early.start(["--version"], {}, ()) is None   # one command only
    os.close(fd)   # the child's copy keeps the lock until it exits
    held = os.open(lock, os.O_RDWR)
    try:
        # sent (in flight or received) and not yet exited: the lock is still taken
        with pytest.raises(BlockingIOError):
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "installed" in out.lower()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)   # free once it has exited
    finally:
        os.close(held)


def test_an_early_process_never_sent_a_command_is_ended_by_close(tmp_path: Path) -> None:
    early = EarlyDbt(tmp_path / "w.next.duckdb", tmp_path / "logs")
    early.close()
    assert early.proc.returncode is not None
    assert early.start(["--version"], {}, ()) is None


def test_a_dead_early_process_lets_dbt_build_start_dbt_itself(tmp_path: Path) -> None:
    early = EarlyDbt(tmp_path / "w.next.duckdb", tmp_path / "logs")
    os.kill(early.proc.pid, signal.SIGKILL)
    early.proc.wait()
    assert early.start(["--version"], {}, ()) is None
