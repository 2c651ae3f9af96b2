"""Fuzz every operation of the OpenAPI schema: nothing a client sends may cause a 5xx.

Runs on SQLite with a fake mailer; examples are kept few so the suite stays fast
(raise ``DOMAINCHECK_FUZZ_EXAMPLES`` for a deeper local run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from backend.app import create_app
from tests.backend.conftest import FakeMailer, TestClient, make_settings

MAX_EXAMPLES = int(os.environ.get("DOMAINCHECK_FUZZ_EXAMPLES", "25"))

_directory = Path(tempfile.mkdtemp(prefix="domaincheck-fuzz-"))
app = create_app(
    make_settings(
        f"sqlite:///{_directory / 'fuzz.sqlite3'}",
        auto_migrate=True,
        rate_limit_ip_otp_per_hour=10_000,
        rate_limit_ip_verify_per_hour=10_000,
        rate_limit_ip_check_per_hour=10_000,
    ),
    mailer=FakeMailer(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def _running_app():
    with TestClient(app):  # runs the lifespan (database, mailer) for the module
        yield


@pytest.fixture(autouse=True)
def _no_network_checks(monkeypatch):
    """/api/check would reach out for real names: answer with 'DNS failure' fast."""
    from backend.api.deps import get_core_settings
    from core.config import Settings

    app.dependency_overrides[get_core_settings] = lambda: Settings(
        timeout_seconds=0.5, check_rdap=False
    )
    yield
    app.dependency_overrides.pop(get_core_settings, None)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case):
    case.call_and_validate(checks=[not_a_server_error])
