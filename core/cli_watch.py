"""``domaincheck watch``: the desktop app's watchlist, for scripts and provisioning.

The same file the app uses (:func:`core.storage.default_path`, or ``--watchlist
PATH``), edited through :class:`core.storage.Watchlist`, so a running app sees the
change (it polls :meth:`~core.storage.Watchlist.revision`) and checks what was
added. ``watch`` never checks; the only network use is looking up the mail servers
of ``mx:example.com`` entries when they are added (DNS, ``DOMAINCHECK_DNS_SERVER``).

Conventions are ``check``'s: rejected input lines are reported on stderr one by one
(``domaincheck: skipped FILE:LINE: 'text': reason``) and the rest is used; input
with nothing usable, or a file that cannot be read, exits 64. A watchlist (or an
export file) that cannot be opened or written exits :data:`EXIT_STORAGE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from core import mx, storage
from core.cli_common import (
    PROG,
    colour_status,
    format_input_error,
    read_targets,
    terminal_style,
    truncate,
    write_line,
)
from core.config import Settings
from core.dns import DnsResolver
from core.domains import MAX_THRESHOLD_DAYS, ParseResult, parse_threshold
from core.errors import UsageError
from core.registration import parse_manual_expiry
from core.report import iso
from core.storage import StorageError, WatchEntry, Watchlist
from core.watchlist_io import list_document, write_export_csv, write_list_csv

#: EX_IOERR: the watchlist (or the export's output file) cannot be opened or written.
EXIT_STORAGE = 74
_NOT_CHECKED = "not checked"


def add_parser(commands: Any) -> None:
    """Add ``watch`` and its actions to the CLI's subcommands (``commands``)."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given before or after the action, whichever is given wins.
    common.add_argument(
        "--watchlist",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=(
            f"the watchlist file (default: the app's, {storage.default_path()}; "
            f"${storage.WATCHLIST_ENV} names another)"
        ),
    )
    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="add, remove, list, export or import the app's watched targets",
        description=(
            "Edit the watchlist the desktop app checks (the same file). Nothing is checked "
            "here: a running app notices changes within a few seconds and checks new "
            "targets at once. Exit status: 0 done, 64 usage or input-file error, "
            f"{EXIT_STORAGE} the watchlist or output file cannot be opened or written."
        ),
    )
    actions = watch.add_subparsers(dest="watch_command", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        parents=[common],
        help="watch targets (names, -f FILE lists, CSV with a group column)",
        description=(
            "Add targets to the watchlist. A CSV list with a 'group' column puts each "
            "target in its group (and moves targets already watched into it). Lines that "
            "cannot be read are reported on stderr and skipped."
        ),
    )
    _add_target_arguments(add, "domain, host:port or URL to watch")
    _add_group_argument(add, 'put every target in group NAME ("" = no group)')
    add.add_argument(
        "--registration-expires",
        metavar="DATE",
        help=(
            "the registration's expiry (YYYY-MM-DD), for registries that publish none"
            ' (.de, .ch, .eu...); "" forgets it. Update it after renewing'
        ),
    )
    add.add_argument(
        "--threshold",
        metavar="DAYS",
        help=(
            "these targets' own threshold: days before expiry that count as expiring"
            ' (instead of the default); "" goes back to the default'
        ),
    )

    remove = actions.add_parser(
        "remove",
        parents=[common],
        help="stop watching targets",
        description="Remove targets (and their last results) from the watchlist.",
    )
    _add_target_arguments(remove, "domain, host:port or URL to stop watching")

    show = actions.add_parser(
        "list",
        parents=[common],
        help="show the watched targets, their groups and last results",
        description=(
            "Each watched target with its group and its last stored result. In JSON, "
            "'result' is exactly one result of 'check --format json', or null before "
            "the first check."
        ),
    )
    show.add_argument("--format", choices=("table", "json", "csv"), default="table")
    _add_group_argument(show, 'only the targets in group NAME ("" = those in none)')

    export = actions.add_parser(
        "export",
        parents=[common],
        help="write the watched targets as CSV (domain,port,group)",
        description=(
            "Write the watched targets as a CSV list with a 'domain,port,group' header "
            "(and a 'threshold_days' column when a target has its own threshold), which "
            "'watch import', 'check -f' and the app read back."
        ),
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)"
    )
    _add_group_argument(export, "only the targets in group NAME")

    load = actions.add_parser(
        "import",
        parents=[common],
        help="watch the targets of CSV or text lists, with their groups",
        description=(
            "Add the targets of lists ('-' = stdin), like 'watch add -f FILE': a 'group' "
            "column puts each target in its group."
        ),
    )
    load.add_argument("files", nargs="+", metavar="FILE", help="a .txt or .csv list")
    _add_group_argument(load, "put every target in group NAME instead")


def _add_target_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=what)
    parser.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="FILE",
        help="read targets from a .txt/.csv file ('-' = stdin); repeatable",
    )


def _add_group_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--group", metavar="NAME", help=what)


def command_watch(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Run one ``watch`` action; errors are raised for :func:`core.cli.main` to report."""
    if args.watch_command == "add":
        return _add(args, args.targets, args.files, stdout, stderr, stdin)
    if args.watch_command == "import":
        return _add(args, [], args.files, stdout, stderr, stdin)
    if args.watch_command == "remove":
        return _remove(args, stdout, stderr, stdin)
    if args.watch_command == "list":
        return _list(args, stdout)
    if args.watch_command == "export":
        return _export(args, stdout)
    raise UsageError(f"unknown watch action {args.watch_command!r}")  # argparse prevents it


def storage_message(error: Exception) -> str:
    """What to tell people when the watchlist file fails them."""
    if isinstance(error, StorageError):
        return str(error)
    return f"cannot read or write the watchlist ({error})"


def _path(args: argparse.Namespace) -> Path:
    path: Path | None = getattr(args, "watchlist", None)
    return storage.default_path() if path is None else path


def _open(args: argparse.Namespace) -> Watchlist:
    return Watchlist(_path(args))


def _entries(args: argparse.Namespace) -> list[WatchEntry]:
    """What is watched; a watchlist file that does not exist yet is empty (and stays
    uncreated: looking never makes a file, not even at a mistyped ``--watchlist``)."""
    if not _path(args).exists():
        return []
    with _open(args) as watchlist:
        return watchlist.entries()


def _read_input(
    names: Sequence[str], files: Sequence[str], stderr: TextIO, stdin: TextIO, verb: str
) -> ParseResult:
    """The targets given; rejected lines reported; raises when nothing is usable."""
    parsed = read_targets(names, files, stdin)
    for error in parsed.errors:
        write_line(stderr, f"{PROG}: skipped {format_input_error(error)}")
    if not parsed.targets:
        if not names and not files:
            raise UsageError(
                f"no domains given: name them, or use -f FILE (-f - for stdin) to {verb}"
            )
        if parsed.errors:
            raise UsageError(f"nothing to {verb}: every line of the input was rejected")
        raise UsageError(f"nothing to {verb}: the input holds no domains")
    return parsed


def _expand_mail_domains(parsed: ParseResult, stderr: TextIO) -> ParseResult:
    """Every ``mx:`` entry replaced by its mail servers, watched one by one.

    A watchlist row is one endpoint with one result, so ``mx:example.com`` is looked
    up once, here, and each MX host is watched as ``smtp://host`` serving
    ``example.com``. What has no mail server is reported like a rejected line."""
    if not mx.has_mx(parsed):
        return parsed
    expanded = asyncio.run(mx.expand(parsed, DnsResolver.from_settings(Settings.from_env())))
    for error in expanded.errors[len(parsed.errors) :]:
        write_line(stderr, f"{PROG}: skipped {format_input_error(error)}")
    if not expanded.targets:
        raise UsageError("nothing to add: no mail server was found")
    return expanded


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _add(
    args: argparse.Namespace,
    names: Sequence[str],
    files: Sequence[str],
    stdout: TextIO,
    stderr: TextIO,
    stdin: TextIO,
) -> int:
    parsed = _expand_mail_domains(_read_input(names, files, stderr, stdin, "add"), stderr)
    group: str | None = None if args.group is None else args.group.strip()
    typed_expiry: str | None = getattr(args, "registration_expires", None)
    expires = None if typed_expiry is None else parse_manual_expiry(typed_expiry)
    typed_threshold: str | None = getattr(args, "threshold", None)
    threshold = _threshold(typed_threshold)
    with _open(args) as watchlist:
        before = {target.key: target.group for target in watchlist.targets()}
        added = watchlist.add(parsed.targets, group=group)
        after = {target.key: target.group for target in watchlist.targets()}
        if typed_expiry is not None:
            watchlist.set_registration_expiry([t.key for t in parsed.targets], expires)
        if typed_threshold is not None:
            watchlist.set_threshold([t.key for t in parsed.targets], threshold)
    already = [t.key for t in parsed.targets if t.key in before]
    moved = sum(1 for key in already if after.get(key, before[key]) != before[key])
    message = f"Added {_count(len(added), 'target')}"
    if group:
        message += f" to group {group!r}"
    if already:
        message += f", {len(already)} {'was' if len(already) == 1 else 'were'} already watched"
    if moved:
        where = f"group {group!r}" if group else "no group" if group == "" else "another group"
        message += f" ({moved} moved to {where})"
    write_line(stdout, message)
    if expires is not None:
        write_line(
            stdout,
            f"Registration expiry set to {expires:%Y-%m-%d}: used while the registry"
            " publishes none. Update it after renewing.",
        )
    elif typed_expiry is not None:
        write_line(stdout, "Registration expiry entered by hand forgotten.")
    if threshold is not None:
        write_line(stdout, f"Threshold set to {_count(threshold, 'day')} before expiry.")
    elif typed_threshold is not None:
        write_line(stdout, "Threshold back to the default.")
    return 0


def _threshold(text: str | None) -> int | None:
    """``--threshold``: whole days; ``""`` (or no option) is ``None``."""
    if text is None or not text.strip():
        return None
    try:
        return parse_threshold(text)
    except ValueError:
        raise UsageError(
            f"--threshold {text.strip()!r} is not a number of days (0 to {MAX_THRESHOLD_DAYS:,})"
        ) from None


def _remove(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    parsed = _read_input(args.targets, args.files, stderr, stdin, "remove")
    watched: set[tuple[str, int]] = set()
    removed = 0
    if _path(args).exists():
        with _open(args) as watchlist:
            watched = {target.key for target in watchlist.targets()}
            removed = watchlist.remove([t.key for t in parsed.targets if t.key in watched])
    missing = [t.label for t in parsed.targets if t.key not in watched]
    message = f"Removed {_count(removed, 'target')}"
    if missing:
        were = "was" if len(missing) == 1 else "were"
        message += f"; {len(missing)} {were} not watched: {', '.join(missing)}"
    write_line(stdout, message)
    return 0


def _selected(entries: Iterable[WatchEntry], group: str | None) -> list[WatchEntry]:
    if group is None:
        return list(entries)
    wanted = group.strip()
    return [entry for entry in entries if entry.group == wanted]


def _list(args: argparse.Namespace, stdout: TextIO) -> int:
    entries = _selected(_entries(args), args.group)
    if args.format == "json":
        json.dump(list_document(entries), stdout, ensure_ascii=False, indent=2)
        stdout.write("\n")
    elif args.format == "csv":
        write_list_csv(entries, stdout)
    elif not entries:
        if args.group is None:
            write_line(stdout, f"The watchlist is empty: add targets with '{PROG} watch add'.")
        else:
            write_line(stdout, f"No targets in group {args.group.strip()!r}.")
    else:
        colour, width = terminal_style(stdout)
        write_line(stdout, render_watch_table(entries, colour=colour, width=width))
        write_line(stdout, render_watch_summary(entries))
    return 0


def _export(args: argparse.Namespace, stdout: TextIO) -> int:
    targets = [e.target for e in _selected(_entries(args), args.group)]
    if args.output is None:
        write_export_csv(targets, stdout)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as stream:
            count = write_export_csv(targets, stream)
    except OSError as exc:
        raise StorageError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    write_line(stdout, f"Exported {_count(count, 'target')} to {args.output}")
    return 0


def render_watch_table(entries: Sequence[WatchEntry], *, colour: bool, width: int) -> str:
    """A human table in watchlist order; ``width`` bounds the last (problem) column."""
    headers = ("STATUS", "DOMAIN", "GROUP", "DAYS", "CHECKED (UTC)", "PROBLEM")
    rows = []
    for entry in entries:
        result = entry.result
        checked = iso(result.checked_at) if result is not None else None
        rows.append(
            (
                None if result is None else result.status,
                (
                    _NOT_CHECKED if result is None else result.status.value,
                    entry.target.label,
                    entry.group or "—",
                    "—" if result is None or result.days_left is None else str(result.days_left),
                    "—" if checked is None else checked[:16].replace("T", " "),
                    "" if result is None else result.problem,
                ),
            )
        )
    widths = [len(header) for header in headers]
    for _, cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths[i], len(cell))
    problem_width = max(20, width - sum(widths[:-1]) - 2 * (len(headers) - 1))

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        return "  ".join([*padded, truncate(cells[-1], problem_width)]).rstrip()

    out = [line(headers)]
    for status, cells in rows:
        text = line(cells)
        status_cell = cells[0].ljust(widths[0])
        out.append(colour_status(status_cell, status, colour=colour) + text[len(status_cell) :])
    return "\n".join(out)


def render_watch_summary(entries: Sequence[WatchEntry]) -> str:
    """``5 targets · 2 groups · 1 not checked yet``."""
    groups = {entry.group for entry in entries if entry.group}
    unchecked = sum(1 for entry in entries if entry.result is None)
    parts = [_count(len(entries), "target"), _count(len(groups), "group")]
    if unchecked:
        parts.append(f"{unchecked} not checked yet")
    return " · ".join(parts)
