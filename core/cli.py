"""``domaincheck``: the command-line front end and its output layer.

Scripts, cron jobs and monitoring depend on this contract, so it is kept exactly:
the options, the JSON/CSV shapes (``core.report``) and the exit codes (0 valid,
1 expiring, 2 expired or invalid, 3 could not be checked, 64 usage or input-file
error). Results go to stdout; progress, rejected lines and errors go to stderr.
``domaincheck watch`` (:mod:`core.cli_watch`) edits the app's watchlist with the
same conventions, plus 74 when the watchlist file cannot be opened or written.

Anonymous usage statistics (:mod:`core.analytics`): off without a project key, with
``DO_NOT_TRACK=1`` or ``DOMAINCHECK_NO_ANALYTICS=1``, or after ``domaincheck
analytics off``. The first run that would send anything prints a one-line notice on
stderr instead, and sends nothing. Events carry counts, durations and options, never
domains or file names, and the exit waits at most ``ANALYTICS_EXIT_SECONDS`` for them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TextIO

from core import __version__, cli_common, cli_watch, install_id, mx
from core.analytics import (
    Analytics,
    OffReason,
    mark_notice_shown,
    notice_shown,
    off_reason,
    save_opted_out,
)
from core.checker import Checker, Progress
from core.cli_common import PROG, format_input_error, terminal_style
from core.cli_common import STATUS_COLOURS as _COLOURS
from core.cli_common import truncate as _truncate
from core.cli_common import write_line as _write
from core.config import Settings, parse_connect_rules, parse_resolve_rules, parse_whois_servers
from core.dns import DnsResolver
from core.domains import ParseResult, with_protocol
from core.errors import DomainCheckError, InputFileError, UsageError
from core.models import CheckResult, Registration, Status, Target, summarize, utcnow
from core.problems import NO_NETWORK_MESSAGE, looks_offline
from core.report import EXIT_USAGE, exit_code, iso, report_document, write_csv
from core.storage import StorageError, Watchlist
from core.storage import default_path as default_watchlist_path
from core.whois_parse import no_expiry_message

PROGRESS_INTERVAL_SECONDS = 0.1
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
#: Longest the CLI's exit waits for analytics to be sent (host down or hanging).
ANALYTICS_EXIT_SECONDS = 2.0
ANALYTICS_NOTICE = (
    f"{PROG}: sends anonymous usage statistics (counts and timings, never domains or "
    f"file names); turn off with '{PROG} analytics off' or DO_NOT_TRACK=1"
)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 64 (EX_USAGE) as the contract says."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Know before your TLS certificates and domain registrations expire.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser(
        "check",
        help="check certificates and registrations",
        description=(
            "Check TLS certificate and domain registration expiry. Exit status: 0 all valid, "
            "1 some expiring, 2 some expired or invalid, 3 some could not be checked, "
            "64 usage or input-file error."
        ),
    )
    check.add_argument("targets", nargs="*", metavar="TARGET", help="domain, host:port or URL")
    check.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="FILE",
        help="read targets from a .txt/.csv file ('-' = stdin)",
    )
    check.add_argument(
        "--threshold",
        type=int,
        metavar="DAYS",
        help=(
            "days before expiry that count as expiring (default 30), for targets without"
            " their own (a CSV list's threshold_days column)"
        ),
    )
    check.add_argument("--format", choices=("table", "json", "csv"), default="table")
    check.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="limit for one host's whole check (default 10)",
    )
    check.add_argument(
        "--concurrency", type=int, metavar="N", help="hosts checked at once (default 200)"
    )
    check.add_argument(
        "--ca-file",
        type=Path,
        metavar="PEM",
        help="extra CA certificates to trust besides the system store",
    )
    check.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="HOST:PORT:TARGET_HOST:TARGET_PORT",
        help="connect to TARGET instead of HOST:PORT (like curl); repeatable",
    )
    check.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR[,ADDR...]",
        help=(
            "use these addresses instead of DNS for HOST:PORT (like curl; empty HOST or"
            " PORT matches any, IPv6 in [brackets]); repeatable, the first match wins"
        ),
    )
    check.add_argument(
        "--first-address-only",
        action="store_true",
        help="check only the first address of each name that answers, not all of them",
    )
    check.add_argument(
        "--starttls",
        metavar="PROTO",
        help=(
            "speak PROTO (smtp, imap, pop3, ftp, xmpp, xmpp-server, ldap, postgres, mysql)"
            " to bare host[:port] targets before TLS; a bare name gets PROTO's port"
        ),
    )
    check.add_argument(
        "--mx",
        action="store_true",
        help="also check the mail servers (MX hosts, SMTP STARTTLS) of every bare name",
    )
    check.add_argument(
        "--rdap-bootstrap", metavar="FILE_OR_URL", help="IANA RDAP bootstrap file or URL"
    )
    check.add_argument(
        "--lifetime-fraction",
        type=float,
        metavar="FRACTION",
        help=(
            "a certificate is also expiring once only this share of its lifetime is left"
            " (default a third: a 45-day certificate at 15 days; 0 turns the rule off)"
        ),
    )
    check.add_argument(
        "--acme-directory",
        metavar="URL",
        help="ask this ACME directory for every certificate's renewal window (ARI)",
    )
    check.add_argument(
        "--no-revocation",
        action="store_true",
        help="do not ask CRLs and OCSP responders whether certificates were revoked",
    )
    check.add_argument("--no-tls", action="store_true", help="skip the certificate check")
    check.add_argument("--no-rdap", action="store_true", help="skip the registration check")
    check.add_argument(
        "--whois-server",
        action="append",
        default=[],
        metavar="TLD=HOST:PORT",
        help="ask this WHOIS server about names under TLD (e.g. io=127.0.0.1:4343); repeatable",
    )
    check.add_argument(
        "--no-whois",
        action="store_true",
        help="no WHOIS fallback for TLDs without RDAP (registration unknown there)",
    )
    stats = commands.add_parser(
        "analytics",
        help="show or change anonymous usage statistics",
        description=(
            "Anonymous usage statistics: counts, durations and options, never domains, "
            "file names or addresses. DO_NOT_TRACK=1 or DOMAINCHECK_NO_ANALYTICS=1 also "
            "turn them off."
        ),
    )
    stats.add_argument(
        "action",
        nargs="?",
        choices=("status", "on", "off", "reset-id"),
        default="status",
        help="status (default), on, off, or reset-id (a new random ID)",
    )
    cli_watch.add_parser(commands)
    return parser


def settings_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    """``DOMAINCHECK_*`` variables, overridden by whatever options were given."""
    base = Settings.from_env(os.environ if env is None else env)
    changes: dict[str, object] = {}
    if args.threshold is not None:
        changes["threshold_days"] = args.threshold
    if args.timeout is not None:
        changes["timeout_seconds"] = args.timeout
    if args.concurrency is not None:
        changes["concurrency"] = args.concurrency
    if args.ca_file is not None:
        changes["ca_file"] = args.ca_file
    if args.connect_to:  # options first: the first matching rule wins
        changes["connect_to"] = parse_connect_rules(args.connect_to) + base.connect_to
    if args.resolve:  # options first: the first matching rule wins
        changes["resolve"] = parse_resolve_rules(args.resolve) + base.resolve
    if args.first_address_only:
        changes["first_address_only"] = True
    if args.starttls is not None:
        changes["starttls"] = args.starttls.strip().lower()
    if args.mx:
        changes["mx"] = True
    if args.rdap_bootstrap is not None:
        changes["rdap_bootstrap"] = args.rdap_bootstrap
    if args.lifetime_fraction is not None:
        changes["lifetime_fraction"] = args.lifetime_fraction
    if args.acme_directory is not None:
        changes["acme_directory"] = args.acme_directory
    if args.no_revocation:
        changes["check_revocation"] = False
    if args.no_tls:
        changes["check_tls"] = False
    if args.no_rdap:
        changes["check_rdap"] = False
    if args.whois_server:  # options first: the first server named for a TLD wins
        changes["whois_servers"] = parse_whois_servers(args.whois_server) + base.whois_servers
    if args.no_whois:
        changes["check_whois"] = False
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def read_targets(args: argparse.Namespace, stdin: TextIO) -> ParseResult:
    return cli_common.read_targets(args.targets, args.files, stdin)


def with_endpoint_options(parsed: ParseResult, settings: Settings) -> ParseResult:
    """``--starttls`` and ``--mx`` applied, and every ``mx:`` entry looked up
    (:mod:`core.mx`): what has no mail server joins the rejected lines."""
    if settings.starttls is not None:
        parsed = with_protocol(parsed, settings.starttls)
    if settings.mx:
        parsed = mx.add_mx(parsed)
    if mx.has_mx(parsed):
        parsed = asyncio.run(mx.expand(parsed, DnsResolver.from_settings(settings)))
    return parsed


class _ProgressLine:
    """``Checking… 120 of 1,000`` on a terminal's stderr, at most 10 times a second."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._last = 0.0
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL_SECONDS and progress.done != progress.total:
            return
        self._last = now
        total = f" of {progress.total:,}" if progress.total else ""
        self._stream.write(f"\rChecking… {progress.done:,}{total}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()


async def run_checks(
    parsed: ParseResult, settings: Settings, on_progress: _ProgressLine
) -> list[CheckResult]:
    order = {target.key: i for i, target in enumerate(parsed.targets)}
    results: list[CheckResult] = []
    manual, previous = watched_registrations(parsed.targets) if settings.check_rdap else ({}, {})
    async with Checker(settings, manual_expiry=manual, previous=previous) as checker:
        async for result in checker.stream(parsed.targets, on_progress=on_progress):
            results.append(result)
    results.sort(key=lambda r: order[r.target.key])
    return results


def watched_registrations(
    targets: Sequence[Target], path: Path | None = None
) -> tuple[dict[tuple[str, int], datetime], dict[tuple[str, int], Registration]]:
    """For targets in the watchlist: the expiries typed by hand and the registrations
    of their last stored results (so a check reports what changed since).

    A watchlist that does not exist is not created; one that cannot be read is
    skipped with a note in the log (checking works without it).
    """
    path = default_watchlist_path() if path is None else path
    if not path.exists():
        return {}, {}
    wanted = {target.key for target in targets}
    try:
        with Watchlist(path) as watchlist:
            manual = {k: v for k, v in watchlist.registration_expiries().items() if k in wanted}
            previous = {
                entry.target.key: entry.result.registration
                for entry in watchlist.entries()
                if entry.target.key in wanted
                and entry.result is not None
                and entry.result.registration is not None
            }
    except (StorageError, sqlite3.Error) as exc:
        logging.getLogger(__name__).info("watchlist not read: %s", exc)
        return {}, {}
    return manual, previous


def registration_cell(registration: Registration) -> str:
    """The REG EXPIRES cell: the date (marked when typed by hand), else why there is none."""
    if registration.expires is not None:
        typed = " (by hand)" if registration.method == "manual" else ""
        return _date(registration.expires) + typed
    if not registration.unknown:
        return "error"
    domain = registration.registrable_domain or ""
    if registration.error == no_expiry_message(domain.rsplit(".", 1)[-1]):
        return "not published"
    return "unknown"


def _date(moment: object) -> str:
    text = iso(moment) if moment is not None else None  # type: ignore[arg-type]
    return text[:10] if text else "—"


def render_table(results: Sequence[CheckResult], *, colour: bool, width: int) -> str:
    """A human table in input order; ``width`` bounds the last (problem) column."""
    headers = ("STATUS", "DOMAIN", "DAYS", "CERT EXPIRES", "REG EXPIRES", "ISSUER", "PROBLEM")
    rows: list[tuple[Status, tuple[str, ...]]] = []
    for r in results:
        domain = r.target.label
        if r.target.serves:
            domain += f" (MX of {r.target.serves})"
        days = "—" if r.days_left is None else str(r.days_left)
        issuer = (r.tls.issuer or "") if r.tls and r.tls.error is None else ""
        reg = registration_cell(r.registration) if r.registration else "—"
        rows.append(
            (
                r.status,
                (
                    r.status.value,
                    domain,
                    days,
                    _date(r.tls_expiry),
                    reg,
                    _truncate(issuer, 28),
                    r.problem,
                ),
            )
        )
    widths = [len(h) for h in headers]
    for _, cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths[i], len(cell))
    used = sum(widths[:-1]) + 2 * (len(headers) - 1)
    problem_width = max(20, width - used)

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        return "  ".join([*padded, _truncate(cells[-1], problem_width)]).rstrip()

    out = [line(headers)]
    for status, cells in rows:
        text = line(cells)
        if colour:
            status_cell = cells[0].ljust(widths[0])
            text = f"\033[{_COLOURS[status]}m{status_cell}\033[0m" + text[len(status_cell) :]
        out.append(text)
    return "\n".join(out)


def render_summary(results: Sequence[CheckResult], seconds: float) -> str:
    counts = summarize(r.status for r in results)
    names = {Status.ERROR: "errors" if counts[Status.ERROR] != 1 else "error"}
    parts = [
        f"{counts[s]} {names.get(s, s.value)}"
        for s in (
            Status.VALID,
            Status.EXPIRING,
            Status.EXPIRED,
            Status.INVALID,
            Status.ERROR,
            Status.UNKNOWN,
        )
        if counts[s] or s is Status.VALID
    ]
    noun = "domain" if len(results) == 1 else "domains"
    return f"{' · '.join(parts)}  ({len(results)} {noun} in {seconds:.1f} s)"


def _input_kind(args: argparse.Namespace) -> str:
    kinds = {"stdin" if name == "-" else "file" for name in args.files}
    if args.targets:
        kinds.add("args")
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _register_sensitive(
    analytics: Analytics, args: argparse.Namespace, parsed: ParseResult
) -> None:
    """Whatever the user typed or named: never to be found in an analytics payload."""
    if not analytics.enabled:
        return
    values: list[str] = [*args.targets]
    for name in args.files:
        if name != "-":
            path = Path(name)
            values += [name, path.name, path.stem]
    for target in parsed.targets:
        values += [target.host, target.display]
    values += [error.text for error in parsed.errors]
    analytics.add_sensitive(values)


def command_check(
    args: argparse.Namespace,
    stdout: TextIO,
    stderr: TextIO,
    stdin: TextIO,
    analytics: Analytics | None = None,
) -> int:
    analytics = analytics or Analytics.disabled()
    settings = settings_from_args(args)
    parsed = with_endpoint_options(read_targets(args, stdin), settings)
    _register_sensitive(analytics, args, parsed)
    if args.format != "json":  # the JSON document carries them; CSV has no place
        for error in parsed.errors:
            _write(stderr, f"{PROG}: skipped {format_input_error(error)}")
    if not parsed.targets:
        if not args.targets and not args.files:
            raise UsageError("no domains given: name them, or use -f FILE (-f - for stdin)")
        if parsed.errors:
            raise UsageError("nothing to check: every line of the input was rejected")
        raise UsageError("nothing to check: the input holds no domains")
    analytics.capture(
        "domains_imported",
        {"source": "cli", "count": len(parsed.targets), "rejected": len(parsed.errors)},
    )

    started = time.monotonic()
    checked_at = utcnow()
    progress = _ProgressLine(stderr)
    try:
        results = asyncio.run(run_checks(parsed, settings, progress))
    finally:
        progress.clear()
    elapsed = time.monotonic() - started

    if args.format == "json":
        document = report_document(results, parsed.errors, settings.threshold_days, checked_at)
        json.dump(document, stdout, ensure_ascii=False, indent=2)
        stdout.write("\n")
    elif args.format == "csv":
        write_csv(results, stdout)
    else:
        # Fit the problem column to a terminal; never cut what goes to a file or pipe.
        colour, width = terminal_style(stdout)
        _write(stdout, render_table(results, colour=colour, width=width))
        _write(stdout, render_summary(results, elapsed))
    stdout.flush()
    if looks_offline(results):
        # Said once on stderr (stdout stays a clean document for scripts) rather than
        # leaving every row to look like a broken domain.
        _write(stderr, f"domaincheck: {NO_NETWORK_MESSAGE}")
    code = exit_code(results)
    counts = summarize(r.status for r in results)
    analytics.capture(
        "cli_check_completed",
        {
            **{status.value: count for status, count in counts.items()},
            "total": len(results),
            "rejected": len(parsed.errors),
            "duration_ms": round(elapsed * 1000, 1),
            "format": args.format,
            "input": _input_kind(args),
            "exit_code": code,
            "tls": settings.check_tls,
            "rdap": settings.check_rdap,
        },
    )
    return code


def command_analytics(args: argparse.Namespace, stdout: TextIO) -> int:
    """``domaincheck analytics [status|on|off|reset-id]``."""
    if args.action == "on":
        save_opted_out(False)
    elif args.action == "off":
        save_opted_out(True)
    elif args.action == "reset-id":
        install_id.reset()
        _write(stdout, "analytics ID reset: past statistics are no longer linked to this one")
        return 0
    reason = off_reason()
    if reason is None:
        _write(stdout, f"analytics: on (anonymous ID {install_id.peek() or 'not created yet'})")
    else:
        _write(stdout, f"analytics: off ({reason.value})")
    return 0


def cli_analytics(stderr: TextIO) -> Analytics:
    """Analytics for a ``check`` run; the first time, only the notice (nothing is sent)."""
    reason = off_reason()
    if reason is not None:
        return Analytics.disabled(reason=reason)
    if not notice_shown("cli"):
        _write(stderr, ANALYTICS_NOTICE)
        mark_notice_shown("cli")
        return Analytics.disabled(reason=OffReason.FIRST_RUN)
    analytics = Analytics.create("cli")
    analytics.set_person_properties()
    return analytics


def _run(
    args: argparse.Namespace,
    analytics: Analytics,
    stdout: TextIO,
    stderr: TextIO,
    stdin: TextIO,
) -> int:
    try:
        if args.command == "check":
            return command_check(args, stdout, stderr, stdin, analytics)
        if args.command == "analytics":
            return command_analytics(args, stdout)
        if args.command == "watch":
            return cli_watch.command_watch(args, stdout, stderr, stdin)
        raise UsageError(f"unknown command {args.command!r}")  # argparse prevents this
    except (UsageError, InputFileError) as exc:
        _write(stderr, f"{PROG}: {exc}")
        reason = "usage" if isinstance(exc, UsageError) else "input_file"
        analytics.capture("cli_check_failed", {"reason": reason})
        return EXIT_USAGE
    except (StorageError, sqlite3.Error) as exc:  # the watchlist file (``watch``)
        _write(stderr, f"{PROG}: {cli_watch.storage_message(exc)}")
        return cli_watch.EXIT_STORAGE
    except DomainCheckError as exc:
        _write(stderr, f"{PROG}: {exc}")
        analytics.capture("cli_check_failed", {"reason": "internal"})
        analytics.capture_exception(exc)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        _write(stderr, f"{PROG}: interrupted")
        analytics.capture("cli_check_failed", {"reason": "interrupted"})
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `domaincheck check … | head`
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return 0
    except Exception as exc:  # never a traceback in front of a person
        analytics.capture("cli_check_failed", {"reason": "internal"})
        analytics.capture_exception(exc)
        if os.environ.get("DOMAINCHECK_DEBUG"):
            raise
        _write(
            stderr,
            f"{PROG}: internal error ({type(exc).__name__}: {exc}); "
            "set DOMAINCHECK_DEBUG=1 for details and please report it",
        )
        return EXIT_INTERNAL


class _OneLineFormatter(logging.Formatter):
    """``domaincheck: message``, without the traceback of ``log.exception`` (the
    engine logs a bug that cost one row that way); ``DOMAINCHECK_DEBUG=1`` keeps it."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = logging.makeLogRecord(record.__dict__)
            record.exc_info = record.exc_text = record.stack_info = None
        return super().format(record)


def _configure_logging(stderr: TextIO) -> None:
    handler = logging.StreamHandler(stderr)
    message_format = f"{PROG}: %(message)s"
    debug = bool(os.environ.get("DOMAINCHECK_DEBUG"))
    formatter_class = logging.Formatter if debug else _OneLineFormatter
    handler.setFormatter(formatter_class(message_format))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit status (the console script passes it to exit)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    stdin = stdin or sys.stdin
    _configure_logging(stderr)
    args = build_parser().parse_args(argv)
    analytics = cli_analytics(stderr) if args.command == "check" else Analytics.disabled()
    try:
        return _run(args, analytics, stdout, stderr, stdin)
    finally:
        # Bounded: a dead or hanging analytics host adds at most this to the exit.
        analytics.shutdown(ANALYTICS_EXIT_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
