"""Per-row settings: a row's own threshold and a registration expiry typed by hand.

The dialogs alone, then the whole path: the row action, the watchlist (written off
the GUI thread), the engine's context and a new check, remove + undo.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QLabel

from core.models import Registration, Target
from core.registration import manual_registration
from core.storage import Watchlist
from desktop.engine_process import CheckContext
from desktop.rows import COLUMN_REG_EXPIRES, WatchRow
from desktop.target_settings import (
    EXPIRY_EXPLANATION,
    RegistrationExpiryDialog,
    ThresholdDialog,
    manual_expiry_of,
)
from tests.desktop.fakes import FakeEngine, FakeTimer, make_result

TYPED = datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC)


class ContextEngine(FakeEngine):
    """A fake engine that is handed each run's context, and uses the typed dates as
    core's registration chain does (the registry of ``.test`` publishes none)."""

    takes_context = True

    def __init__(self) -> None:
        super().__init__(self._result)
        self.contexts: list[CheckContext] = []

    def __call__(self, settings: Any, context: CheckContext | None = None) -> ContextEngine:
        self.settings.append(settings)
        self.contexts.append(context or CheckContext())
        return self

    def _result(self, target: Target) -> Any:
        result = make_result(target, days=20, threshold_days=target.threshold_days or 30)
        typed = self.contexts[-1].manual_expiry.get(target.key)
        if typed is not None:
            assert result.registration is not None
            registration = manual_registration(result.registration, typed)
            result = result.__class__(
                result.target, result.tls, registration, result.checked_at, result.threshold_days
            )
        return result


def test_threshold_dialog_gives_days_or_the_default(qtbot: Any) -> None:
    rows = [WatchRow(Target("a.test", threshold_days=7)), WatchRow(Target("b.test"))]
    dialog = ThresholdDialog(rows[:1], 30)
    qtbot.addWidget(dialog)
    assert dialog.days.value() == 7  # the row's own
    dialog.days.setValue(14)
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.accept()
    assert chosen.args == [14]

    mixed = ThresholdDialog(rows, 30)
    qtbot.addWidget(mixed)
    assert mixed.days.value() == 30  # no common value: start from the default
    with qtbot.waitSignal(mixed.chosen) as chosen:
        mixed.use_default.click()
    assert chosen.args == [None]


def test_expiry_dialog_explains_and_gives_the_end_of_the_day_or_none(qtbot: Any) -> None:
    row = WatchRow(Target("a.de"))
    dialog = RegistrationExpiryDialog([row], date(2026, 3, 1))
    qtbot.addWidget(dialog)
    labels = [label.text() for label in dialog.findChildren(QLabel)]
    assert EXPIRY_EXPLANATION in labels  # only where the registry has none; after renewal
    assert "When does the registration of a.de expire?" in labels
    assert dialog.date.date() == QDate(2027, 3, 1)  # a year ahead to start with
    assert not dialog.clear.isEnabled()  # nothing typed yet: nothing to clear
    dialog.date.setDate(QDate(2027, 6, 30))
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.accept()
    assert chosen.args == [TYPED]


def test_expiry_dialog_starts_from_the_typed_date_and_clears_it(qtbot: Any) -> None:
    target = Target("a.de")
    result = make_result(target)
    typed = result.__class__(
        target, result.tls, manual_registration(Registration(), TYPED), result.checked_at
    )
    row = WatchRow(target, typed)
    assert manual_expiry_of([row]) == TYPED
    assert manual_expiry_of([row, WatchRow(Target("b.de"))]) is None
    dialog = RegistrationExpiryDialog([row], date(2026, 3, 1))
    qtbot.addWidget(dialog)
    assert dialog.date.date() == QDate(2027, 6, 30)
    assert dialog.clear.isEnabled()
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.clear.click()
    assert chosen.args == [None]


def _finish(app: Any, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: not app.is_checking, timeout=5000)
    app.flush_results()
    assert app.flush_writes()


def test_a_rows_threshold_is_kept_used_by_the_check_and_survives_undo(
    make_app: Any, qtbot: Any, tmp_path: Any
) -> None:
    engine = ContextEngine()
    app = make_app(checker_factory=engine)
    app.watch([Target("a.test"), Target("b.test")])
    _finish(app, qtbot)
    table = app.window.table
    app.window.select_keys([("a.test", 443)])
    menu = table.row_menu(table.selected_rows())
    actions = {a.text(): a for a in menu.actions()}
    actions["Set &Threshold…"].trigger()
    dialog = table.settings_dialog
    assert isinstance(dialog, ThresholdDialog)
    dialog.days.setValue(25)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        dialog.accept()
    app.flush_results()
    assert app.flush_writes()
    assert [t.threshold_days for t in engine.checked[-1:]] == [25]  # checked again with it
    row = app.model.row_at(app.model.row_of(("a.test", 443)))
    assert row.target.threshold_days == 25
    assert row.status is not None and row.status.value == "expiring"  # 20 days <= 25
    app.window.select_keys([("a.test", 443)])
    threshold = app.window.details.labels["threshold"].text()
    assert threshold == "25 days before expiry (this domain's own)"
    with Watchlist(tmp_path / "watchlist.sqlite3") as stored:
        own = {t.host: t.threshold_days for t in stored.targets()}
    assert own == {"a.test": 25, "b.test": None}

    app.editor.remove([("a.test", 443)])
    assert app.flush_writes()
    with qtbot.waitSignal(app.watchlist_reloaded, timeout=5000):
        app.editor.undo()
    back = app.model.row_at(app.model.row_of(("a.test", 443)))
    assert back.target.threshold_days == 25

    app.window.select_keys([("a.test", 443)])
    menu = table.row_menu(table.selected_rows())
    {a.text(): a for a in menu.actions()}["Set &Threshold…"].trigger()
    reset = table.settings_dialog
    assert isinstance(reset, ThresholdDialog)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        reset.use_default.click()
    _finish(app, qtbot)
    assert app.model.row_at(app.model.row_of(("a.test", 443))).target.threshold_days is None


def test_a_groups_threshold_applies_to_every_row_of_the_group(make_app: Any, qtbot: Any) -> None:
    engine = ContextEngine()
    app = make_app(checker_factory=engine)
    app.watch([Target("a.test"), Target("b.test"), Target("c.test")])
    _finish(app, qtbot)
    app.editor.set_group([("a.test", 443), ("b.test", 443)], "Acme")
    table = app.window.table
    app.window.select_keys([("a.test", 443)])
    menu = table.row_menu(table.selected_rows())
    {a.text(): a for a in menu.actions()}["Set Threshold for Group “Acme”…"].trigger()
    dialog = table.settings_dialog
    assert isinstance(dialog, ThresholdDialog)
    dialog.days.setValue(10)
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        dialog.accept()
    _finish(app, qtbot)
    own = {row.target.host: row.target.threshold_days for row in app.model.rows()}
    assert own == {"a.test": 10, "b.test": 10, "c.test": None}


def test_a_typed_registration_expiry_reaches_the_engine_and_the_table(
    make_app: Any, qtbot: Any, tmp_path: Any
) -> None:
    engine = ContextEngine()
    app = make_app(checker_factory=engine)
    app.watch([Target("a.de"), Target("b.de")])
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        app.check_all()
    _finish(app, qtbot)
    key = ("a.de", 443)
    app.window.select_keys([key])
    table = app.window.table
    menu = table.row_menu(table.selected_rows())
    {a.text(): a for a in menu.actions()}["Set Registration &Expiry…"].trigger()
    dialog = table.settings_dialog
    assert isinstance(dialog, RegistrationExpiryDialog)
    dialog.date.setDate(QDate(2027, 6, 30))
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        dialog.accept()
    _finish(app, qtbot)
    assert engine.contexts[-1].manual_expiry == {key: TYPED}
    # The last registration of each checked row went along (core reports changes).
    assert set(engine.contexts[-1].previous) == {key}
    row = app.model.row_at(app.model.row_of(key))
    assert row.texts[COLUMN_REG_EXPIRES].endswith("(entered by hand)")
    app.window.select_keys([key])
    details = app.window.details.labels
    assert details["registration_source"].text().startswith("Entered by hand")
    assert "renewal" in details["registration_source"].text()
    with Watchlist(tmp_path / "watchlist.sqlite3") as stored:
        assert stored.registration_expiries() == {key: TYPED}

    # Remove + undo keeps it; the next check still gets it.
    app.editor.remove([key])
    assert app.flush_writes()
    assert app.store.manual_expiries == {key: TYPED}
    with qtbot.waitSignal(app.watchlist_reloaded, timeout=5000):
        app.editor.undo()
    assert app.flush_writes()
    qtbot.waitUntil(lambda: app.store.manual_expiries == {key: TYPED}, timeout=5000)

    app.editor.set_registration_expiry([key], None)
    _finish(app, qtbot)
    assert engine.contexts[-1].manual_expiry == {}
    with Watchlist(tmp_path / "watchlist.sqlite3") as stored:
        assert stored.registration_expiries() == {}


def test_typed_expiries_reach_the_first_check_and_changes_made_elsewhere_follow(
    make_app: Any, qtbot: Any, tmp_path: Any
) -> None:
    with Watchlist(tmp_path / "watchlist.sqlite3") as stored:
        stored.add([Target("a.de"), Target("b.de")], now=datetime(2026, 3, 1, tzinfo=UTC))
        stored.set_registration_expiry([("a.de", 443)], TYPED)
    engine = ContextEngine()
    poll = FakeTimer()
    app = make_app(checker_factory=engine, poll_timer=poll)
    app.start()
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        app.check_all()  # at once, as the start-up check does
    assert engine.contexts[-1].manual_expiry == {("a.de", 443): TYPED}

    with Watchlist(tmp_path / "watchlist.sqlite3") as stored:  # `domaincheck watch`
        stored.set_registration_expiry([("b.de", 443)], TYPED)
    poll.fire()
    qtbot.waitUntil(lambda: ("b.de", 443) in app.store.manual_expiries, timeout=5000)


def test_the_context_holds_only_the_runs_targets() -> None:
    previous = Registration(registrar="Old Registrar")
    context = CheckContext.for_targets(
        [Target("a.test"), Target("b.test")],
        {("a.test", 443): TYPED, ("c.test", 443): TYPED},
        lambda key: previous if key == ("b.test", 443) else None,
    )
    assert context.manual_expiry == {("a.test", 443): TYPED}
    assert context.previous == {("b.test", 443): previous}


def test_the_real_engine_uses_a_typed_date_and_lists_endpoints(
    make_app: Any, endpoint_world: Any, qtbot: Any
) -> None:
    """The engine process, the loopback world: a date typed for a name whose registry
    answers 404 is used (method manual), and a name behind three addresses lists them."""
    from desktop.details_values import endpoint_lines
    from tests.helpers.endpoint_world import MIXED_HOST
    from tests.helpers.world import UNREGISTERED_HOST

    app = make_app(settings=endpoint_world.settings(timeout_seconds=5.0))
    app.watch([Target(UNREGISTERED_HOST), Target(MIXED_HOST)])
    key = (UNREGISTERED_HOST, 443)
    with qtbot.waitSignal(app.check_finished, timeout=30_000):
        app.editor.set_registration_expiry([key], TYPED)
    app.flush_results()
    row = app.model.row_at(app.model.row_of(key))
    assert row.result is not None and row.result.registration is not None
    assert row.result.registration.method == "manual"
    assert row.result.registration.expires == TYPED
    assert row.texts[COLUMN_REG_EXPIRES].endswith("(entered by hand)")

    with qtbot.waitSignal(app.check_finished, timeout=30_000):
        app.check_all()
    app.flush_results()
    mixed = app.model.row_at(app.model.row_of((MIXED_HOST, 443)))
    lines = endpoint_lines(mixed.result)
    assert [line.split(":")[0] for line in lines] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    app.window.select_keys([(MIXED_HOST, 443)])
    assert app.window.details.endpoints_list.text().splitlines() == lines


def test_a_new_default_threshold_leaves_rows_with_their_own(qtbot: Any) -> None:
    from desktop.results_model import ResultsModel

    model = ResultsModel()
    own, plain = Target("a.test", threshold_days=25), Target("b.test")
    model.set_rows(
        [(own, make_result(own, days=20, threshold_days=25)), (plain, make_result(plain, days=20))]
    )
    model.set_threshold(10)
    thresholds = {row.target.host: row.result.threshold_days for row in model.rows()}
    assert thresholds == {"a.test": 25, "b.test": 10}
    statuses = {row.target.host: row.status.value for row in model.rows()}
    assert statuses == {"a.test": "expiring", "b.test": "valid"}


def test_the_dialogs_lay_out_without_overlaps_or_clipping(qtbot: Any) -> None:
    from tests.helpers.layout import layout_problems

    rows = [WatchRow(Target("customer-portal.eu-west-1.staging.long-agency-name.de"))]
    for dialog in (ThresholdDialog(rows, 30), RegistrationExpiryDialog(rows, date(2026, 3, 1))):
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        assert layout_problems(dialog) == []
