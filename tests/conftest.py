"""Shared test setup: no internet, and per-test user folders.

Every test runs with ``XDG_*`` folders in a temporary directory (so nothing reads or
writes the developer's real cache or data) and with name resolution limited to
loopback: any other lookup fails exactly like a name that does not exist.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.helpers.fixtures import endpoint_world, world  # noqa: F401

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(  # type: ignore[no-untyped-def]
    host, port, family=0, type=0, proto=0, flags=0
):
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name in _LOOPBACK_NAMES or name.startswith("127."):
        return _real_getaddrinfo(host, port, family, type, proto, flags)
    try:  # numeric addresses never touch DNS
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never resolve real DNS names: use --connect-to / DOMAINCHECK_CONNECT_TO."""
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Per-test cache/data/config folders, and no DOMAINCHECK_* leaking in from the shell."""
    import os

    base = tmp_path_factory.mktemp("home")
    for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        path = base / var.lower()
        path.mkdir()
        monkeypatch.setenv(var, str(path))
    for var in list(os.environ):
        if var.startswith("DOMAINCHECK_") or var in ("POSTHOG_API_KEY", "POSTHOG_HOST"):
            monkeypatch.delenv(var)
    yield
