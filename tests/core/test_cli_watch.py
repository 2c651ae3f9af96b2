"""``domaincheck watch`` end to end through ``core.cli.main`` (no network: it never checks)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core import storage
from core.cli import main
from core.cli_watch import EXIT_STORAGE
from core.domains import read_file
from core.models import Target
from core.report import report_document
from core.storage import Watchlist
from core.watchlist_io import EXPORT_FIELDS, LIST_CSV_FIELDS
from tests.core.test_storage import make_result

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "watch.sqlite3"


def watch(db: Path | None, *args: str, stdin: str = "") -> Run:
    """``domaincheck watch ACTION --watchlist DB ARGS...`` in-process."""
    out, err = io.StringIO(), io.StringIO()
    stdin_stream = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    action, *rest = args
    argv = ["watch", action, *(["--watchlist", str(db)] if db else []), *rest]
    code = main(argv, stdout=out, stderr=err, stdin=stdin_stream)
    return Run(code, out.getvalue(), err.getvalue())


def listed(db: Path) -> list[dict[str, Any]]:
    run = watch(db, "list", "--format", "json")
    assert run.code == 0, run.err
    return run.json()["targets"]  # type: ignore[no-any-return]


def groups(db: Path) -> dict[str, str]:
    return {f"{e['display']}:{e['port']}": e["group"] for e in listed(db)}


# --------------------------------------------------------------------------- add


def test_add_counts_what_really_changed_and_reports_bad_lines(db: Path, tmp_path: Path) -> None:
    listing = tmp_path / "clients.csv"
    listing.write_text(
        'domain,port,group\nshop.test,,Acme\napi.test,8443,"Beta, Inc"\nbad name,,Acme\n'
        "bücher.test,,Acme\n",
        encoding="utf-8",
    )
    first = watch(db, "add", "a.test", "b.test")
    assert (first.code, first.out, first.err) == (0, "Added 2 targets\n", "")
    run = watch(db, "add", "-f", str(listing), "a.test")
    assert run.code == 0
    assert run.out == "Added 3 targets, 1 was already watched\n"
    assert run.err == (
        f"domaincheck: skipped {listing}:4: 'bad name': contains a space "
        "(write one domain per line)\n"
    )
    assert groups(db) == {
        "a.test:443": "",
        "b.test:443": "",
        "shop.test:443": "Acme",
        "api.test:8443": "Beta, Inc",
        "bücher.test:443": "Acme",
    }
    again = watch(db, "add", "a.test", "b.test")
    assert again.out == "Added 0 targets, 2 were already watched\n"


def test_add_with_group_puts_new_and_watched_targets_in_it(db: Path) -> None:
    watch(db, "add", "a.test")
    run = watch(db, "add", "--group", " Ops ", "a.test", "c.test:8443")
    assert (
        run.out == "Added 1 target to group 'Ops', 1 was already watched (1 moved to group 'Ops')\n"
    )
    assert groups(db) == {"a.test:443": "Ops", "c.test:8443": "Ops"}
    cleared = watch(db, "add", "--group", "", "a.test")
    assert cleared.out == "Added 0 targets, 1 was already watched (1 moved to no group)\n"
    assert groups(db)["a.test:443"] == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no domains given"),
        (("bad name", "x..y"), "nothing to add: every line of the input was rejected"),
        (("-f", "-"), "nothing to add: the input holds no domains"),
        (("-f", "/nonexistent/list.txt"), "/nonexistent/list.txt: no such file"),
    ],
)
def test_add_without_anything_usable_exits_64(
    db: Path, args: tuple[str, ...], message: str
) -> None:
    run = watch(db, "add", *args, stdin="# only a comment\n")
    assert run.code == 64
    assert run.out == ""
    assert message in run.err
    assert "Traceback" not in run.err
    assert not db.exists()  # bad input never creates the watchlist


def test_import_reads_files_and_stdin_with_groups(db: Path) -> None:
    run = watch(db, "import", "-", stdin="domain;group\nx.test;Acme\ny.test;\n")
    assert (run.code, run.out) == (0, "Added 2 targets\n")
    assert groups(db) == {"x.test:443": "Acme", "y.test:443": ""}
    override = watch(db, "import", "--group", "All", "-", stdin="domain,group\nx.test,Acme\n")
    assert override.out == (
        "Added 0 targets to group 'All', 1 was already watched (1 moved to group 'All')\n"
    )


# --------------------------------------------------------------------------- remove


def test_remove_says_what_was_not_watched_and_the_removal_sticks(db: Path) -> None:
    watch(db, "add", "a.test", "b.test", "c.test:8443")
    run = watch(db, "remove", "https://A.test/login", "nope.test", "c.test:8443", "d.test:99")
    assert run.code == 0
    assert run.out == "Removed 2 targets; 2 were not watched: nope.test, d.test:99\n"
    assert [e["domain"] for e in listed(db)] == ["b.test"]
    with Watchlist(db) as watchlist:  # a check that was under way stores nothing for them
        watchlist.save_results([make_result("a.test"), make_result("b.test")])
    assert [e["domain"] for e in listed(db)] == ["b.test"]
    assert watch(db, "remove", "zzz.test").out == "Removed 0 targets; 1 was not watched: zzz.test\n"


def test_remove_with_only_bad_input_exits_64(db: Path) -> None:
    run = watch(db, "remove", "bad name")
    assert run.code == 64
    assert "nothing to remove: every line of the input was rejected" in run.err


# --------------------------------------------------------------------------- list


def test_list_json_carries_group_and_the_check_result_shape(db: Path) -> None:
    with Watchlist(db) as watchlist:
        watchlist.add([Target("a.test", group="Acme"), Target("b.test")], now=NOW)
        watchlist.save_results([make_result("a.test", days=5)])
        stored = watchlist.last_result(("a.test", 443))
    assert stored is not None
    run = watch(db, "list", "--format", "json")
    assert run.code == 0
    document = run.json()
    assert set(document) == {"targets"}
    checked, unchecked = document["targets"]
    check_shape = report_document([stored], [], 30, NOW)["results"][0]
    assert checked == {
        "domain": "a.test",
        "display": "a.test",
        "port": 443,
        "protocol": "tls",
        "serves": "",
        "group": "Acme",
        "added_at": "2026-03-01T12:30:15Z",
        "checked_at": "2026-03-01T12:30:15Z",
        "threshold_days": 30,
        "result": check_shape,
    }
    assert checked["result"]["status"] == "expiring" and checked["result"]["days_left"] == 5
    assert unchecked["group"] == "" and unchecked["result"] is None
    assert unchecked["checked_at"] is None


def test_list_csv_has_the_check_columns_plus_group_and_date_added(db: Path) -> None:
    with Watchlist(db) as watchlist:
        watchlist.add([Target("a.test", group="Acme"), Target("b.test", 8443)], now=NOW)
        watchlist.save_results([make_result("a.test", days=5)])
    run = watch(db, "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert tuple(rows[0]) == LIST_CSV_FIELDS
    assert rows[0]["group"] == "Acme" and rows[0]["status"] == "expiring"
    assert rows[0]["days_left"] == "5" and rows[0]["tls_issuer"] == "CN=Test CA"
    assert rows[1]["port"] == "8443" and rows[1]["status"] == "" and rows[1]["group"] == ""
    assert rows[1]["added_at"] == "2026-03-01T12:30:15Z"


def test_list_table_and_group_filter(db: Path) -> None:
    assert watch(db, "list").out == (
        "The watchlist is empty: add targets with 'domaincheck watch add'.\n"
    )
    with Watchlist(db) as watchlist:
        watchlist.add([Target("a.test", group="Acme"), Target("b.test", 8443)], now=NOW)
        watchlist.save_results([make_result("a.test", days=5)])
    lines = watch(db, "list").out.splitlines()
    assert lines[0].split() == ["STATUS", "DOMAIN", "GROUP", "DAYS", "CHECKED", "(UTC)", "PROBLEM"]
    assert lines[1].split()[:6] == ["expiring", "a.test", "Acme", "5", "2026-03-01", "12:30"]
    assert "certificate expires in 5 days" in lines[1]
    assert lines[2].split() == ["not", "checked", "b.test:8443", "—", "—", "—"]
    assert lines[3] == "2 targets · 1 group · 1 not checked yet"
    only = watch(db, "list", "--group", "Acme").out.splitlines()
    assert [line.split()[1] for line in only[1:-1]] == ["a.test"]
    assert watch(db, "list", "--group", "Nobody").out == "No targets in group 'Nobody'.\n"


# --------------------------------------------------------------------------- export / import


def test_export_then_import_round_trips_ports_groups_and_idns(db: Path, tmp_path: Path) -> None:
    with Watchlist(db) as watchlist:
        watchlist.add(
            [
                Target("xn--bcher-kva.test", display="bücher.test", group="Acme"),
                Target("api.test", 8443, group='Beta, "Inc"'),
                Target("2001:db8::1", 8443, is_ip=True),
                Target("plain.test"),
            ]
        )
    run = watch(db, "export")
    assert run.code == 0
    assert run.out.splitlines()[0] == ",".join(EXPORT_FIELDS) == "domain,port,group"
    exported = tmp_path / "export.csv"
    saved = watch(db, "export", "-o", str(exported))
    assert saved.out == f"Exported 4 targets to {exported}\n"
    assert exported.read_text(encoding="utf-8") == run.out
    # The app's CSV reader (core.domains) reads it back exactly, groups included.
    parsed = read_file(exported)
    assert parsed.errors == []
    with Watchlist(db) as watchlist:
        originals = watchlist.targets()
    assert [(t.key, t.display, t.group) for t in parsed.targets] == [
        (t.key, t.display, t.group) for t in originals
    ]
    copy = tmp_path / "copy.sqlite3"
    assert watch(copy, "import", str(exported)).out == "Added 4 targets\n"
    assert listed(copy) == [
        {**entry, "added_at": other["added_at"]}
        for entry, other in zip(listed(db), listed(copy), strict=True)
    ]
    acme = watch(db, "export", "--group", "Acme").out
    assert acme == "domain,port,group\nbücher.test,443,Acme\n"


def test_export_to_an_unwritable_place_exits_74(db: Path, tmp_path: Path) -> None:
    watch(db, "add", "a.test")
    run = watch(db, "export", "-o", str(tmp_path / "missing-folder" / "x.csv"))
    assert run.code == EXIT_STORAGE
    assert run.err.startswith("domaincheck: cannot write ")
    assert "Traceback" not in run.err


def test_an_unreadable_watchlist_exits_74_with_one_line(db: Path) -> None:
    db.write_bytes(b"this is not a database" * 100)
    run = watch(db, "list")
    assert run.code == EXIT_STORAGE
    assert run.err.startswith("domaincheck: cannot open the watchlist ")
    assert run.err.count("\n") == 1


# --------------------------------------------------------------------------- the file


def test_watchlist_option_before_or_after_the_action_and_the_env(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    assert main(["watch", "--watchlist", str(db), "add", "a.test"], stdout=out) == 0
    assert [e["domain"] for e in listed(db)] == ["a.test"]
    env_db = tmp_path / "env.sqlite3"
    monkeypatch.setenv(storage.WATCHLIST_ENV, str(env_db))
    assert watch(None, "add", "e.test").code == 0
    assert [e["domain"] for e in listed(env_db)] == ["e.test"]


def test_default_is_the_apps_watchlist(tmp_path: Path) -> None:
    assert watch(None, "add", "app.test").code == 0
    with Watchlist() as watchlist:  # what the desktop opens
        assert [t.host for t in watchlist.targets()] == ["app.test"]
    if os.name == "posix":
        assert storage.default_path().stat().st_mode & 0o077 == 0


def test_a_running_app_sees_the_change_in_the_revision(db: Path) -> None:
    with Watchlist(db) as app:
        seen = app.revision()
        watch(db, "add", "--group", "Ops", "new.test")
        assert app.revision() != seen
        seen = app.revision()
        watch(db, "remove", "new.test")
        assert app.revision() != seen


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ((), "Edit the watchlist the desktop app checks (the same file)"),
        (("add",), "A CSV list with a 'group' column puts each target in its group"),
        (("remove",), "stop watching"),
        (("list",), "check --format json"),
        (("export",), "domain,port,group"),
        (("import",), "like 'watch add -f FILE'"),
    ],
)
def test_every_action_has_help(
    action: tuple[str, ...], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["watch", *action, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert words in text and "--watchlist PATH" in text


def test_looking_at_a_watchlist_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"
    assert watch(missing, "list").out.startswith("The watchlist is empty")
    assert watch(missing, "list", "--format", "json").json() == {"targets": []}
    assert watch(missing, "export").out == "domain,port,group\n"
    assert (
        watch(missing, "remove", "a.test").out == "Removed 0 targets; 1 was not watched: a.test\n"
    )
    assert not missing.exists()
