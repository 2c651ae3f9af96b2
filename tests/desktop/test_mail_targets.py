"""New target forms in the window: ``smtp://`` and other protocols, and ``mx:domain``.

``mx:`` lines are looked up (DNS) off the GUI thread, against the endpoint world's
loopback DNS server; what cannot become a target is a rejected line like any other.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from core import mx
from core.models import Target
from desktop import intake, watchlist_editor
from desktop.details_values import details_of
from desktop.results_model import ResultsModel, ResultsProxy
from desktop.rows import COLUMN_DOMAIN, WatchRow, domain_description, domain_text, mail_role
from tests.desktop.fakes import FakeEngine


def test_the_domain_column_shows_protocol_and_host_only() -> None:
    """The column shows the MX host short (whole, not elided); the mail domain it
    serves is in the tooltip and the details."""
    assert domain_text(Target("mx1.example.com", 25, protocol="smtp")) == "smtp://mx1.example.com"
    assert domain_text(Target("mail.example.com", 993, protocol="imaps")) == (
        "imaps://mail.example.com"
    )
    assert domain_text(Target("example.com", 443, protocol="https")) == "example.com"
    mail = Target("mx1.example.com", 25, protocol="smtp", serves="example.com")
    assert domain_text(mail) == "smtp://mx1.example.com"
    assert WatchRow(mail).texts[COLUMN_DOMAIN] == "smtp://mx1.example.com"
    assert mail_role(mail) == "mail server of example.com"
    assert mail_role(Target("example.com", 443)) == ""


def test_the_mail_domain_is_in_the_tooltip_the_details_and_the_filter() -> None:
    # A hosted mail server: its name says nothing of the domain it serves.
    mail = Target("mx1.mailhost.test", 25, protocol="smtp", serves="shop.example")
    described = "smtp://mx1.mailhost.test (mail server of shop.example)"
    assert domain_description(mail) == described
    model = ResultsModel()
    model.set_rows([(mail, None), (Target("other.test", 443), None)])
    tooltip = model.index(0, COLUMN_DOMAIN).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip == described
    assert details_of(model.row_at(0))["domain"] == described
    # An IDN MX host: both notes, one pair of brackets.
    idn = Target("xn--mail-rta.test", 25, "mäil.test", protocol="smtp", serves="bücher.test")
    assert domain_description(idn) == (
        "smtp://mäil.test (mail server of bücher.test; xn--mail-rta.test)"
    )
    # The filter finds MX hosts by the mail domain they serve.
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.set_text("shop.example")
    assert proxy.shown_keys() == [mail.key]


def test_the_mx_source_is_cores() -> None:
    assert intake.MX_SOURCE == mx.MX_SOURCE


def test_typed_protocols_and_mx_lines_become_rows(
    make_app: Any, endpoint_world: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(
        settings=endpoint_world.settings(timeout_seconds=2.0), checker_factory=FakeEngine()
    )
    lookups: list[str] = []
    real_expand = intake.expand_mx

    def recording_expand(*args: Any) -> Any:
        lookups.append(threading.current_thread().name)
        return real_expand(*args)

    monkeypatch.setattr(watchlist_editor, "expand_mx", recording_expand)
    app.window.input.setPlainText(
        "smtp://mx9.example.test\nimaps://mail.example.test\nmx:mail.test\nmx:nomail.test\n"
    )
    app.window.add_button.click()
    qtbot.waitUntil(lambda: not app.reading_files, timeout=10_000)
    assert lookups and threading.main_thread().name not in lookups
    shown = sorted(row.texts[COLUMN_DOMAIN] for row in app.model.rows())
    assert shown == [
        "imaps://mail.example.test",
        "smtp://mx1.mail.test",
        "smtp://mx2.mail.test",
        "smtp://mx9.example.test",
    ]
    # The null MX is a rejected line: it stays in the box, marked, with its reason.
    errors = app.editor.input_errors
    assert [(e.line, e.text, e.error) for e in errors] == [
        (4, "mx:nomail.test", "nomail.test accepts no mail (null MX)")
    ]
    assert app.window.input.toPlainText().strip() == "mx:nomail.test"
    listed = app.window.input_panel.errors_list.item(0).text()
    assert listed.startswith("Line 1: mx:nomail.test")  # renumbered: the rest was added


def test_mx_lines_of_a_dropped_list_are_looked_up_while_reading(
    make_app: Any, endpoint_world: Any, qtbot: Any, tmp_path: Path
) -> None:
    engine = FakeEngine()
    app = make_app(settings=endpoint_world.settings(timeout_seconds=2.0), checker_factory=engine)
    listing = tmp_path / "mail.txt"
    listing.write_text("mx:mail.test\nmx:nomx.test\n", encoding="utf-8")
    app.add_files([listing])
    qtbot.waitUntil(lambda: not app.reading_files and not app.is_checking, timeout=10_000)
    assert sorted(t.label for t in app.model.targets()) == [
        "smtp://mx1.mail.test",
        "smtp://mx2.mail.test",
    ]
    assert all(t.serves == "mail.test" for t in engine.checked)  # checked, labelled
    listed = app.window.input_panel.errors_list.item(0).text()
    assert listed.startswith("Mail servers: mx:nomx.test — nomx.test has no MX record")
