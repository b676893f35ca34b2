"""What an interrupted run leaves behind, removed by the next one."""
from __future__ import annotations

from pathlib import Path

from loaders.seeds import LOADER_SEEDS
from loaders.vocabulary import SEEDS_DIR

from .publish import wal_path


def recover(staging: Path) -> list[str]:
    """Remove what an interrupted run left: the staging file and its write-ahead log."""
    removed = []
    for path in (staging, wal_path(staging)):
        if path.exists():
            path.unlink()
            removed.append(str(path))
    return removed


def recover_seeds() -> list[str]:
    """Remove half-written seed files (`*.csv.tmp`) of a run killed while writing them."""
    removed = []
    for name in LOADER_SEEDS:
        tmp = SEEDS_DIR / (name + ".tmp")
        if tmp.exists():
            tmp.unlink()
            removed.append(str(tmp))
    return removed
