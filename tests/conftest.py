from __future__ import annotations

import os
from pathlib import Path

import pytest

from loaders.documents import ScriptConverter
from loaders.extraction import Extractor
from loaders.vocabulary import load_vocabulary

PROJECT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TONGBI_SHARED", PROJECT.parent / "shared"))

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real bulletins and gold labels live outside the project, in ../shared."""
    if not (SHARED / "gold").is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): real-corpus tests need it (CI has it)")
    return SHARED


@pytest.fixture(scope="session")
def vocab():
    return load_vocabulary()


@pytest.fixture(scope="session")
def converter() -> ScriptConverter:
    return ScriptConverter()


@pytest.fixture(scope="session")
def extractor(vocab) -> Extractor:
    return Extractor(vocab)
