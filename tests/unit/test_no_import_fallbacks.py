"""The project's own modules are imported plainly: a fallback on ImportError around one of them
would turn a part off in silence (delivery, a CLI command, the PDF export) if a dependency broke."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.joinpath("virtuoso").rglob("*.py"), *ROOT.joinpath("pages").glob("*.py"), ROOT / "dashboard.py"])
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def _imports_own_module(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("virtuoso"):
            return True
        if isinstance(sub, ast.Import) and any(a.name.startswith("virtuoso") for a in sub.names):
            return True
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "import_module"):
            return True
    return False


def _catches_import_errors(handler: ast.ExceptHandler) -> bool:
    names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
    return any(isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS for n in names if n is not None)


def _fallbacks(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Try)
            and any(_catches_import_errors(h) for h in node.handlers)
            and any(_imports_own_module(stmt) for stmt in node.body)]


def test_no_module_of_the_project_is_imported_under_an_import_error_fallback():
    found = {str(p.relative_to(ROOT)): lines for p in SOURCES if (lines := _fallbacks(p))}
    assert found == {}


def test_a_cli_command_module_that_cannot_be_imported_stops_the_cli_instead_of_vanishing(monkeypatch):
    from virtuoso.app import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "virtuoso.app.commands.gone"])
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()
