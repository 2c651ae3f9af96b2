"""The watchlist's groups, removal with undo, change counter, migration and file modes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import paths, storage
from core.domains import parse_text
from core.models import Status, Target
from core.storage import RemovedEntry, Watchlist
from tests.core.test_storage import make_result

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def groups_by_host(watchlist: Watchlist) -> dict[str, str]:
    return {e.target.host: e.group for e in watchlist.entries()}


# --------------------------------------------------------------------------- groups


def test_csv_groups_are_stored_and_loaded_back(tmp_path: Path) -> None:
    parsed = parse_text("domain,group\na.test,Acme\nb.test,\nc.test,Beta\n")
    with Watchlist(tmp_path / "w.db") as watchlist:
        added = watchlist.add(parsed.targets, now=NOW)
        assert [(t.host, t.group) for t in added] == [
            ("a.test", "Acme"),
            ("b.test", ""),
            ("c.test", "Beta"),
        ]
        watchlist.save_results([make_result("a.test")])
    with Watchlist(tmp_path / "w.db") as watchlist:
        entries = watchlist.entries()
        assert [(e.target.host, e.group, e.target.group) for e in entries] == [
            ("a.test", "Acme", "Acme"),
            ("b.test", "", ""),
            ("c.test", "Beta", "Beta"),
        ]
        assert [t.group for t in watchlist.targets()] == ["Acme", "", "Beta"]
        loaded = watchlist.last_result(("a.test", 443))
        assert loaded is not None and loaded.target.group == "Acme"
        assert entries[0].result is not None and entries[0].result.target.group == "Acme"


def test_explicit_group_overrides_the_targets_own(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        added = watchlist.add([Target("a.test", group="Csv"), Target("b.test")], group=" Shop ")
        assert [t.group for t in added] == ["Shop", "Shop"]
        assert groups_by_host(watchlist) == {"a.test": "Shop", "b.test": "Shop"}


def test_adding_watched_targets_regroups_them_but_a_plain_list_never_clears(
    tmp_path: Path,
) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("a.test", group="Old"), Target("b.test", group="Old")])
        revision = watchlist.revision()
        # A plain list (no groups): nothing new, nothing changed, no new revision.
        assert watchlist.add([Target("a.test"), Target("b.test")]) == []
        assert groups_by_host(watchlist) == {"a.test": "Old", "b.test": "Old"}
        assert watchlist.revision() == revision
        # A CSV row with a group moves the watched target into it.
        assert watchlist.add([Target("a.test", group="New")]) == []
        assert groups_by_host(watchlist) == {"a.test": "New", "b.test": "Old"}
        assert watchlist.revision() == revision + 1
        # An explicit group applies to watched targets too; "" takes them out.
        assert watchlist.add([Target("b.test", group="Csv")], group="") == []
        assert groups_by_host(watchlist) == {"a.test": "New", "b.test": ""}


def test_set_group_and_groups(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("a.test"), Target("b.test"), Target("c.test", 8443)])
        assert watchlist.groups() == []
        keys = [("a.test", 443), ("c.test", 8443), ("missing.test", 443)]
        assert watchlist.set_group(keys, "beta") == 2
        assert watchlist.set_group(keys, "beta") == 0  # already there: no change
        assert watchlist.set_group([("b.test", 443)], "Alpha") == 1
        assert watchlist.groups() == ["Alpha", "beta"]
        assert watchlist.set_group([("a.test", 443)], "") == 1
        assert groups_by_host(watchlist) == {"a.test": "", "b.test": "Alpha", "c.test": "beta"}
        assert watchlist.groups() == ["Alpha", "beta"]


# --------------------------------------------------------------------------- take and restore


def test_take_and_restore_put_back_exactly_what_was_there(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Watchlist(path) as watchlist:
        watchlist.add([Target("a.test"), Target("b.test", group="Acme")], now=NOW)
        watchlist.add([Target("c.test", 8443), Target("d.test")], now=NOW + timedelta(hours=1))
        watchlist.save_results([make_result("b.test", days=5), make_result("c.test", port=8443)])
        before = watchlist.entries()
        taken = watchlist.take([("b.test", 443), ("c.test", 8443), ("zzz.test", 443)])
        assert [(e.key, e.group) for e in taken] == [
            (("b.test", 443), "Acme"),
            (("c.test", 8443), ""),
        ]
        assert all(isinstance(e, RemovedEntry) for e in taken)
        assert taken[0].result is not None and taken[0].result.status is Status.EXPIRING
        assert [t.host for t in watchlist.targets()] == ["a.test", "d.test"]
        assert watchlist.last_result(("b.test", 443)) is None
    with Watchlist(path) as watchlist:  # undo after a reopen (another connection)
        assert watchlist.restore(taken) == 2
        assert watchlist.entries() == before
        assert watchlist.entries()[1].added_at == NOW


def test_restore_skips_targets_watched_again_and_appends_when_its_place_is_taken(
    tmp_path: Path,
) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("a.test"), Target("b.test"), Target("c.test", group="G")])
        taken = watchlist.take([("b.test", 443), ("c.test", 443)])
        watchlist.add([Target("b.test", group="New")])  # re-added by hand meanwhile
        watchlist.add([Target("e.test")])  # may take c.test's old place
        assert watchlist.restore(taken) == 1
        assert [t.host for t in watchlist.targets()] == ["a.test", "b.test", "e.test", "c.test"]
        assert groups_by_host(watchlist)["b.test"] == "New"
        assert groups_by_host(watchlist)["c.test"] == "G"
        assert watchlist.restore(taken) == 0


def test_removal_sticks_across_a_check_and_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Watchlist(path) as watchlist:
        watchlist.add([Target("a.test"), Target("b.test")])
        watchlist.take([("a.test", 443)])
        watchlist.save_results([make_result("a.test"), make_result("b.test")])
    with Watchlist(path) as watchlist:
        assert [t.host for t in watchlist.targets()] == ["b.test"]


# --------------------------------------------------------------------------- revision


def test_revision_counts_changes_to_the_watched_set_and_groups_only(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist, Watchlist(tmp_path / "w.db") as other:
        assert watchlist.revision() == other.revision() == 0
        steps: list[Callable[[], object]] = [
            lambda: watchlist.add([Target("a.test"), Target("b.test")]),
            lambda: watchlist.set_group([("a.test", 443)], "G"),
            lambda: watchlist.remove([("b.test", 443)]),
            lambda: watchlist.take([("a.test", 443)]),
        ]
        for step in steps:
            seen = other.revision()
            step()
            assert other.revision() != seen
        taken = RemovedEntry(Target("a.test", group="G"), NOW, position=1)
        seen = other.revision()
        assert watchlist.restore([taken]) == 1
        assert other.revision() != seen
        # Not changes to the watched set: saving results, meta values, no-op edits.
        seen = other.revision()
        watchlist.save_results([make_result("a.test")])
        watchlist.set_meta("last_check_at", "x")
        watchlist.record_notification(("a.test", 443), Status.EXPIRING, "fp", NOW)
        watchlist.add([Target("a.test")])
        watchlist.remove([("nothing.test", 443)])
        watchlist.set_group([("a.test", 443)], "G")
        assert watchlist.take([("nothing.test", 443)]) == []
        assert other.revision() == seen


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from core.models import Target
    from core.storage import Watchlist

    with Watchlist(Path(sys.argv[1])) as watchlist:
        watchlist.add([Target("from-script.test", group="Ops")])
    """
)


def test_revision_sees_a_change_committed_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Watchlist(path) as watchlist:
        watchlist.add([Target("a.test")])
        seen = watchlist.revision()
        subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(path)], cwd=ROOT, check=True)
        assert watchlist.revision() != seen
        assert groups_by_host(watchlist) == {"a.test": "", "from-script.test": "Ops"}


# --------------------------------------------------------------------------- migration

_VERSION_1_SCHEMA = """
CREATE TABLE targets (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,
    display TEXT NOT NULL, added_at TEXT NOT NULL, UNIQUE (host, port));
CREATE TABLE results (
    target_id INTEGER PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
    checked_at TEXT NOT NULL, threshold_days INTEGER NOT NULL,
    status TEXT NOT NULL, document TEXT NOT NULL);
CREATE TABLE notifications (
    host TEXT NOT NULL, port INTEGER NOT NULL, status TEXT NOT NULL,
    fingerprint TEXT NOT NULL, day TEXT NOT NULL, notified_at TEXT NOT NULL,
    PRIMARY KEY (host, port, status, fingerprint, day));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version=1;
"""


def test_a_database_made_by_the_old_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    result = make_result("old.test", days=50)
    db = sqlite3.connect(path)
    db.executescript(_VERSION_1_SCHEMA)
    db.execute(
        "INSERT INTO targets (host, port, display, added_at) VALUES (?, ?, ?, ?)",
        ("old.test", 443, "old.test", NOW.isoformat()),
    )
    db.execute(
        "INSERT INTO results VALUES (1, ?, 30, 'valid', ?)",
        (NOW.isoformat(), storage.result_document(result)),
    )
    db.commit()
    db.close()
    with Watchlist(path) as watchlist:
        (version,) = watchlist._db.execute("PRAGMA user_version").fetchone()
        assert version == storage.SCHEMA_VERSION
        (entry,) = watchlist.entries()
        assert (entry.target.host, entry.group, entry.added_at) == ("old.test", "", NOW)
        assert entry.result is not None and entry.result.days_left == 50
        assert watchlist.set_group([("old.test", 443)], "Legacy") == 1
        assert watchlist.revision() == 1
    with Watchlist(path) as watchlist:  # opening again is a no-op
        assert watchlist.groups() == ["Legacy"]


# --------------------------------------------------------------------------- private files


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_new_database_and_folder_are_private_even_with_a_lax_umask(tmp_path: Path) -> None:
    path = tmp_path / "new-folder" / "w.sqlite3"
    old_umask = os.umask(0)
    try:
        with Watchlist(path) as watchlist:
            watchlist.add([Target("a.test")])  # a write: the -wal and -shm files exist now
            companions = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
            assert all(c.exists() for c in companions)
            assert {mode(c) for c in companions} == {0o600}
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


@posix_only
def test_an_existing_readable_database_is_tightened_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "chosen"
    folder.mkdir()
    folder.chmod(0o755)
    path = folder / "w.sqlite3"
    with Watchlist(path) as watchlist:
        watchlist.add([Target("a.test")])
    wal = path.with_name(path.name + "-wal")
    wal.write_bytes(b"")  # a stray companion left by an older version
    for file in (path, wal):
        file.chmod(0o644)
    with Watchlist(path) as watchlist:
        assert [t.host for t in watchlist.targets()] == ["a.test"]
        assert mode(path) == 0o600
        assert mode(wal) == 0o600
    assert mode(folder) == 0o755  # a folder the user chose is theirs to set


@posix_only
def test_the_default_data_folder_is_made_private(tmp_path: Path) -> None:
    folder = paths.data_dir()
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    with Watchlist() as watchlist:
        assert watchlist.path == folder / storage.DATABASE_NAME
    assert mode(folder) == 0o700
    assert mode(folder / storage.DATABASE_NAME) == 0o600


def test_watchlist_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(storage.WATCHLIST_ENV, str(tmp_path / "elsewhere.db"))
    assert storage.default_path() == tmp_path / "elsewhere.db"


def test_in_memory_watchlist_touches_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Watchlist(Path(":memory:")) as watchlist:
        watchlist.add([Target("a.test", group="G")])
        assert watchlist.groups() == ["G"]
    assert list(tmp_path.iterdir()) == []
