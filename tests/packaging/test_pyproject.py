"""``pyproject.toml`` stays free of setuptools deprecations (``make test`` treats a
warning as something to fix)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_license_is_an_spdx_string_and_setuptools_can_read_it() -> None:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    # A ``{text = ...}`` table is deprecated since setuptools 77 (PEP 639).
    assert data["project"]["license"] == "MIT"
    requirement = next(r for r in data["build-system"]["requires"] if r.startswith("setuptools"))
    match = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", requirement)
    assert match is not None and int(match.group(1)) >= 77
    assert not any(c.startswith("License ::") for c in data["project"].get("classifiers", []))
