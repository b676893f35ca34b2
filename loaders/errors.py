"""Errors that end a run with a one-line reason and their own exit code."""
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
