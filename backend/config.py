"""Backend settings, read once from the environment.

Routes get them through ``Depends(get_settings)`` (see ``backend.api.deps``), so a
test replaces them with ``app.dependency_overrides[get_settings]`` instead of
patching anything. ``ENVIRONMENT=production`` refuses to start with the default
``OTP_SECRET`` or without SMTP: a production service that cannot send mail, or
whose codes anyone could forge, must fail at boot rather than on the first user.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import paths
from core.config import Settings as CoreSettings

log = logging.getLogger(__name__)

DEFAULT_OTP_SECRET = "changethis"
MIN_PRODUCTION_SECRET_CHARS = 32
OTP_TTL_SECONDS = 600
OTP_RESEND_SECONDS = 60
OTP_MAX_PER_HOUR = 5
OTP_MAX_ATTEMPTS = 5
MAX_BODY_BYTES = 256 * 1024
MAX_DOMAINS = 1_000
MAX_CHECK_DOMAINS = 100

SmtpTls = Literal["starttls", "ssl", "none"]
Environment = Literal["local", "test", "staging", "production"]


def default_database_url() -> str:
    """The embedded default: a SQLite file in the per-user data folder."""
    return f"sqlite:///{paths.data_dir() / 'backend.sqlite3'}"


def default_outbox_dir() -> Path:
    return paths.data_dir() / "outbox"


class BackendSettings(BaseSettings):
    """Everything the service reads from its environment (names are upper case)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Environment = "local"
    #: SQLAlchemy URL; empty = SQLite in the per-user data folder.
    database_url: str = ""
    #: PostgreSQL connections each process keeps open (``serve`` workers x this, plus
    #: reminder workers, must stay under the server's ``max_connections``).
    database_pool_size: int = Field(default=10, ge=1)
    #: Run the Alembic migrations when the service starts (on by default: zero setup).
    auto_migrate: bool = True

    smtp_host: str | None = None
    #: Empty = the usual port for ``smtp_tls`` (587 starttls, 465 ssl, 25 none).
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = "starttls"
    #: Bounds connecting and each SMTP command (RFC 5321 §4.5.3.2 allows minutes).
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    #: The wait for the reply to the end of DATA: RFC 5321's 10 minutes. Giving up
    #: earlier is what delivers a second copy (the relay may have accepted it).
    smtp_data_timeout_seconds: float = Field(default=600.0, gt=0)
    #: Mail sends in flight at once (own threads: health checks never wait for mail).
    mail_concurrency: int = Field(default=8, ge=1)
    mail_from: str = "Domain Check <noreply@localhost>"
    #: Where mail goes without ``SMTP_HOST``; empty = ``outbox/`` in the data folder.
    outbox_dir: Path | None = None
    #: Base URL of this service as users reach it (links in emails).
    public_url: str = "http://127.0.0.1:8000"

    otp_secret: SecretStr = SecretStr(DEFAULT_OTP_SECRET)

    #: Seconds between in-process reminder runs; 0 = only ``run-checks`` (cron).
    check_interval_seconds: int = Field(default=86_400, ge=0)
    #: A reminder run holds the scheduler lease this long and renews it every third
    #: of that while alive, so a crashed run blocks other replicas this long at most.
    check_lease_seconds: int = Field(default=120, ge=3)
    #: Run reminders inside ``serve`` (the in-process timer). Unset: yes on SQLite,
    #: no on PostgreSQL, where ``domaincheck-backend worker`` processes run them.
    reminders_in_process: bool | None = None
    #: Watched names per batch of a run on the task queue (a subscriber is never split).
    reminder_batch_names: int = Field(default=100, ge=1)
    #: Jobs (batches, sends) one ``worker`` process runs at once.
    worker_concurrency: int = Field(default=4, ge=1)
    #: A worker silent (no heartbeat) this long is taken for dead and its jobs are
    #: retried by another; heartbeats go every third of it.
    worker_stalled_seconds: float = Field(default=30.0, ge=1)
    #: Requests in flight to one RDAP server over *all* workers together.
    rdap_per_server_limit: int = Field(default=4, ge=1)

    posthog_api_key: str | None = None
    posthog_host: str = "https://us.i.posthog.com"
    #: Longest the service waits for analytics to flush when it stops.
    posthog_shutdown_seconds: float = Field(default=3.0, ge=0)

    # Abuse limits. Per-email limits are fixed by the product; per-IP ones are knobs.
    rate_limit_ip_otp_per_hour: int = Field(default=20, ge=1)
    rate_limit_ip_verify_per_hour: int = Field(default=120, ge=1)
    rate_limit_ip_check_per_hour: int = Field(default=60, ge=1)
    #: Take the client address from ``X-Forwarded-For`` (only behind a trusted proxy).
    trust_forwarded_for: bool = False
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1_024)
    #: Global caps: addresses with reminders, and watched names over all of them.
    max_subscribers: int = Field(default=100_000, ge=1)
    max_watched_names: int = Field(default=1_000_000, ge=1)
    #: ``/api/check`` requests checked at once; more get 503 with ``Retry-After``.
    max_concurrent_checks: int = Field(default=4, ge=1)
    #: ``serve``: connections and requests at once (more get 503), and how long an
    #: idle keep-alive connection / one that has not sent its request stays open.
    http_max_connections: int = Field(default=500, ge=1)
    http_keep_alive_seconds: float = Field(default=5.0, gt=0)
    http_request_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Let ``/api/check`` and subscriptions name private/loopback IP literals
    #: (off: the service must not become a port scanner for the inside network).
    allow_private_targets: bool = False

    @property
    def effective_database_url(self) -> str:
        return self.database_url or default_database_url()

    @property
    def runs_reminders_in_process(self) -> bool:
        """Whether ``serve`` runs the reminder timer (see ``reminders_in_process``)."""
        if self.reminders_in_process is not None:
            return self.reminders_in_process
        return self.uses_sqlite

    @property
    def uses_sqlite(self) -> bool:
        return self.effective_database_url.split(":", 1)[0].split("+", 1)[0] == "sqlite"

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or default_outbox_dir()

    @property
    def effective_smtp_port(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return {"starttls": 587, "ssl": 465, "none": 25}[self.smtp_tls]

    @property
    def otp_secret_bytes(self) -> bytes:
        return self.otp_secret.get_secret_value().encode()

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        secret = self.otp_secret.get_secret_value()
        weak_secret = secret == DEFAULT_OTP_SECRET or len(secret) < MIN_PRODUCTION_SECRET_CHARS
        if self.environment == "production":
            problems = []
            if weak_secret:
                problems.append(
                    f"OTP_SECRET must be set to a random value of at least "
                    f"{MIN_PRODUCTION_SECRET_CHARS} characters"
                )
            if not self.smtp_host:
                problems.append("SMTP_HOST must be set (mail cannot go to an outbox folder)")
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        elif secret == DEFAULT_OTP_SECRET:
            log.warning("OTP_SECRET is the default %r: fine for local use only", secret)
        return self


@lru_cache
def get_settings() -> BackendSettings:
    """The process-wide settings (tests override this dependency)."""
    return BackendSettings()


def core_settings_for(settings: BackendSettings) -> CoreSettings:
    """How the service checks: the core's ``DOMAINCHECK_*``, plus one rule of its own.

    Names typed by strangers must not make the service probe its own network, so
    unless ``ALLOW_PRIVATE_TARGETS`` is set, names that resolve only to private or
    local addresses are not connected to (``connect_to`` rules stay the operator's).
    """
    return dataclasses.replace(
        CoreSettings.from_env(), public_addresses_only=not settings.allow_private_targets
    )
