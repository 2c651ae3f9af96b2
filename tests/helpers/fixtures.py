"""Shared pytest fixtures; tests/conftest.py imports them so every test can use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.endpoint_world import EndpointWorld
from tests.helpers.world import LoopbackWorld


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackWorld]:
    """The loopback test world (PKI + servers), started once per test session."""
    loopback_world = LoopbackWorld(tmp_path_factory.mktemp("world"))
    try:
        yield loopback_world
    finally:
        loopback_world.stop()


@pytest.fixture(scope="session")
def endpoint_world(world: LoopbackWorld) -> Iterator[EndpointWorld]:
    """Several addresses behind one name, and a DNS server (tests/helpers/endpoint_world)."""
    endpoints = EndpointWorld(world)
    try:
        yield endpoints
    finally:
        endpoints.stop()
