"""Publishing: each version an immutable file, the warehouse's name a symlink swapped atomically.

`warehouse.duckdb` is a symbolic link to `warehouse.v<UTC time>.duckdb`, a file that is complete
(checkpointed, no write-ahead log, fsynced) before the link is pointed at it and is never written
again. A publish moves the staging file to a new version name and replaces the link with
rename(2) of a new link.

Why not rename the staging file over `warehouse.duckdb` (as before): DuckDB 2.0 opens a database
path three times — once for its magic bytes, once to prefetch the 12 KiB header (main header and
both database headers), then once more for the storage, whose reads start after the header
(magic_bytes.cpp, database_handle.cpp; strace shows the three openat calls). A rename between the
second and the third open gives the reader the header of one file and the blocks of another:
"Failed to load metadata pointer", "Could not read enough bytes", "field id mismatch". A busy
machine stretches the gap between those calls. DuckDB canonicalises the path with realpath(3)
once per attach, before those opens (DatabaseManager::AttachDatabase, LocalFileSystem::
CanonicalizePath), so through a symlink all three opens reach the same version file, which does
not change: a reader gets the old version or the new one, whole, however slowly it runs. DuckDB
names the catalog after the resolved file's name up to its first dot, so a version's name starts
with the warehouse's own and a dot: the catalog is still `warehouse`, which the `bi` views name.

Old versions: a reader that has a version open keeps reading it after it is unlinked (the kernel
frees it at the last close), so a version can go as soon as no reader can still be about to open
it by name — one that resolved the link just before the swap. A publish removes versions that
stopped being current more than `VERSION_GRACE_S` ago (and versions newer than the current one,
left by a publish that died before its swap: no reader ever saw them); the current and the
previous version stay.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import time
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


# A version superseded this long ago cannot be wanted by a reader still opening the link: the
# gap it covers is the one between two calls inside DuckDB's open (realpath, then open).
VERSION_GRACE_S = 600.0


def published_path(warehouse: Path) -> Path:
    """The warehouse's absolute path with its folder resolved but not its own name: the name is
    the symlink readers open, not the version it points to."""
    warehouse = Path(warehouse).expanduser()
    return warehouse.absolute().parent.resolve() / warehouse.name


def _version_re(warehouse: Path) -> re.Pattern[str]:
    suffix = warehouse.suffix or ".duckdb"
    return re.compile(re.escape(warehouse.stem) + r"\.v(\d{8}T\d{12}Z(?:-\d+)?)" + re.escape(suffix) + "$")


def versions(warehouse: Path) -> list[Path]:
    """The version files beside `warehouse`, oldest first."""
    pattern = _version_re(warehouse)
    found = [p for p in warehouse.parent.iterdir() if pattern.match(p.name)] if warehouse.parent.exists() else []
    return sorted(found, key=lambda p: pattern.match(p.name).group(1))  # type: ignore[union-attr]


def current_version(warehouse: Path) -> Path | None:
    """The version file the warehouse's link points to (None when it is no link)."""
    if not warehouse.is_symlink():
        return None
    return warehouse.parent / os.readlink(warehouse)


def _new_version_path(warehouse: Path) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = warehouse.suffix or ".duckdb"
    path = warehouse.with_name(f"{warehouse.stem}.v{stamp}{suffix}")
    n = 1
    while path.exists() or path.is_symlink():
        path = warehouse.with_name(f"{warehouse.stem}.v{stamp}-{n}{suffix}")
        n += 1
    return path


def remove_old_versions(warehouse: Path, grace_s: float = VERSION_GRACE_S, now: float | None = None) -> list[str]:
    """Remove the versions no reader can still be opening (module docstring); returns notes."""
    current = current_version(warehouse)
    if current is None:
        return []
    now = time.time() if now is None else now
    all_versions = versions(warehouse)
    if current not in all_versions:
        return []
    notes: list[str] = []
    at = all_versions.index(current)
    doomed = all_versions[at + 1:]       # never pointed at: a publish died before its swap
    for older, successor in zip(all_versions[:at], all_versions[1:at + 1]):
        if successor == current:
            continue                     # the previous version stays until the next publish
        try:
            superseded_at = successor.stat().st_mtime   # set just before its swap (publish)
        except OSError:
            continue
        if now - superseded_at > grace_s:
            doomed.append(older)
    for path in doomed:
        for p in (path, wal_path(path)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                notes.append(f"could not remove the old version {p}: {exc}")
        notes.append(f"removed the old version {path.name}")
    return notes


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


def publish(staging: Path, warehouse: Path, run_dir: Path | None = None,
            grace_s: float = VERSION_GRACE_S) -> list[str]:
    """Publish the staging file as the warehouse's new version (module docstring): readers that
    opened an older version keep reading it. Returns notes on anything set aside or removed.

    The staging file is checkpointed first (its data must be in the file, not in a `.wal`). A
    `.wal` beside the published file means a process opened it for writing: while that process
    holds it nothing is published; otherwise the log is moved into the run's folder.
    """
    import duckdb

    notes: list[str] = []
    warehouse = published_path(warehouse)
    con = duckdb.connect(str(staging))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if wal_path(staging).exists():
        raise BuildError(f"{staging} still has a write-ahead log after CHECKPOINT; not published")
    _fsync(staging)
    published = current_version(warehouse) or warehouse
    old_wal = wal_path(published)
    if old_wal.exists():
        if _open_for_writing_elsewhere(published):
            raise WarehouseInUse(f"{warehouse} is open for writing by another process; not published "
                                 f"(staging kept at {staging})")
        target = (run_dir or warehouse.parent) / (old_wal.name + ".stale")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old_wal, target)
        notes.append(f"moved the old warehouse's write-ahead log aside to {target}")
    version = _new_version_path(warehouse)
    os.replace(staging, version)
    os.utime(version)  # the moment its predecessor stops being current (remove_old_versions)
    link = warehouse.with_name(f".{warehouse.name}.link")  # one publisher at a time (the run's lock)
    try:
        link.unlink()
    except FileNotFoundError:
        pass
    os.symlink(version.name, link)
    os.replace(link, warehouse)
    _fsync(warehouse.parent, directory=True)
    notes += remove_old_versions(warehouse, grace_s)
    return notes
