"""Packaging tests: what can be checked without a full PyInstaller build.

The full build and the frozen self-test run in ``packaging/ci-build.sh`` (a separate
CI step). The scripts in ``packaging/`` are not a package (the name would shadow
PyPA's ``packaging``), so tests load them by path.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

# Before any QApplication exists (the icon test renders SVGs).
os.environ["QT_QPA_PLATFORM"] = "offscreen"

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load_script(name: str) -> ModuleType:
    """Import ``packaging/<name>.py`` under a private module name."""
    module_name = f"_domaincheck_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
