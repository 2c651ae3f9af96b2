"""The layout is the design: core imports no front end, front ends don't import each other.

Checked twice: statically (every import statement in the package, including ones
inside functions) and dynamically (importing every core module in a fresh
interpreter loads none of the forbidden packages).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "core": {
        "PySide6",
        "shiboken6",
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "desktop",
        "backend",
    },
    "desktop": {"fastapi", "starlette", "sqlalchemy", "alembic", "backend"},
    "backend": {"PySide6", "shiboken6", "desktop"},
}


def _imported_roots(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_their_boundary(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in sorted(_imported_roots(path))
        if name in FORBIDDEN[package]
    ]
    assert offences == []


def test_importing_all_of_core_loads_no_front_end() -> None:
    modules = sorted(
        "core." + p.relative_to(ROOT / "core").with_suffix("").as_posix().replace("/", ".")
        for p in (ROOT / "core").rglob("*.py")
        if p.name != "__init__.py" and p.name != "__main__.py"
    )
    forbidden = sorted(FORBIDDEN["core"])
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
    assert len(modules) >= 8  # the check really imported the core


def test_the_network_guard_refuses_real_names_and_keeps_loopback() -> None:
    import socket

    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 443, flags=socket.AI_ADDRCONFIG)
    assert socket.getaddrinfo("127.0.0.1", 443, type=socket.SOCK_STREAM)
    assert socket.getaddrinfo("::1", 443, flags=socket.AI_NUMERICSERV)
