"""Errors that end a run with a one-line reason and their own exit code.

Exit codes of `tongbi run`: 0 published; 1 unexpected error; 2 no readable bulletins;
3 dbt build failed; 4 quality gate failed; 5 another run holds the warehouse (or the project's
build) and did not let go in time. On every non-zero code the published warehouse is untouched.
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
    """Another live run holds the lock this run needs (or a process has the warehouse open for
    writing at publish time): nothing is published."""
    exit_code = 5
