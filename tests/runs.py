"""What the tests that start `tongbi run` as a process share: the process watched line by line
(to act at a stage of the run, or kill it there), and a read-only query of a warehouse file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", GX_ANALYTICS_ENABLED="false",
           PYTHONUNBUFFERED="1", TONGBI_LOCK_TIMEOUT="900")
RUN_TIMEOUT_S = 900  # generous: other runs of the project (other test sessions) may hold the build lock


def tongbi(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "tongbi.cli", *map(str, args)]


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class Watched:
    """`tongbi run` started as a subprocess; its stderr lines collected as they come."""

    def __init__(self, *args: str | Path) -> None:
        self.proc = subprocess.Popen(tongbi("run", *args), cwd=PROJECT, env=ENV, text=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, marker: str, timeout: float = RUN_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not any(ln.startswith(marker) for ln in self.lines):
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"the run ended ({self.proc.returncode}) before {marker!r}:\n"
                                     + "\n".join(self.lines[-40:]))
            if time.monotonic() > deadline:
                raise AssertionError(f"no {marker!r} within {timeout}s")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc.poll() is None, "the run finished before it could be killed"
        os.kill(self.proc.pid, signal.SIGKILL)  # this process only: its dbt must die by itself
        self.proc.wait(30)
        self._reader.join(30)
