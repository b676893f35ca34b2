"""The run's locks: an flock on a small file that names its holder, so a second run knows
who holds the warehouse (or the project's build) and a dead holder never blocks the next run."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from tongbi.errors import Busy

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not locked there
    fcntl = None  # type: ignore[assignment]


LOCK_TIMEOUT_S = 600.0    # how long to wait for the project's build lock (another warehouse's run)
# how long to wait for the warehouse's own lock: 0, a second run of the same warehouse exits at
# once (Busy, exit code 5); --wait SECONDS or TONGBI_LOCK_TIMEOUT (both locks) override
WAREHOUSE_WAIT_S = 0.0


def lock_path(warehouse: Path) -> Path:
    return Path(str(warehouse) + ".lock")


# ---------------------------------------------------------------------------------------- locks


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another run"
    return f"run {holder.get('run_id', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')})"


class RunLock:
    """An exclusive advisory lock (flock) on a small file that names its holder.

    The kernel drops the lock when every process holding it has died, kill -9 included, so a
    lock file left behind never blocks the next run; the holder's record still in the file tells
    that run its predecessor was interrupted. The file is never deleted: deleting a lock file a
    waiting process has open would let two holders in.
    """

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.fd: int | None = None
        self.previous: dict[str, Any] | None = None  # the record of a holder that died holding it
        self.waited_s = 0.0

    def _record(self, fd: int) -> dict[str, Any] | None:
        try:
            raw = os.pread(fd, 4096, 0)
            return json.loads(raw) if raw.strip() else None
        except (OSError, ValueError):
            return {"run_id": "?", "note": "unreadable lock record"}

    def acquire(self, run_id: str, timeout: float, progress: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        t0 = time.monotonic()
        deadline = t0 + timeout
        told = False
        while fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self._record(fd)
                if time.monotonic() >= deadline:
                    os.close(fd)
                    if timeout <= 0:
                        raise Busy(f"another run is in progress: {describe_holder(holder)} holds {self.label} "
                                   f"(lock {self.path}); this run exits without touching it "
                                   "(--wait SECONDS waits for it)") from None
                    raise Busy(f"{self.label} is in use by {describe_holder(holder)} (lock {self.path}); "
                               f"gave up after {timeout:g}s") from None
                if progress and not told:
                    print(f"  waiting for {describe_holder(holder)} to finish with {self.label} …",
                          file=sys.stderr, flush=True)
                    told = True
                time.sleep(0.2)
        self.fd = fd
        self.waited_s = round(time.monotonic() - t0, 3)
        self.previous = self._record(fd)
        record = {"pid": os.getpid(), "run_id": run_id, "host": socket.gethostname(),
                  "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)  # an empty lock file: its last holder finished
        finally:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_timeout(default: float = LOCK_TIMEOUT_S) -> float:
    try:
        return float(os.environ.get("TONGBI_LOCK_TIMEOUT", default))
    except ValueError:
        return default
