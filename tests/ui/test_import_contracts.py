"""The pages and dashboard.py read through the MonitorView only, like the ``virtuoso.ui`` package.

import-linter (``.importlinter``) checks ``virtuoso.ui`` and ``virtuoso.app.view``; Streamlit's
``pages/*.py`` and ``dashboard.py`` are scripts, not modules of a package, so grimp never sees
them. This test parses their imports with ``ast`` and holds them to the same forbidden list, read
from the ``ui-no-adapters`` contract: directly, and through whatever ``virtuoso`` module they
import (the import graph from grimp). dashboard.py's engine getter is the UI's composition root
and the one place allowed to import ``virtuoso.app.engine`` (and its terminal logging set-up).
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([ROOT / "dashboard.py", *(ROOT / "pages").glob("*.py")])
# (file, function, modules): the UI process's composition root builds the engine and sets up its
# terminal logging (process-wide, so here and nowhere else).
COMPOSITION_ROOT = ("dashboard.py", "engine", ("virtuoso.app.engine", "virtuoso.app.logging_setup"))


def forbidden_modules() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    return cfg["importlinter:contract:ui-no-adapters"]["forbidden_modules"].split()


def imports_of(path: Path) -> list[tuple[str, str]]:
    """(enclosing function or '', imported module) for every import in the file, nested ones too."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Import):
                found.extend((func, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append((func, child.module))
                found.extend((func, f"{child.module}.{a.name}") for a in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("virtuoso", include_external_packages=True)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_and_the_entry_page_import_no_adapter_directly_or_through_a_module(script, graph):
    forbidden = forbidden_modules()
    assert "virtuoso.storage" in forbidden and "sqlite3" in forbidden  # the contract this test enforces
    rel = str(script.relative_to(ROOT))
    bad = []
    for func, module in imports_of(script):
        if (rel, func) == COMPOSITION_ROOT[:2] and any(_is_under(module, m) for m in COMPOSITION_ROOT[2]):
            continue
        reached = {module}
        if module in graph.modules:
            reached |= graph.find_upstream_modules(module)
        bad += [(module, f) for f in forbidden for m in reached if _is_under(m, f)]
    assert not bad, f"{rel} reaches adapters: {sorted(set(bad))}"


def test_the_check_sees_a_violation():
    """The parser finds nested and from-imports, so a page that built an adapter would fail."""
    src = "def f():\n    from virtuoso.alerting.marks import AlertMarks\nimport sqlite3\n"
    tmp = ROOT / "artifacts" / "contract_probe.py"
    tmp.parent.mkdir(exist_ok=True)
    tmp.write_text(src)
    try:
        modules = {m for _, m in imports_of(tmp)}
    finally:
        tmp.unlink()
    assert {"virtuoso.alerting.marks", "virtuoso.alerting.marks.AlertMarks", "sqlite3"} <= modules
