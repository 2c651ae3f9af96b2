"""Settings: defaults that need no setup, and production that refuses to start unsafe."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.cli import main as backend_main
from backend.config import BackendSettings, get_settings

STRONG = "s" * 40


def test_zero_setup_defaults(tmp_path, monkeypatch):
    settings = BackendSettings()
    assert settings.effective_database_url.startswith("sqlite:///")
    assert "domaincheck" in settings.effective_database_url
    assert settings.smtp_host is None and settings.check_interval_seconds == 86400
    assert settings.effective_smtp_port == 587


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("SMTP_TLS", "ssl")
    monkeypatch.setenv("CHECK_INTERVAL_SECONDS", "3600")
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_x")
    settings = BackendSettings()
    assert (settings.smtp_host, settings.effective_smtp_port, settings.check_interval_seconds) == (
        "mail.example.com",
        465,
        3600,
    )


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"smtp_host": "mail.example.com"}, "OTP_SECRET"),
        ({"smtp_host": "mail.example.com", "otp_secret": "short"}, "OTP_SECRET"),
        ({"otp_secret": STRONG}, "SMTP_HOST"),
    ],
)
def test_production_refuses_unsafe_settings(values, problem):
    with pytest.raises(ValidationError, match=problem):
        BackendSettings(environment="production", **values)


def test_production_with_secret_and_smtp_starts():
    BackendSettings(environment="production", otp_secret=STRONG, smtp_host="mail.example.com")


def test_cli_fails_fast_in_production(monkeypatch, capsys):
    monkeypatch.setenv("ENVIRONMENT", "production")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as excinfo:
            backend_main(["migrate"])
    finally:
        get_settings.cache_clear()
    assert "OTP_SECRET" in str(excinfo.value)


def test_cli_migrate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    get_settings.cache_clear()
    try:
        assert backend_main(["migrate"]) == 0
        assert backend_main(["migrate"]) == 0  # idempotent
    finally:
        get_settings.cache_clear()
    assert (tmp_path / "x.sqlite3").exists()


def test_checks_refuse_private_addresses_unless_allowed(monkeypatch):
    from backend.config import core_settings_for

    monkeypatch.setenv("DOMAINCHECK_TIMEOUT", "4")
    guarded = core_settings_for(BackendSettings())
    assert guarded.public_addresses_only is True
    assert guarded.timeout_seconds == 4  # the DOMAINCHECK_* settings still apply
    monkeypatch.setenv("ALLOW_PRIVATE_TARGETS", "true")
    assert core_settings_for(BackendSettings()).public_addresses_only is False
