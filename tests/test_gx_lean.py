"""tongbi/gate/gx_lean.py: while the gate validates, GX reads each expectation's configuration once
per call instead of once per key, and direct validations skip the batch fingerprint. What GX
computes from the kwargs must not change: every expectation of the project's suites gives the
same domain, success and runtime kwargs with and without the replacements, and a validation of
a frame with failing rows gives the same results."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tongbi.gate.gx_lean import lean_validation
from tongbi.gate.suites import load_suites
from tongbi.gate.validate import _build_expectation, _import_gx

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = [None, {}, {"result_format": {"result_format": "SUMMARY", "partial_unexpected_count": 20}},
           {"result_format": "COMPLETE", "catch_exceptions": False}]


def _kwargs(expectation) -> list:
    return [expectation._get_domain_kwargs(), expectation._get_success_kwargs(),
            *(expectation._get_runtime_kwargs(runtime_configuration=r) for r in RUNTIME)]


def test_every_suite_expectation_gives_the_same_kwargs_with_the_replacements() -> None:
    _import_gx()
    built = [_build_expectation(spec, suite) for suite in load_suites(ROOT / "expectations")
             for spec in suite.expectations]
    assert len({type(e).__name__ for e in built}) >= 5   # the suites use many expectation types
    before = [_kwargs(e) for e in built]
    with lean_validation(fingerprint=False):
        during = [_kwargs(e) for e in built]
    assert during == before
    assert [_kwargs(e) for e in built] == before


def _validate(gx, frame: pd.DataFrame, suite_expectations: list) -> tuple[list, dict]:
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("lean").add_dataframe_asset("frame")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    suite = gx.ExpectationSuite(name="lean", expectations=suite_expectations)
    outcome = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20})
    results = [(r.expectation_config.type, r.success, (r.result or {}).get("unexpected_count"),
                repr((r.result or {}).get("partial_unexpected_list"))) for r in outcome.results]   # repr: nan
    return results, dict(batch.metadata or {}) | {"markers": dict(batch.batch_markers)}


def test_a_validation_gives_the_same_results_and_skips_only_the_fingerprint() -> None:
    gx = _import_gx()
    frame = pd.DataFrame({"value": [1.0, 50.0, 120.0, None, -3.0], "code": ["a", "b", "b", "c", "zz"]})

    def expectations() -> list:
        return [gx.expectations.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=100),
                gx.expectations.ExpectColumnValuesToNotBeNull(column="value", mostly=0.9),
                gx.expectations.ExpectColumnValuesToBeInSet(column="code", value_set=["a", "b", "c"]),
                gx.expectations.ExpectColumnValueLengthsToBeBetween(column="code", min_value=1, max_value=1),
                gx.expectations.ExpectTableRowCountToBeBetween(min_value=1, max_value=10)]

    plain, plain_meta = _validate(gx, frame, expectations())
    with lean_validation(fingerprint=False):
        lean, lean_meta = _validate(gx, frame, expectations())
    assert lean == plain
    assert [r[1] for r in plain] == [False, False, False, False, True]
    assert "pandas_data_fingerprint" in plain_meta["markers"]
    assert "pandas_data_fingerprint" not in lean_meta["markers"]
    with lean_validation(fingerprint=True):
        kept, kept_meta = _validate(gx, frame, expectations())
    assert kept == plain and "pandas_data_fingerprint" in kept_meta["markers"]


def test_the_replacements_are_removed_when_the_block_ends_even_on_error() -> None:
    _import_gx()
    from great_expectations.execution_engine import pandas_execution_engine
    from great_expectations.expectations.expectation import Expectation

    originals = (Expectation._get_domain_kwargs, Expectation._get_runtime_kwargs, pandas_execution_engine.HASH_THRESHOLD)
    with pytest.raises(RuntimeError):
        with lean_validation(fingerprint=False):
            with lean_validation():
                assert Expectation._get_domain_kwargs is not originals[0]
            assert pandas_execution_engine.HASH_THRESHOLD == 0   # the outer block's setting holds
            raise RuntimeError("a failed validation")
    assert (Expectation._get_domain_kwargs, Expectation._get_runtime_kwargs,
            pandas_execution_engine.HASH_THRESHOLD) == originals
