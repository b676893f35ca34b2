"""Data Docs that open with no network: GX's CDN assets served from the site's own static/ folder.

Great Expectations' page templates load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega and
its own logo from CDNs; opened from disk on a server without internet access, the validation pages
lose their styling and the index page's tables (built by bootstrap-table) stay empty. The assets
are vendored in data_docs_static/ (assets.toml names each one, its npm package, version, licence
and the CDN addresses the templates use); after every build `make_offline` copies them into the
site's static/vendor/, points every page at them with paths relative to the page, and returns a
note for each reference that still leaves the disk or names a file that is not there.

    python -m tongbi.gate.offline vendor     # re-pack the assets from npm (needs npm)
    python -m tongbi.gate.offline check DIR  # list a built site's online or missing references
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().with_name("data_docs_static")
MANIFEST = ASSETS_DIR / "assets.toml"
SITE_VENDOR = Path("static") / "vendor"  # inside the Data Docs site


class DataDocsAssetError(Exception):
    """A bad asset manifest entry or a vendored file that does not match it."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}{f':{line}' if line else ''}: {message}")


@dataclass(frozen=True)
class AssetFile:
    path: str                  # inside the npm package
    urls: tuple[str, ...]      # the CDN addresses GX's templates load it from
    sri: str | None = None     # the template's own integrity attribute, which the file must match


@dataclass(frozen=True)
class AssetPackage:
    name: str
    version: str
    integrity: str             # of the npm tarball
    license: str
    license_files: tuple[str, ...]
    license_text: str | None
    files: tuple[AssetFile, ...]

    @property
    def folder(self) -> str:
        """Where the package's files live, in data_docs_static/ and in the site's static/vendor/."""
        return f"{self.name.lstrip('@').replace('/', '-')}@{self.version}"


@dataclass(frozen=True)
class SiteFile:
    path: str                  # inside the site, e.g. static/images/logo-long.png
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    packages: tuple[AssetPackage, ...]
    site_files: tuple[SiteFile, ...]
    source_dir: Path

    def url_targets(self) -> dict[str, Path]:
        """Each CDN address (without its query) -> the file it becomes, relative to the site root."""
        targets: dict[str, Path] = {}
        for pkg in self.packages:
            for f in pkg.files:
                for url in f.urls:
                    targets[url] = SITE_VENDOR / pkg.folder / f.path
        for sf in self.site_files:
            for url in sf.urls:
                targets[url] = Path(sf.path)
        return targets


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return None if at < 0 else text.count("\n", 0, at) + 1


def load_manifest(path: Path = MANIFEST) -> Manifest:
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataDocsAssetError(path, None, str(exc)) from exc
    packages: list[AssetPackage] = []
    for entry in data.get("package", []):
        where = _line_of(text, f'name = "{entry.get("name")}"')
        try:
            files = tuple(AssetFile(f["path"], tuple(f.get("urls", ())), f.get("sri")) for f in entry["files"])
            pkg = AssetPackage(entry["name"], entry["version"], entry["integrity"], entry["license"],
                               tuple(entry.get("license_files", ())), entry.get("license_text"), files)
        except (KeyError, TypeError) as exc:
            raise DataDocsAssetError(path, where, f"package entry lacks {exc}") from exc
        if not pkg.license_files and not pkg.license_text:
            raise DataDocsAssetError(path, where, f"{pkg.name}@{pkg.version} has neither license_files nor license_text")
        packages.append(pkg)
    site_files = tuple(SiteFile(e["path"], tuple(e["urls"])) for e in data.get("site_file", []))
    return Manifest(tuple(packages), site_files, path.parent)


# --------------------------------------------------------------------------------- the site

_TAG = re.compile(r"<(script|link|img)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""\s(src|href)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
# file:// pages have an opaque origin: a crossorigin attribute turns the load into a CORS request
# the file cannot answer, and an integrity check then fails; both are dropped where a tag now points
# at the copy on disk (the vendor step has checked those copies against the templates' hashes).
_CORS_ATTRS = re.compile(r"""\s(?:integrity|crossorigin)\s*=\s*(["']).*?\1""", re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


def _relative(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target, page_dir)).as_posix()


def _rewrite(text: str, page_dir: Path, site: Path, targets: dict[str, Path]) -> str:
    def local(url: str) -> str | None:
        target = targets.get(url.split("?", 1)[0])
        if target is not None:
            return _relative(site / target, page_dir)
        # GX counts one "../" too few for the favicon of a validation page (favicon.j2 vs
        # top_navbar.j2): a relative static/ path that misses is anchored at the site's static/.
        rel = url.split("?", 1)[0]
        at = rel.find("static/")
        if at < 0 or "://" in rel or rel.startswith(("/", "data:")) or (page_dir / rel).is_file():
            return None
        return _relative(site / rel[at:], page_dir) if (site / rel[at:]).is_file() else None

    def tag(match: re.Match[str]) -> str:
        original = match.group(0)
        attr = _ATTR.search(original)
        new = local(attr.group(3)) if attr else None
        if attr is None or new is None:
            return original
        out = original[:attr.start(3)] + new + original[attr.end(3):]
        return _CORS_ATTRS.sub("", out)

    def css(match: re.Match[str]) -> str:
        new = local(match.group(2))
        return match.group(0) if new is None else f"url('{new}')"

    return _CSS_URL.sub(css, _TAG.sub(tag, text))


def copy_assets(site: Path, manifest: Manifest) -> None:
    for pkg in manifest.packages:
        src, dst = manifest.source_dir / pkg.folder, site / SITE_VENDOR / pkg.folder
        for rel in [f.path for f in pkg.files] + (["LICENSE"] if pkg.license_text else list(pkg.license_files)):
            if not (src / rel).is_file():
                raise DataDocsAssetError(manifest.source_dir / "assets.toml", None,
                                         f"{src / rel} is missing: run `python -m tongbi.gate.offline vendor`")
            if (dst / rel).is_file() and (dst / rel).read_bytes() == (src / rel).read_bytes():
                continue
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dst / rel)


def make_offline(site: Path, manifest_path: Path = MANIFEST) -> list[str]:
    """Serve a built Data Docs site's CDN assets from its static/vendor/; notes on what still is not local."""
    manifest = load_manifest(manifest_path)
    copy_assets(site, manifest)
    targets = manifest.url_targets()
    for path in sorted([*site.rglob("*.html"), *(site / "static" / "styles").glob("*.css")]):
        text = path.read_text(encoding="utf-8")
        new = _rewrite(text, path.parent, site, targets)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return [f"Data Docs: {ref.where}: {ref.problem}" for ref in check_site(site) if ref.problem]


# ------------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Reference:
    """One resource a page or style sheet loads."""
    file: Path
    line: int
    url: str
    resolved: Path | None      # the local file, None for a network address or a data: URI

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def problem(self) -> str | None:
        if re.match(r"(?i)(https?:)?//", self.url):
            return f"{self.url} is loaded from the network"
        if self.resolved is not None and not self.resolved.is_file():
            return f"{self.url} names {self.resolved}, which does not exist"
        return None


class _ResourceParser(html.parser.HTMLParser):
    """The resources a page loads: script src, link href (style sheets, icons), img src, inline CSS url()."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        line = self.getpos()[0]
        if tag in ("script", "img") and a.get("src"):
            self.found.append((line, a["src"] or ""))
        elif tag == "link" and a.get("href") and (a.get("rel") or "").lower() in (
                "stylesheet", "icon", "shortcut icon", "preload", "modulepreload"):
            self.found.append((line, a["href"] or ""))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            line = self.getpos()[0]
            for m in _CSS_URL.finditer(data):
                self.found.append((line + data.count("\n", 0, m.start()), m.group(2)))


def _resolve(url: str, base: Path) -> Path | None:
    if url.startswith("data:") or re.match(r"(?i)(https?:)?//", url):
        return None
    return (base / url.split("?", 1)[0].split("#", 1)[0]).resolve()


def references(path: Path) -> Iterator[Reference]:
    """What one page or style sheet loads, each with the file it resolves to."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".css":
        found = [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in _CSS_URL.finditer(text)]
    else:
        parser = _ResourceParser()
        parser.feed(text)
        found = parser.found
    for line, url in found:
        yield Reference(path, line, url, _resolve(url, path.parent))


def check_site(site: Path, pages: Sequence[Path] | None = None) -> list[Reference]:
    """Every resource the site's pages (or the given ones) load, following local style sheets to what they load."""
    refs: list[Reference] = []
    seen: set[Path] = set()
    queue = sorted(site.rglob("*.html")) if pages is None else list(pages)
    while queue:
        path = queue.pop(0)
        for ref in references(path):
            refs.append(ref)
            if ref.resolved and ref.resolved.suffix == ".css" and ref.resolved.is_file() and ref.resolved not in seen:
                seen.add(ref.resolved)
                queue.append(ref.resolved)
    return refs


# ------------------------------------------------------------------------------ vendoring


def _npm_pack(spec: str, workdir: Path) -> tuple[Path, str]:
    out = subprocess.run(["npm", "pack", spec, "--json", "--silent"], cwd=workdir, check=True,
                         capture_output=True, text=True).stdout
    info = json.loads(out)[0]
    return workdir / info["filename"], info["integrity"]


def _sri(data: bytes, algorithm: str) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def vendor(manifest_path: Path = MANIFEST) -> list[Path]:
    """Pack each package with npm, check it, and copy its listed files and licence into the manifest's folder."""
    manifest = load_manifest(manifest_path)
    text = manifest_path.read_text(encoding="utf-8")
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in manifest.packages:
            where = _line_of(text, f'version = "{pkg.version}"')
            tarball, integrity = _npm_pack(f"{pkg.name}@{pkg.version}", Path(tmp))
            tar_sri = _sri(tarball.read_bytes(), "sha512")
            if integrity != pkg.integrity or tar_sri != pkg.integrity:
                raise DataDocsAssetError(manifest_path, where,
                                         f"{pkg.name}@{pkg.version}: tarball is {tar_sri}, expected {pkg.integrity}")
            dest = manifest.source_dir / pkg.folder
            shutil.rmtree(dest, ignore_errors=True)
            with tarfile.open(tarball) as tar:
                for rel in [f.path for f in pkg.files] + list(pkg.license_files):
                    member = tar.extractfile(f"package/{rel}")
                    if member is None:
                        raise DataDocsAssetError(manifest_path, where, f"{pkg.name}@{pkg.version} has no {rel}")
                    data = member.read()
                    sri = next((f.sri for f in pkg.files if f.path == rel), None)
                    if sri and _sri(data, sri.split("-", 1)[0]) != sri:
                        raise DataDocsAssetError(manifest_path, where,
                                                 f"{pkg.name}@{pkg.version} {rel} does not match the template's {sri}")
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    (dest / rel).write_bytes(data)
                    written.append(dest / rel)
            if pkg.license_text:
                (dest / "LICENSE").write_text(
                    f"{pkg.name}@{pkg.version} ({pkg.license})\n{pkg.license_text}", encoding="utf-8")
                written.append(dest / "LICENSE")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tongbi.gate.offline", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("vendor", help="re-pack the assets named in data_docs_static/assets.toml (needs npm)")
    check = sub.add_parser("check", help="list a Data Docs site's references that are online or missing")
    check.add_argument("site", type=Path)
    args = parser.parse_args(argv)
    if args.command == "vendor":
        for path in vendor():
            print(path.relative_to(ASSETS_DIR.parent))
        return 0
    problems = [ref for ref in check_site(args.site) if ref.problem]
    for ref in problems:
        print(f"{ref.where}: {ref.problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
