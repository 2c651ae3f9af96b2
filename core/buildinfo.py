"""Values baked in when a release is built, and absent in a source checkout.

The release build writes ``core/_build_config.py`` (never committed; git-ignored)
with module-level strings such as::

    POSTHOG_API_KEY = "phc_…"
    POSTHOG_HOST = "https://eu.i.posthog.com"
    BACKEND_URL = "https://api.example.org"

Environment variables always win over these (see :mod:`core.analytics` and
:mod:`core.api`). Without the module every value is ``None``: in a checkout,
analytics is off unless ``POSTHOG_API_KEY`` is set.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BUILD_CONFIG_MODULE = "core._build_config"


def _module() -> ModuleType | None:
    try:
        return importlib.import_module(BUILD_CONFIG_MODULE)
    except ImportError:
        return None


def baked(name: str) -> str | None:
    """The build-time value ``name`` (stripped), or ``None`` when absent or empty."""
    module = _module()
    value = getattr(module, name, None) if module is not None else None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()
