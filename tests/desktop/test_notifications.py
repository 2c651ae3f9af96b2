"""Notifications with manners: none over the window the user is using; grouped; right icon."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QSystemTrayIcon

from core.errors import ErrorKind
from core.models import CertInfo, CheckResult, Registration, Target
from desktop.messages import MessageBridge
from desktop.notifications import Notifier, notification_icon, reminder_for
from tests.desktop.fakes import FakeEngine, make_result

Info = QSystemTrayIcon.MessageIcon.Information
Warning_ = QSystemTrayIcon.MessageIcon.Warning


def days_app(make_app: Any, days: dict[str, int]) -> tuple[Any, list[tuple[str, str, Any]]]:
    app = make_app(
        checker_factory=FakeEngine(lambda t: make_result(t, days=days[t.host])),
        tray_available=True,
    )
    balloons: list[tuple[str, str, Any]] = []
    app.tray.notify = lambda title, body, icon=Info: balloons.append((title, body, icon))
    app.watch([Target(h) for h in days])
    return app, balloons


def finish(app: Any, qtbot: Any, trigger: str) -> None:
    with qtbot.waitSignal(app.check_finished, timeout=5000):
        assert app.check_all(trigger=trigger)
    assert app.flush_writes()  # reminders are recorded on the writer's thread
    QCoreApplication.processEvents()


def test_a_manual_check_tells_the_window_not_a_balloon_over_it(make_app: Any, qtbot: Any) -> None:
    app, balloons = days_app(make_app, {"a.test": 5})
    app.start()
    app.show_window()
    qtbot.waitActive(app.window)
    said: list[str] = []
    app.messages.shown.connect(lambda message: said.append(message.text))
    finish(app, qtbot, "manual")
    assert balloons == []
    assert "a.test is expiring: a.test: certificate expires in 5 days" in said


def test_a_manual_check_with_the_window_hidden_uses_the_tray(make_app: Any, qtbot: Any) -> None:
    app, balloons = days_app(make_app, {"a.test": 5})
    app.start(hidden=True)  # e.g. "Check now" from the tray menu
    finish(app, qtbot, "manual")
    assert [title for title, _, _ in balloons] == ["a.test is expiring"]


def test_a_background_check_notifies_once_grouped_with_the_right_icon(
    make_app: Any, qtbot: Any
) -> None:
    days = {"a.test": 100, "b.test": 100, "c.test": 100, "d.test": 100, "e.test": 100}
    app, balloons = days_app(make_app, days)
    app.start()
    finish(app, qtbot, "scheduled")
    assert balloons == []
    for host in ("a.test", "b.test", "c.test", "d.test"):
        days[host] = 5
    finish(app, qtbot, "scheduled")
    assert len(balloons) == 1
    title, body, icon = balloons[0]
    assert title == "4 domains need attention"
    assert body.splitlines()[-1] == "…and 1 more"  # names three
    assert icon == Info  # expiring, nothing broken yet
    finish(app, qtbot, "scheduled")
    assert len(balloons) == 1  # no news: no second notification

    days["e.test"] = -1
    finish(app, qtbot, "scheduled")
    assert len(balloons) == 2
    assert balloons[1][0] == "e.test is expired"
    assert balloons[1][2] == Warning_


def test_clicking_a_notification_selects_its_rows(make_app: Any, qtbot: Any) -> None:
    days = {"a.test": 100, "b.test": 100, "c.test": 100}
    app, balloons = days_app(make_app, days)
    app.start(hidden=True)
    days["a.test"] = 3
    days["c.test"] = -3
    finish(app, qtbot, "scheduled")
    assert balloons[0][0] == "2 domains need attention"
    assert not app.window.isVisible()
    app.tray.icon.messageClicked.emit()
    assert app.window.isVisible()
    assert sorted(r.target.host for r in app.window.selected_rows()) == ["a.test", "c.test"]


def test_icon_is_a_warning_only_when_something_is_broken() -> None:
    expiring = reminder_for(None, make_result("a.test", days=5))
    expired = reminder_for(None, make_result("b.test", days=-1))
    invalid = reminder_for(None, make_result("c.test", trusted=False))
    assert expiring is not None and expired is not None and invalid is not None
    assert notification_icon([expiring]) == Info
    assert notification_icon([expiring, expired]) == Warning_
    assert notification_icon([invalid]) == Warning_


def test_notifier_without_a_tray_says_it_in_the_window(qtbot: Any) -> None:
    class Recorder:
        def run(self, job: Any) -> None:
            raise AssertionError("nothing to write here")

        def ask(self, job: Any, on_answer: Any) -> None:
            on_answer(None, RuntimeError("no database"))  # tell anyway

    messages = MessageBridge()
    said: list[str] = []
    messages.shown.connect(lambda message: said.append(message.text))
    notifier = Notifier(
        recorder=Recorder(),
        messages=messages,
        clock=lambda: datetime(2026, 3, 1, tzinfo=UTC),
        window_in_use=lambda: False,
        enabled=lambda: True,
    )
    reminder = reminder_for(None, make_result("a.test", days=2))
    assert reminder is not None
    notifier.report([reminder], trigger="scheduled")
    assert said == ["a.test is expiring: a.test: certificate expires in 2 days"]
    assert notifier.last_keys == [("a.test", 443)]


def offline_result(target: Target) -> CheckResult:
    return CheckResult(
        target=target,
        tls=CertInfo(error="could not resolve", error_kind=ErrorKind.DNS_TEMPORARY),
        registration=Registration(error="could not resolve", error_kind=ErrorKind.DNS_TEMPORARY),
        checked_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
    )


def test_offline_is_said_once_not_per_row(make_app: Any, qtbot: Any) -> None:
    app = make_app(checker_factory=FakeEngine(offline_result), tray_available=True)
    balloons: list[object] = []
    app.tray.notify = lambda *args: balloons.append(args)
    app.watch([Target("a.test"), Target("b.test"), Target("c.test")])
    said: list[str] = []
    app.messages.shown.connect(lambda message: said.append(message.text))
    finish(app, qtbot, "scheduled")
    assert said.count("No network connection: 3 checks could not run") == 1
    assert not any(text.startswith("Checked") for text in said)
    assert balloons == []


def _registered(
    registrar: str, statuses: tuple[str, ...] = (), nameservers: tuple[str, ...] = ()
) -> Registration:
    return Registration(
        registrable_domain="a.test",
        expires=datetime(2027, 3, 1, tzinfo=UTC),
        registrar=registrar,
        source="https://rdap.test/domain/a.test",
        method="rdap",
        statuses=statuses,
        nameservers=nameservers,
    )


class RegistryEngine(FakeEngine):
    """Registrations from a table the test edits; what changed since the previous
    registration the run's context holds is worked out by core, as the real engine
    does."""

    takes_context = True

    def __init__(self, registrations: dict[str, Registration]) -> None:
        super().__init__(self._result)
        self.registrations = registrations
        self.previous: dict[Any, Registration] = {}

    def __call__(self, settings: Any, context: Any = None) -> RegistryEngine:
        self.previous = dict(context.previous) if context is not None else {}
        return self

    def _result(self, target: Target) -> CheckResult:
        from core.registration import registration_changes

        registration = self.registrations[target.host]
        previous = self.previous.get(target.key)
        if previous is not None:
            changes = registration_changes(previous, registration)
            registration = dataclasses.replace(registration, changes=changes)
        return dataclasses.replace(make_result(target, days=100), registration=registration)


def test_registration_changes_are_told_once_with_a_warning_for_a_new_registrar(
    make_app: Any, qtbot: Any
) -> None:
    registrations = {
        "a.test": _registered("Gandi SAS", nameservers=("ns1.gandi.net",)),
        "b.test": _registered("Gandi SAS", nameservers=("ns1.gandi.net",)),
    }
    app = make_app(checker_factory=RegistryEngine(registrations), tray_available=True)
    balloons: list[tuple[str, str, Any]] = []
    app.tray.notify = lambda title, body, icon=Info: balloons.append((title, body, icon))
    app.watch([Target("a.test"), Target("b.test")])
    app.start()
    finish(app, qtbot, "scheduled")
    assert balloons == []  # nothing to compare with yet

    registrations["b.test"] = _registered("Gandi SAS", nameservers=("ns1.other.net",))
    finish(app, qtbot, "scheduled")
    assert len(balloons) == 1
    title, body, icon = balloons[0]
    assert title == "b.test: registration changed"
    assert body.startswith("b.test: name servers changed to ns1.other.net")
    assert icon == Info  # name servers: news, not alarm
    finish(app, qtbot, "scheduled")
    assert len(balloons) == 1  # told once

    registrations["a.test"] = _registered("Evil Registrar", nameservers=("ns1.gandi.net",))
    finish(app, qtbot, "scheduled")
    assert balloons[-1][0] == "a.test: registration changed"
    assert "registrar changed from Gandi SAS to Evil Registrar" in balloons[-1][1]
    assert balloons[-1][2] == Warning_


def test_a_hold_status_gets_the_warning_icon() -> None:
    from desktop.notifications import registration_reminder

    before = dataclasses.replace(make_result("a.test"), registration=_registered("Gandi SAS"))
    held = _registered("Gandi SAS", statuses=("clientHold",))
    after = dataclasses.replace(
        make_result("a.test"),
        registration=dataclasses.replace(
            held, changes=("new status clientHold: the domain is off the internet",)
        ),
    )
    reminder = registration_reminder(before, after)
    assert reminder is not None and reminder.warning and reminder.kind == "registration"
    assert notification_icon([reminder]) == Warning_
    assert registration_reminder(before, before) is None  # no changes: nothing to tell
