"""``domaincheck-backend``: ``serve``, ``worker``, ``run-checks`` (one pass; cron), ``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from backend.config import BackendSettings, get_settings
from backend.logs import configure_logging
from core.errors import UsageError

log = logging.getLogger("backend")


def _settings() -> BackendSettings:
    try:
        return get_settings()
    except ValidationError as exc:
        messages = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise SystemExit(f"domaincheck-backend: configuration error: {messages}") from None


def _serve(args: argparse.Namespace) -> int:
    from backend.server import run

    settings = _settings()  # fail fast, before uvicorn starts
    if args.workers < 1:
        raise SystemExit("domaincheck-backend: --workers must be 1 or more")
    run(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def _run_checks(args: argparse.Namespace) -> int:
    from backend import db
    from backend.analytics import analytics_from_settings
    from backend.config import core_settings_for
    from backend.email import mailer_from_settings
    from backend.reminders import run_checks

    settings = _settings()
    try:
        core_settings = core_settings_for(settings)
    except UsageError as exc:
        raise SystemExit(f"domaincheck-backend: {exc}") from None
    engine = db.make_engine(settings.effective_database_url)
    if settings.auto_migrate:
        db.migrate(engine)
    analytics = analytics_from_settings(settings)
    try:
        stats = asyncio.run(
            run_checks(
                db.make_sessionmaker(engine),
                settings=settings,
                mailer=mailer_from_settings(settings),
                analytics=analytics,
                core_settings=core_settings,
            )
        )
    finally:
        analytics.shutdown()
        engine.dispose()
    if stats.skipped:
        print("another replica is running the reminders; nothing done")  # noqa: T201
        return 0
    print(  # noqa: T201
        f"checked {stats.domains} domains for {stats.subscribers} subscribers: "
        f"{stats.reminders_queued} reminders queued, {stats.emails_sent} sent, "
        f"{stats.emails_failed} failed (retried next run) in {stats.duration_ms} ms"
    )
    return 1 if stats.emails_failed else 0


def _worker(args: argparse.Namespace) -> int:
    from backend import db

    settings = _settings()
    if settings.uses_sqlite:
        raise SystemExit(
            "domaincheck-backend worker: not needed with SQLite: `serve` runs the reminders "
            "in its own process. Reminder workers need PostgreSQL (set DATABASE_URL)."
        )
    try:
        core_settings_check(settings)
    except UsageError as exc:
        raise SystemExit(f"domaincheck-backend: {exc}") from None
    if settings.check_interval_seconds == 0:
        log.warning("CHECK_INTERVAL_SECONDS is 0: this worker sends queued mail but plans no runs")
    engine = db.make_engine(settings.effective_database_url)
    from backend.queue_schema import has_procrastinate_schema

    try:
        if settings.auto_migrate:
            db.migrate(engine)
        with engine.connect() as connection:
            migrated = has_procrastinate_schema(connection)
    except Exception as exc:  # the database is unreachable: say so, no traceback
        raise SystemExit(
            f"domaincheck-backend worker: cannot use the database ({type(exc).__name__})"
        ) from None
    finally:
        engine.dispose()
    if not migrated:
        raise SystemExit(
            "domaincheck-backend worker: the database has no task queue yet; "
            "run `domaincheck-backend migrate` first"
        )
    from backend.queue import run_worker

    log.info("reminder worker starting (concurrency %d)", settings.worker_concurrency)
    asyncio.run(run_worker(settings))
    return 0


def _worker_status(args: argparse.Namespace) -> int:
    from backend import db
    from backend.worker_status import worker_status
    from core.models import utcnow

    settings = _settings()
    if settings.uses_sqlite:
        raise SystemExit(
            "domaincheck-backend worker-status: with SQLite there are no workers; "
            "`serve` runs the reminders and /readyz reports them"
        )
    engine = db.make_engine(settings.effective_database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            status = worker_status(session, settings=settings, now=utcnow())
    except Exception as exc:  # unreachable database, or not migrated: no traceback
        raise SystemExit(
            f"domaincheck-backend worker-status: cannot read the database ({type(exc).__name__})"
        ) from None
    finally:
        engine.dispose()
    for line in status.lines():
        print(line)  # noqa: T201
    return 0 if status.healthy else 1


def core_settings_check(settings: BackendSettings) -> None:
    """Raise :class:`UsageError` now if the ``DOMAINCHECK_*`` settings are wrong."""
    from backend.config import core_settings_for

    core_settings_for(settings)


def _migrate(args: argparse.Namespace) -> int:
    from backend import db

    settings = _settings()
    engine = db.make_engine(settings.effective_database_url)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()
    print("database is up to date")  # noqa: T201
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="domaincheck-backend",
        description="The Domain Check notification service (settings from the environment).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API (and the reminder timer)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API worker processes (they share state through the database only)",
    )
    serve.set_defaults(handler=_serve)
    worker = commands.add_parser(
        "worker",
        help="run reminder jobs from the PostgreSQL task queue (start as many as you like)",
    )
    worker.set_defaults(handler=_worker)
    status = commands.add_parser(
        "worker-status",
        help="exit 1 unless a reminder worker is alive and runs happen (for monitoring)",
    )
    status.set_defaults(handler=_worker_status)
    run = commands.add_parser("run-checks", help="check all domains and send reminders once")
    run.set_defaults(handler=_run_checks)
    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
