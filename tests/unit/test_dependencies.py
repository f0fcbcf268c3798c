"""Dependency floors are versions the tests ran with, and a fresh install gets the tested set."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_dependency_is_pinned_and_its_floor_is_the_tested_version():
    pins = _pins()
    for req in _requirements():
        pin = pins.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pin), f"{req.name}: tested {pin} is outside {req.specifier}"
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert floors == [pin], f"{req.name}: floor {floors} is not the tested version {pin}"


def test_pybit_is_capped_below_its_next_major_release():
    """ingest/bybit/ws.py overrides pybit's private WebSocket methods: a new major may rename them."""
    (pybit,) = [r for r in _requirements() if r.name == "pybit"]
    assert not pybit.specifier.contains(Version("6.0")) and pybit.specifier.contains(_pins()["pybit"])


def test_make_install_and_so_ci_install_the_constrained_set():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if re.search(r"pip install .*-e ", line)]
    assert installs and all("-c constraints.txt" in line for line in installs)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_installed_streamlit_has_the_metric_arguments_the_dashboard_uses():
    import streamlit as st

    assert "delta_arrow" in inspect.signature(st.metric).parameters
