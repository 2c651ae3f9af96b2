"""Logging for ``domaincheck-backend``: useful to operators, useless to thieves.

Unsubscribe tokens never expire and travel in a query string, so the access log
shows paths without their query (``/unsubscribe?…``). httpx logs every request
at INFO, and an RDAP request names the domain someone watches: those loggers are
kept at WARNING, so watched domains stay out of INFO logs.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
#: Libraries whose INFO lines would name watched domains (RDAP URLs).
QUIET_LOGGERS = ("httpx", "httpcore")
REDACTED_QUERY = "?…"


def redact_path(path: str) -> str:
    base, question, _ = path.partition("?")
    return base + REDACTED_QUERY if question else base


class RedactQueryStrings(logging.Filter):
    """Drops query strings from uvicorn's access lines (``client, method, path, ...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_redaction() -> None:
    """Idempotent: filter the access log and quiet the chatty HTTP client loggers."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQueryStrings) for f in access.filters):
        access.addFilter(RedactQueryStrings())
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_redaction()
