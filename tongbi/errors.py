"""Errors that end a run with a one-line reason and their own exit code.

Exit codes of `tongbi run`: 0 published (or nothing changed), with or without quarantined
documents (the JSON `run_end` event's `quarantined` counts them: 0 on a clean publish); 1 unexpected error; 2 no readable
bulletins; 3 dbt build failed; 4 quality gate failed (with --strict, any error-level check;
else one that cannot be traced to documents, or more than --max-quarantine of them); 5 another run is in progress: it holds the
warehouse's run lock (a second run exits at once unless `--wait SECONDS`) or the project's build
lock and did not let go in time; 6 a process other than tongbi holds the published warehouse
open for writing (not read-only), so it cannot be read or replaced safely. On every non-zero
code the published warehouse is untouched.
"""
from __future__ import annotations


class TongbiError(Exception):
    exit_code = 1


class BuildError(TongbiError):
    """dbt build failed: the staging warehouse is kept, nothing is published."""
    exit_code = 3


class GateFailed(TongbiError):
    """An expectation of severity error failed: nothing is published."""
    exit_code = 4


class NoDocuments(TongbiError):
    exit_code = 2


class Busy(TongbiError):
    """Another live run holds the lock this run needs: nothing is done, nothing is published.
    A scheduler can tell this exit code (an overlapping run, skipped) from a failure."""
    exit_code = 5


class WarehouseInUse(TongbiError):
    """A process opened the published warehouse read-write (DuckDB's write lock): readers must
    open it read-only. Nothing is published."""
    exit_code = 6
