"""What the gate found: one `CheckResult` per expectation, and the `GateResult` of a run."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .suites import MAIN_DATASET


# ------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation (or of reading one dataset) in one gate run."""

    suite: str
    expectation: str                 # the check name (meta.check)
    columns: tuple[str, ...]
    severity: str                    # error | warning
    success: bool
    observed: str                    # short human-readable text
    unexpected_count: int
    failing_rows: list[dict[str, Any]] = field(default_factory=list)
    expectation_type: str = ""
    dataset: str = MAIN_DATASET
    element_count: int | None = None
    description: str = ""

    @property
    def blocking(self) -> bool:
        """A failed error-severity check: it blocks publishing."""
        return not self.success and self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "dataset": self.dataset,
            "expectation": self.expectation,
            "expectation_type": self.expectation_type,
            "columns": list(self.columns),
            "severity": self.severity,
            "success": self.success,
            "observed": self.observed,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "description": self.description,
            "failing_rows": self.failing_rows,
        }


@dataclass
class GateResult:
    """All check results of one gate run."""

    results: list[CheckResult]
    db_path: str = ""
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    timings: dict[str, float] = field(default_factory=dict)
    docs_index: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no error-severity check failed."""
        return not any(r.blocking for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        failed = [r for r in self.results if not r.success]
        return {
            "checks": len(self.results),
            "passed": len(self.results) - len(failed),
            "failed": len(failed),
            "failed_error": sum(1 for r in failed if r.severity == "error"),
            "failed_warning": sum(1 for r in failed if r.severity == "warning"),
        }

    def get(self, suite: str, expectation: str) -> CheckResult:
        """The result of one check, by suite and check name."""
        for r in self.results:
            if r.suite == suite and r.expectation == expectation:
                return r
        raise KeyError(f"{suite}.{expectation}")

    def failures(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results
                if not r.success and (severity is None or r.severity == severity)]
