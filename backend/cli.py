"""``domaincheck-backend``: ``serve``, ``run-checks`` (one reminder pass, for cron), ``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from backend.config import BackendSettings, get_settings
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
    import uvicorn

    from backend.app import create_app

    _settings()  # fail fast, before uvicorn starts
    uvicorn.run(create_app(), host=args.host, port=args.port, proxy_headers=False)
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
    serve.set_defaults(handler=_serve)
    run = commands.add_parser("run-checks", help="check all domains and send reminders once")
    run.set_defaults(handler=_run_checks)
    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
