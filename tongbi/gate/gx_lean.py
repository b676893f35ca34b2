"""Work GX 1.24 repeats while it validates a batch, and that the gate does not need done more than
once, switched off for the duration of a validation (`lean_validation`).

- `Expectation.configuration` is a property that serialises the whole pydantic model into a new
  ExpectationConfiguration each time it is read, and GX reads it once per domain, success and
  runtime key of every expectation, several times per validation: a sixth of the gate's time on
  an incremental run into 10,000 documents. The replacements read it once per call; what they
  return is what GX's own methods return (tests/test_gx_lean.py compares them).
- A pandas batch is fingerprinted (an md5 over `hash_pandas_object` of the whole dataframe, about
  8 % of the gate) for GX's validation-result stores. The direct validation (no stores, no Data
  Docs) keeps no result, so `fingerprint=False` skips it; validations kept for the Data Docs keep it.

GX is pinned (pyproject.toml); with any other version of it, nothing is replaced.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

GX_VERSION = "1.24.1"

# The replacements are process-wide while installed: validations in two threads at once (the
# gate runs one at a time, but the scheduled process keeps one interpreter) share one install.
_LOCK = threading.Lock()
_DEPTH = [0]
_SAVED: list[tuple[Any, Any, Any, Any]] = []


def _domain_kwargs(self: Any) -> dict[str, Any]:
    kwargs = self.configuration.kwargs
    return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}


def _success_from(self: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update((key, kwargs.get(key, self._get_default_value(key))) for key in self.domain_keys)
    return success


def _success_kwargs(self: Any) -> dict[str, Any]:
    return _success_from(self, self.configuration.kwargs)


def _runtime_kwargs(self: Any, runtime_configuration: dict | None = None) -> dict:
    from great_expectations.expectations.expectation import parse_result_format  # noqa: PLC0415

    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs

    def success_kwarg(key: str) -> Any:   # Expectation._get_success_kwarg, on kwargs read once
        if key in kwargs:
            return kwargs[key]
        field = self.__fields__.get(key)
        return (field.default if not field.required else None) if field is not None else None

    runtime = {key: runtime_configuration.get(key, success_kwarg(key)) for key in self.runtime_keys}
    runtime.update(_success_from(self, kwargs))
    runtime["result_format"] = parse_result_format(runtime["result_format"])
    return runtime


@contextmanager
def lean_validation(fingerprint: bool = True) -> Iterator[None]:
    """While the block runs, GX reads each expectation's configuration once per call, and (without
    `fingerprint`) leaves pandas batches unfingerprinted. Nested and concurrent blocks are safe:
    the first to enter installs, the last to leave restores."""
    import great_expectations as gx  # noqa: PLC0415 - the caller has imported it

    if gx.__version__ != GX_VERSION:
        yield
        return
    from great_expectations.execution_engine import pandas_execution_engine  # noqa: PLC0415
    from great_expectations.expectations.expectation import Expectation  # noqa: PLC0415

    with _LOCK:
        if _DEPTH[0] == 0:
            saved = (Expectation._get_domain_kwargs, Expectation._get_success_kwargs,
                     Expectation._get_runtime_kwargs, pandas_execution_engine.HASH_THRESHOLD)
            _SAVED.append(saved)
            Expectation._get_domain_kwargs = _domain_kwargs
            Expectation._get_success_kwargs = _success_kwargs
            Expectation._get_runtime_kwargs = _runtime_kwargs
        _DEPTH[0] += 1
        threshold = pandas_execution_engine.HASH_THRESHOLD
        if not fingerprint:
            pandas_execution_engine.HASH_THRESHOLD = 0   # `memory_usage() < 0` never holds
    try:
        yield
    finally:
        with _LOCK:
            pandas_execution_engine.HASH_THRESHOLD = threshold
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0:
                (Expectation._get_domain_kwargs, Expectation._get_success_kwargs,
                 Expectation._get_runtime_kwargs, pandas_execution_engine.HASH_THRESHOLD) = _SAVED.pop()

