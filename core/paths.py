"""Per-user locations and bundled resources.

platformdirs picks the right folder for each OS and honours ``XDG_*`` on Linux, so
tests point everything at a temporary folder by setting ``XDG_CACHE_HOME``,
``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "domaincheck"
APP_AUTHOR = "DomainCheck"


def cache_dir() -> Path:
    """Disposable data (RDAP answers, refreshed bootstrap file)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def data_dir() -> Path:
    """Data the user would miss (watchlist database, token fallback file)."""
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def config_dir() -> Path:
    """Preferences and the analytics ID."""
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def resources_dir() -> Path:
    """The ``resources/`` folder, in a source checkout or a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(name: str) -> Path:
    return resources_dir() / name
