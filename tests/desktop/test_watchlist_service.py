"""The watchlist service on its own: the diff it hands the table, and the in-memory fallback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.models import Target
from core.storage import WatchEntry, Watchlist
from desktop.messages import MessageBridge
from desktop.watchlist_service import UNDO_DEPTH, WatchlistService, diff
from tests.desktop.fakes import FakeTimer

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def entry(host: str, group: str = "") -> WatchEntry:
    return WatchEntry(Target(host, group=group), NOW, None, group)


def test_diff_names_what_to_add_drop_and_regroup() -> None:
    shown = {("a.test", 443): "", ("b.test", 443): "Shop", ("c.test", 443): ""}
    stored = [entry("a.test"), entry("b.test", "Blog"), entry("d.test", "New")]
    change = diff(shown, stored)
    assert [e.target.host for e in change.added] == ["d.test"]
    assert change.removed == [("c.test", 443)]
    assert change.regrouped == [(("b.test", 443), "Blog")]
    assert change
    assert not diff({("a.test", 443): ""}, [entry("a.test")])


def test_in_memory_fallback_removes_and_undoes_at_once(qtbot: Any) -> None:
    """Without a database file there is no writer thread: everything happens in place."""
    poll = FakeTimer()
    service = WatchlistService(Watchlist(Path(":memory:")), poll_timer=poll)
    reloads: list[tuple[list[str], bool]] = []
    service.reloaded.connect(
        lambda entries, external: reloads.append(([e.target.host for e in entries], external))
    )
    undo_texts: list[str] = []
    service.undo_changed.connect(undo_texts.append)
    service.add([Target("a.test"), Target("b.test")], group=None, now=NOW)
    service.remove([("a.test", 443)])
    assert [t.host for t in service.watchlist.targets()] == ["b.test"]
    assert undo_texts[-1] == "Undo remove (1 domain)"
    assert service.undo()
    assert sorted(t.host for t in service.watchlist.targets()) == ["a.test", "b.test"]
    assert reloads and reloads[-1][1] is False
    assert sorted(reloads[-1][0]) == ["a.test", "b.test"]
    assert undo_texts[-1] == ""
    assert not service.undo()
    service.start_polling()
    assert not poll.active  # no other process can reach an in-memory database
    service.close()


def test_undo_keeps_only_the_last_few_removals(tmp_path: Path, qtbot: Any) -> None:
    service = WatchlistService(Watchlist(tmp_path / "w.sqlite3"), poll_timer=FakeTimer())
    hosts = [f"h{i}.test" for i in range(UNDO_DEPTH + 2)]
    service.add([Target(h) for h in hosts], group=None, now=NOW)
    for host in hosts:
        service.remove([(host, 443)])
    undone = 0
    while service.undo():
        undone += 1
    assert undone == UNDO_DEPTH
    service.close()


def test_open_falls_back_to_memory_with_a_message(tmp_path: Path, monkeypatch: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("DOMAINCHECK_WATCHLIST", str(blocker / "watchlist.sqlite3"))
    messages = MessageBridge()
    said: list[str] = []
    messages.shown.connect(lambda message: said.append(message.text))
    watchlist = WatchlistService.open(messages)
    assert str(watchlist.path) == ":memory:"
    assert said == ["The watchlist could not be opened; changes will not be saved."]
    watchlist.close()
