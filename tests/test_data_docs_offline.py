"""Data Docs that open with no network (tongbi/gate/offline.py).

The gate builds its Data Docs site on a small warehouse with planted faults (the one
tests/test_quality.py builds); the site is then opened from disk in headless Chromium with every
network address unreachable. The index must list each validation of the run in its sortable,
filterable table, and the browser must report no failed load. Chromium comes from Debian
(.ci/run installs it); without it the browser tests skip, unless TONGBI_REQUIRE_BROWSER is set.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from headless import Browser, PageVisit, find_chromium
from test_quality import BROKEN_INDUSTRY, BROKEN_REGION, BROKEN_SQL, SUITES, build_warehouse

from tongbi.gate.offline import MANIFEST, SITE_VENDOR, check_site, load_manifest, make_offline
from tongbi.gate import GateResult, run_gate

CHROMIUM = find_chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("TONGBI_REQUIRE_BROWSER"),
    reason="chromium not found (apt-get install chromium; .ci/run installs it)",
)
VALIDATIONS_TABLE = "table.ge-index-page-validation-results-table"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GateResult]:
    folder = tmp_path_factory.mktemp("offline_docs")
    db = build_warehouse(folder / "warehouse.duckdb", BROKEN_REGION, BROKEN_INDUSTRY, BROKEN_SQL)
    docs = folder / "data_docs"
    return docs, run_gate(db, SUITES, docs)


@pytest.fixture(scope="module")
def browser() -> Any:
    if CHROMIUM is None:
        pytest.fail("TONGBI_REQUIRE_BROWSER is set but no chromium is installed")
    with Browser(CHROMIUM) as b:
        yield b


def validation_pages(docs: Path) -> set[str]:
    return {p.relative_to(docs).as_posix() for p in docs.glob("validations/**/*.html")}


def assert_offline_visit(visit: PageVisit) -> None:
    assert visit.failed == [], visit.failed
    assert visit.exceptions == [], visit.exceptions
    assert visit.console_errors == [], visit.console_errors
    assert [u for u in visit.requested if not u.startswith(("file:", "data:"))] == []


# ------------------------------------------------------------------------------ the assets


def test_vendored_assets_match_their_manifest() -> None:
    manifest = load_manifest(MANIFEST)
    assert manifest.packages
    for pkg in manifest.packages:
        folder = MANIFEST.parent / pkg.folder
        licences = ["LICENSE"] if pkg.license_text else list(pkg.license_files)
        for name in licences:
            assert (folder / name).stat().st_size > 200, f"{pkg.name}@{pkg.version}: no licence text"
        for f in pkg.files:
            data = (folder / f.path).read_bytes()
            if f.sri:  # the hash GX's own template pins for this file
                algorithm, digest = f.sri.split("-", 1)
                assert base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == digest, f.path


def test_every_cdn_address_in_the_gx_templates_has_a_local_copy() -> None:
    """A GX upgrade that adds a CDN address fails here, before any page points at the network."""
    import great_expectations  # noqa: PLC0415

    view = Path(great_expectations.__file__).parent / "render" / "view"
    used: set[str] = set()
    for path in [*view.glob("templates/*.j2"), *view.glob("static/styles/*.css")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""<(?:script|img)\b[^>]*\ssrc\s*=\s*["'](https?://[^"'{]+)["']""", text))
        used |= set(re.findall(r"""<link\b[^>]*\shref\s*=\s*["'](https?://[^"'{]+)["']""", text))
        used |= set(re.findall(r"""url\(\s*["']?(https?://[^"')]+)""", text))
        # top_navbar.j2 builds its logo's address from a prefix
        for prefix in re.findall(r"""static_images_dir\s*=\s*["'](https?://[^"']+)["']""", text):
            used |= {prefix + name for name in re.findall(r"""static_images_dir \+ ["']([^"']+)["']""", text)}
    assert used, "no CDN address found in the templates: has GX moved them?"
    targets = load_manifest(MANIFEST).url_targets()
    assert sorted(used - set(targets)) == []


# -------------------------------------------------------------------------------- the pages


def test_pages_load_only_files_of_the_site(site: tuple[Path, GateResult]) -> None:
    docs, result = site
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) > len(validation_pages(docs)) > 0
    assert not [n for n in result.notes if n.startswith("Data Docs")], result.notes
    for page in pages:
        text = page.read_text(encoding="utf-8")
        online = [tag for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", text) if re.search(r"https?://", tag)]
        assert online == [], f"{page}: {online}"
        assert "integrity=" not in text and "crossorigin=" not in text, page
    refs = check_site(docs)
    local = [r for r in refs if r.resolved is not None]
    # each page: 6 style sheets, 9 scripts, favicon, logo; and the fonts its style sheets load
    assert len(local) >= 17 * len(pages)
    assert [f"{r.where}: {r.problem}" for r in refs if r.problem] == []
    assert any(r.resolved.suffix == ".woff2" for r in local if r.resolved)


def test_a_second_build_changes_nothing(site: tuple[Path, GateResult], tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    shutil.copytree(site[0], docs)
    before = {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()}
    assert make_offline(docs) == []
    assert {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()} == before


def test_the_next_run_into_the_same_site_is_offline_too(site: tuple[Path, GateResult], tmp_path: Path) -> None:
    """runs/data_docs serves every run: GX replaces the earlier run's pages with the new run's."""
    docs = tmp_path / "data_docs"
    shutil.copytree(site[0], docs)
    earlier = validation_pages(docs)
    result = run_gate(site[0].parent / "warehouse.duckdb", SUITES, docs)
    assert not [n for n in result.notes if n.startswith("Data Docs")], result.notes
    latest = validation_pages(docs)
    assert len(latest) == len(earlier) and not latest & earlier
    assert [f"{r.where}: {r.problem}" for r in check_site(docs) if r.problem] == []
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert all(page in index for page in latest)


def test_an_unknown_cdn_address_is_reported_with_its_page_and_line(site: tuple[Path, GateResult],
                                                                 tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    shutil.copytree(site[0], docs)
    page = docs / "extra.html"
    page.write_text('<html><head>\n<script src="static/vendor/none.js"></script>\n'
                    '<script src="https://cdn.example.org/unknown@1/x.js"></script>\n</head></html>\n',
                    encoding="utf-8")
    notes = make_offline(docs)
    assert notes == [f"Data Docs: {page}:2: static/vendor/none.js names {docs / SITE_VENDOR / 'none.js'}, "
                     "which does not exist",
                     f"Data Docs: {page}:3: https://cdn.example.org/unknown@1/x.js is loaded from the network"]


# ------------------------------------------------------------------------------ the browser

INDEX_STATE = f"""
(() => {{
  const table = $('{VALIDATIONS_TABLE}');
  const options = table.bootstrapTable('getOptions');
  return {{
    rows: document.querySelectorAll('{VALIDATIONS_TABLE} > tbody > tr').length,
    total: options.totalRows, pageSize: options.pageSize,
    links: table.bootstrapTable('getData').map(r => r._table_row_link_path),
    suites: $('table.ge-index-page-expectation_suites-table').bootstrapTable('getData')
      .map(r => r.expectation_suite_name),
    sortable: [...document.querySelectorAll('{VALIDATIONS_TABLE} th .sortable')].map(e => e.textContent.trim()),
    filters: [...document.querySelectorAll('{VALIDATIONS_TABLE} .filter-control select, '
                                          + '{VALIDATIONS_TABLE} .filter-control input')].length,
    icon_font: getComputedStyle(document.querySelector('{VALIDATIONS_TABLE} .ge-failed-icon'), '::before').fontFamily,
    fonts_loaded: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family),
  }};
}})()
"""

# The Status filter set to "Failed", as a user would pick it; filter-control applies it after a delay.
FILTER_FAILED = f"""
new Promise(resolve => {{
  const select = document.querySelector('{VALIDATIONS_TABLE} .bootstrap-table-filter-control-validation_success');
  select.value = [...select.options].map(o => o.value).find(v => v === 'Failed');
  $(select).trigger('change');
  setTimeout(() => resolve({{
    shown: document.querySelectorAll('{VALIDATIONS_TABLE} > tbody > tr').length,
    shown_failed: document.querySelectorAll('{VALIDATIONS_TABLE} > tbody > tr .ge-failed-icon').length,
    matching: $('{VALIDATIONS_TABLE}').bootstrapTable('getData').length,
  }}), 1500);
}})
"""

# A click on the Expectation Suite header sorts the table by it.
SORT_BY_SUITE = f"""
new Promise(resolve => {{
  const header = [...document.querySelectorAll('{VALIDATIONS_TABLE} th')]
    .find(th => th.textContent.trim().startsWith('Expectation Suite'));
  const column = [...header.parentNode.children].indexOf(header);
  header.querySelector('.sortable').click();
  setTimeout(() => resolve([...document.querySelectorAll('{VALIDATIONS_TABLE} > tbody > tr')]
    .map(tr => tr.children[column].textContent.trim())), 500);
}})
"""


@needs_browser
def test_the_index_lists_the_runs_validations_offline(site: tuple[Path, GateResult], browser: Browser) -> None:
    docs, _ = site
    visit = browser.visit((docs / "index.html").resolve().as_uri(), INDEX_STATE)
    assert_offline_visit(visit)
    state = visit.value
    pages = validation_pages(docs)
    assert state["total"] == len(pages) and set(state["links"]) == pages
    assert state["rows"] == min(len(pages), state["pageSize"]) > 0
    assert set(state["suites"]) >= {Path(p).parts[1] for p in pages}
    assert {"Status", "Run Time", "Expectation Suite"} <= set(state["sortable"])
    assert state["filters"] >= 2
    assert "Font Awesome" in state["icon_font"] and any("Font Awesome" in f for f in state["fonts_loaded"])

    failed = browser.visit((docs / "index.html").resolve().as_uri(), FILTER_FAILED)
    assert_offline_visit(failed)
    counts = failed.value
    assert 0 < counts["matching"] < len(pages)  # the planted faults fail some validations, not all
    assert counts["shown"] == counts["shown_failed"] == min(counts["matching"], state["pageSize"])

    sorted_visit = browser.visit((docs / "index.html").resolve().as_uri(), SORT_BY_SUITE)
    names = sorted_visit.value
    assert len(names) == state["rows"] and names == sorted(names) and names != []


@needs_browser
def test_a_validation_page_loads_offline(site: tuple[Path, GateResult], browser: Browser) -> None:
    docs, _ = site
    page = sorted(docs.glob("validations/**/*.html"))[0]
    visit = browser.visit(page.resolve().as_uri(),
                          "[document.querySelectorAll('table').length, typeof jQuery, typeof vegaEmbed]")
    assert_offline_visit(visit)
    assert visit.value[0] > 0 and visit.value[1:] == ["function", "function"]


@needs_browser
def test_the_browser_reports_what_it_cannot_load(site: tuple[Path, GateResult], browser: Browser) -> None:
    """The check above can fail: a page still pointing at a CDN shows its failed loads."""
    page = site[0] / "online.html"  # beside index.html, so its other references still resolve
    index = (site[0] / "index.html").read_text(encoding="utf-8")
    page.write_text(re.sub(r'src="[^"]*jquery\.min\.js"', 'src="https://code.jquery.com/jquery-3.7.1.min.js"', index),
                    encoding="utf-8")
    try:
        visit = browser.visit(page.resolve().as_uri())
    finally:
        page.unlink()
    assert [url for url, _ in visit.failed] == ["https://code.jquery.com/jquery-3.7.1.min.js"]
    assert visit.exceptions  # with no jQuery, GX's table script throws
