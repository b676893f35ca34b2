"""Publishing: the staging file moved over the warehouse in one atomic rename."""
from __future__ import annotations

import os
from pathlib import Path

from tongbi.errors import BuildError, WarehouseInUse

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not locked there
    fcntl = None  # type: ignore[assignment]


def staging_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".next" + (warehouse.suffix or ".duckdb"))


def wal_path(db: Path) -> Path:
    return Path(str(db) + ".wal")


# -------------------------------------------------------------------------------------- publish


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:  # pragma: no cover - platforms that cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _open_for_writing_elsewhere(db: Path) -> bool:
    """True when another process holds DuckDB's write lock (a POSIX record lock) on `db`."""
    if fcntl is None or not db.exists():
        return False
    fd = os.open(db, os.O_RDONLY)
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def publish(staging: Path, warehouse: Path, run_dir: Path | None = None) -> list[str]:
    """Move the staging file over the warehouse: atomic on one filesystem, and readers holding
    the old file keep reading the old version. Returns notes on anything set aside.

    The staging file is checkpointed first (its data must be in the file, not in a `.wal` that
    the rename would leave behind). A `.wal` beside the published file belongs to the old file;
    DuckDB refuses to open a file with a WAL that is not its own, so it is moved into the run's
    folder — unless a process still has the old file open for writing, then nothing is published.
    """
    import duckdb

    notes: list[str] = []
    con = duckdb.connect(str(staging))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if wal_path(staging).exists():
        raise BuildError(f"{staging} still has a write-ahead log after CHECKPOINT; not published")
    _fsync(staging)
    old_wal = wal_path(warehouse)
    if old_wal.exists():
        if _open_for_writing_elsewhere(warehouse):
            raise WarehouseInUse(f"{warehouse} is open for writing by another process; not published "
                                 f"(staging kept at {staging})")
        target = (run_dir or warehouse.parent) / (old_wal.name + ".stale")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old_wal, target)
        notes.append(f"moved the old warehouse's write-ahead log aside to {target}")
    os.replace(staging, warehouse)
    _fsync(warehouse.parent, directory=True)
    return notes
