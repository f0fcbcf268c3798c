"""The dashboard makes no outside request for an icon: the tab icon is a file in the package."""

from __future__ import annotations

import re
from pathlib import Path

from virtuoso.ui import components

ROOT = Path(__file__).resolve().parents[2]
MATERIAL = re.compile(r"""["']:material/[a-z_]+:["']""")


def test_no_page_names_a_material_icon_streamlit_would_fetch_from_a_font_cdn():
    sources = [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "virtuoso").rglob("*.py"))]
    offenders = [str(p.relative_to(ROOT)) for p in sources if MATERIAL.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_tab_icon_is_a_png_bundled_with_the_package():
    icon = components.APP_ICON
    assert icon.is_file() and icon.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert icon.is_relative_to(Path(components.__file__).resolve().parent)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"virtuoso.ui" = ["assets/*.png"]' in pyproject  # shipped in the wheel, not only in a checkout

