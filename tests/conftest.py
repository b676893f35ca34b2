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


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory) -> Path:
    """A folder holding `bulletins/` (the samples), the `warehouse.duckdb` that `tongbi run`
    published from them, and `runs/` (extraction cache, history), built once per session for
    tests/test_incremental.py and tests/test_serving.py. The run is made from inside the folder
    with relative paths, so a copy of the folder (`clone_site`) is the same site elsewhere: a
    run there finds nothing changed."""
    import shutil

    from tongbi.cli import main

    site = tmp_path_factory.mktemp("site")
    shutil.copytree(PROJECT / "data" / "bulletins", site / "bulletins")
    cwd = os.getcwd()
    os.chdir(site)
    try:
        assert main(["run", "bulletins", "--warehouse", "warehouse.duckdb", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return site


def clone_site(site: Path, target: Path) -> Path:
    """Copy a sample site (see `sample_site`) to `target`; the summaries of its runs stay behind."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(site / "bulletins", target / "bulletins")
    shutil.copy2(site / "warehouse.duckdb", target / "warehouse.duckdb")
    shutil.copytree(site / "runs" / "cache", target / "runs" / "cache")
    return target


@pytest.fixture(scope="session")
def five_runs(sample_site, tmp_path_factory):
    """Five `tongbi run`s of a copy of the sample site while four reader processes query it (see
    tests/readers.py): the rebuild checked by tests/test_incremental.py, the readers by
    tests/test_serving.py. Run once per session."""
    from readers import five_runs_under_readers

    root = tmp_path_factory.mktemp("five_runs")
    return five_runs_under_readers(clone_site(sample_site, root / "site"), root / "readers")
