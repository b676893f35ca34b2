"""The repository's layout: `loaders/` turns documents into seeds and knows nothing of the
warehouse around it (tongbi/); imports run one way; no source module grows past 800 lines."""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LOADERS = PROJECT / "loaders"
MAX_LINES = 800
# the warehouse side: the package around the loader, and the libraries only it needs
WAREHOUSE_SIDE = ("tongbi", "great_expectations", "psycopg", "altair", "vl_convert", "jinja2", "duckdb",
                  "dbt", "pandas", "sqlalchemy")
NOT_SOURCE = {"tests", "bench", ".venv", "target", "dbt_packages", "logs", "runs", "reports", ".git"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, those inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(PROJECT).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def test_loaders_imports_nothing_of_the_warehouse_side() -> None:
    files = sorted(LOADERS.rglob("*.py"))
    assert files, "no loaders/ modules found"
    offending = [f"{path.relative_to(PROJECT)}:{line} imports {module}"
                 for path in files for line, module in imported_modules(path)
                 if module.split(".")[0] in WAREHOUSE_SIDE]
    assert not offending, "loaders/ must not import the warehouse side:\n" + "\n".join(offending)


def test_the_loader_runs_without_loading_the_warehouse_side() -> None:
    """Importing every loader module (and extracting a bulletin) loads none of the warehouse's
    libraries: the rule holds at run time, not only in the import statements."""
    modules = sorted(".".join(p.relative_to(PROJECT).with_suffix("").parts) for p in LOADERS.rglob("*.py")
                     if p.name != "__init__.py")
    bulletin = sorted((PROJECT / "data" / "bulletins").glob("*.md"))[0]
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "from pathlib import Path\nfrom loaders.corpus import extract_corpus\n"
            "from loaders.vocabulary import load_vocabulary\n"
            f"r = extract_corpus([Path({str(bulletin)!r})], load_vocabulary())\n"
            "assert r.mentions, 'no statistics extracted'\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({WAREHOUSE_SIDE!r})))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", f"the loader loaded {proc.stdout.strip()}"


def test_the_warehouse_package_holds_the_cli_and_the_loader_holds_none() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["tongbi"] == "tongbi.cli:main"
    entry_points = [str(p.relative_to(PROJECT)) for p in LOADERS.rglob("*.py")
                    if p.name == "__main__.py" or is_script(p)
                    or any(m == "argparse" for _, m in imported_modules(p))]
    assert not entry_points, f"a command line in loaders/: {entry_points}"


def is_script(path: Path) -> bool:
    """`if __name__ == "__main__":` at the top level of the module."""
    return any(isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
               and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
               for node in ast.parse(path.read_text(encoding="utf-8")).body)


def source_modules() -> list[Path]:
    out = []
    for path in PROJECT.rglob("*.py"):
        rel = path.relative_to(PROJECT)
        if not NOT_SOURCE.intersection(rel.parts):
            out.append(path)
    return sorted(out)


def test_no_source_module_exceeds_800_lines() -> None:
    modules = source_modules()
    assert any(p.parent.name == "loaders" for p in modules) and any("tongbi" in p.parts for p in modules)
    too_long = {str(p.relative_to(PROJECT)): n for p in modules
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them by job): {too_long}"
