"""What the CLI's commands share: reading targets, and writing for people.

``domaincheck check`` and ``domaincheck watch`` read targets the same way (names as
arguments, ``-f FILE`` lists, ``-f -`` for stdin) and report rejected lines the same
way, so a script sees one convention whichever command it runs. Kept apart from
:mod:`core.cli` so the watch commands (:mod:`core.cli_watch`) need not import the
module that imports them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import TextIO

from core.domains import ParseResult, merge, parse_lines, read_file, read_stream
from core.models import InputError, Status

PROG = "domaincheck"

#: ANSI colour of each status in tables on a terminal.
STATUS_COLOURS = {
    Status.VALID: "32",  # green
    Status.EXPIRING: "33",  # yellow
    Status.EXPIRED: "31;1",  # bold red
    Status.INVALID: "31",  # red
    Status.ERROR: "35",  # magenta
    Status.UNKNOWN: "2",  # dim
}
#: Width assumed for output that goes to a file or a pipe: never cut anything there.
UNLIMITED_WIDTH = 10_000


def read_targets(names: Sequence[str], files: Sequence[str], stdin: TextIO) -> ParseResult:
    """Targets named as arguments, then those in each file (``-`` = stdin), merged.

    Raises:
        InputFileError: a file cannot be read at all.
    """
    parts = [parse_lines(names, source="<args>")] if names else []
    for name in files:
        if name == "-":
            parts.append(read_stream(stdin.buffer, source="<stdin>"))
        else:
            parts.append(read_file(name))
    return merge(parts)


def format_input_error(error: InputError) -> str:
    return f"{error.source}:{error.line}: {error.text!r}: {error.error}"


def write_line(stream: TextIO, text: str) -> None:
    """``text`` and a newline (unless it ends with one already)."""
    stream.write(text)
    if not text.endswith("\n"):
        stream.write("\n")


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def terminal_style(stream: TextIO) -> tuple[bool, int]:
    """``(colour, width)`` for a table: colour and the terminal's width on a terminal
    (``NO_COLOR`` turns colour off), no colour and no limit elsewhere."""
    if not stream.isatty():
        return False, UNLIMITED_WIDTH
    return "NO_COLOR" not in os.environ, shutil.get_terminal_size((120, 24)).columns


def colour_status(text: str, status: Status | None, *, colour: bool) -> str:
    """``text`` (a padded status cell) in its status's colour, when colour is on."""
    if not colour or status is None:
        return text
    return f"\033[{STATUS_COLOURS[status]}m{text}\033[0m"
