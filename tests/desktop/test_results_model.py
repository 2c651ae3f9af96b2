"""The results model: Qt's contract, raw-value sorting, filtering, batched updates."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, Qt
from PySide6.QtWidgets import QApplication, QTableView

from core.models import CheckResult, Registration, Status, Target
from desktop.results_model import (
    CHANGED_RUN_ROWS,
    FILTER_ROLE,
    ROW_ROLE,
    SORT_ROLE,
    ResultsModel,
    ResultsProxy,
    filter_pattern,
)
from desktop.rows import (
    COLUMN_CERT_EXPIRES,
    COLUMN_COUNT,
    COLUMN_DOMAIN,
    COLUMN_GROUP,
    COLUMN_ISSUER,
    COLUMN_NEXT_EXPIRY,
    COLUMN_STATUS,
    NOT_CHECKED_LABEL,
    WatchRow,
    display_value,
    row_values,
    short_dn,
    sort_value,
)
from tests.desktop.fakes import START, make_result


def filled_model() -> ResultsModel:
    model = ResultsModel()
    model.set_rows(
        [
            (Target("valid.test"), make_result("valid.test", days=200)),
            (Target("soon.test"), make_result("soon.test", days=9)),
            (Target("gone.test"), make_result("gone.test", days=-3)),
            (Target("new.test"), None),
            (
                Target("xn--bcher-kva.test", display="bücher.test"),
                make_result(Target("xn--bcher-kva.test", display="bücher.test"), days=100),
            ),
            (Target("down.test"), make_result("down.test", error="connection refused")),
        ]
    )
    return model


def test_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = filled_model()
    qtmodeltester.check(model, force_py=True)
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMN_NEXT_EXPIRY, Qt.SortOrder.AscendingOrder)
    qtmodeltester.check(proxy, force_py=True)


def test_model_survives_live_changes_under_the_tester(qtmodeltester: Any) -> None:
    model = ResultsModel()
    qtmodeltester.check(model, force_py=True)  # keeps checking on every signal
    model.add_targets([Target("a.test"), Target("b.test")])
    model.apply_results([make_result("b.test", days=3), make_result("c.test", days=50)])
    model.remove_keys([("a.test", 443)])
    model.set_threshold(2)
    assert [r.target.host for r in model.rows()] == ["b.test", "c.test"]
    assert model.rows()[0].status is Status.VALID  # 3 days left > threshold 2


def test_display_values() -> None:
    model = filled_model()

    def cell(row: int, column: int) -> object:
        return model.index(row, column).data()

    assert cell(0, COLUMN_STATUS) == "Valid"
    assert cell(2, COLUMN_STATUS) == "Expired"
    assert cell(3, COLUMN_STATUS) == NOT_CHECKED_LABEL
    assert cell(4, COLUMN_DOMAIN) == "bücher.test"  # Unicode form
    assert cell(1, COLUMN_NEXT_EXPIRY) == "certificate in 9 days"
    assert cell(3, COLUMN_NEXT_EXPIRY) == ""
    assert model.index(0, COLUMN_STATUS).data(Qt.ItemDataRole.DecorationRole) is not None
    assert isinstance(model.index(1, 0).data(ROW_ROLE), WatchRow)
    # Status is never colour alone: text + icon + colour.
    assert model.index(2, COLUMN_STATUS).data(Qt.ItemDataRole.ForegroundRole) is not None
    tooltip = model.index(2, COLUMN_STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip == model.rows()[2].problem and "expired" in tooltip


def proxy_column(proxy: ResultsProxy, column: int = COLUMN_DOMAIN) -> list[str]:
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def test_sorting_uses_raw_values_not_strings() -> None:
    model = ResultsModel()
    model.set_rows(
        (Target(f"d{days}.test"), make_result(f"d{days}.test", days=days))
        for days in (100, 9, 1000, -3, 20)
    )
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMN_NEXT_EXPIRY, Qt.SortOrder.AscendingOrder)
    # As strings "-3" < "100" < "1,000" < "20" < "9"; as numbers:
    assert proxy_column(proxy) == ["d-3.test", "d9.test", "d20.test", "d100.test", "d1000.test"]
    proxy.sort(COLUMN_CERT_EXPIRES, Qt.SortOrder.DescendingOrder)
    assert proxy_column(proxy)[0] == "d1000.test"
    assert isinstance(model.index(0, COLUMN_CERT_EXPIRES).data(SORT_ROLE), float)


def test_status_sort_puts_the_worst_and_most_urgent_first() -> None:
    proxy = ResultsProxy()
    proxy.setSourceModel(filled_model())
    proxy.sort(COLUMN_STATUS, Qt.SortOrder.DescendingOrder)
    assert proxy_column(proxy) == [
        "gone.test",
        "soon.test",
        "down.test",
        "bücher.test",
        "valid.test",
        "new.test",
    ]


def test_text_and_status_filters() -> None:
    model = filled_model()
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.set_text("BÜCHER")
    assert proxy_column(proxy) == ["bücher.test"]
    proxy.set_text("refused")  # problems are searchable too
    assert proxy_column(proxy) == ["down.test"]
    proxy.set_text("")
    proxy.set_statuses({Status.EXPIRING, Status.EXPIRED})
    assert sorted(proxy_column(proxy)) == ["gone.test", "soon.test"]
    proxy.set_statuses({None})
    assert proxy_column(proxy) == ["new.test"]
    proxy.set_statuses(None)
    assert proxy.rowCount() == 6


def test_filter_text_is_literal_and_combines_with_statuses() -> None:
    model = filled_model()
    model.add_targets([Target("a-b.test"), Target("axb.test")])
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.set_text(".test")  # a dot is a dot, not "any character"
    assert proxy.rowCount() == 8
    proxy.set_text("a.b")
    assert proxy.rowCount() == 0
    proxy.set_text("(b")
    assert proxy.rowCount() == 0  # not a broken pattern that matches everything
    proxy.set_text("[")
    assert proxy.rowCount() == 0
    proxy.set_text("a-b")
    assert proxy_column(proxy) == ["a-b.test"]
    proxy.set_text("test")
    proxy.set_statuses({Status.VALID, None})
    assert sorted(proxy_column(proxy)) == [
        "a-b.test",
        "axb.test",
        "bücher.test",
        "new.test",
        "valid.test",
    ]
    proxy.set_statuses(set())
    assert proxy.rowCount() == 0  # nothing chosen: nothing shown
    assert filter_pattern("", None) == ""


def test_filtered_view_follows_results_as_they_arrive() -> None:
    model = filled_model()
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.set_statuses({Status.EXPIRED})
    assert proxy_column(proxy) == ["gone.test"]
    model.apply_results([make_result("valid.test", days=-1), make_result("gone.test", days=90)])
    assert proxy_column(proxy) == ["valid.test"]
    proxy.set_statuses(None)
    proxy.set_text("refused")
    model.apply_results([make_result("new.test", error="connection refused")])
    assert sorted(proxy_column(proxy)) == ["down.test", "new.test"]


def test_no_filter_asks_the_model_nothing_per_row() -> None:
    """Without a filter the proxy accepts rows in C++: no Python call per row."""
    model = filled_model()
    asked: list[int] = []

    class CountingModel(ResultsModel):
        def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> object:
            if role == FILTER_ROLE:
                asked.append(index.row())
            return super().data(index, role)

    counting = CountingModel()
    counting.set_rows((row.target, row.result) for row in model.rows())
    proxy = ResultsProxy()
    proxy.setSourceModel(counting)
    counting.add_targets([Target(f"more{i}.test") for i in range(50)])
    counting.sort(COLUMN_DOMAIN)
    assert proxy.rowCount() == 56 and asked == []
    proxy.set_text("more1")
    assert proxy.rowCount() == 11 and len(asked) >= 56


def test_batches_become_one_insert_and_short_data_changes(qtbot: Any) -> None:
    model = ResultsModel()
    model.add_targets([Target(f"h{i}.test") for i in range(10)])
    inserted: list[tuple[int, int]] = []
    changed: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    model.dataChanged.connect(lambda tl, br, roles=(): changed.append((tl.row(), br.row())))
    batch = [make_result(f"h{i}.test") for i in (0, 1, 2, 5, 7, 8)]
    batch += [make_result(f"new{i}.test") for i in range(100)]
    model.apply_results(batch)
    assert changed == [(0, 2), (5, 5), (7, 8)]  # one signal per run of adjacent rows
    assert inserted == [(10, 109)]
    assert model.rowCount() == 110
    assert model.row_of(("new99.test", 443)) == 109
    assert model.rowCount(model.index(0, 0)) == 0  # a table: no children
    assert model.rowCount(QModelIndex()) == 110


def test_long_runs_of_changes_are_announced_in_short_pieces() -> None:
    model = ResultsModel()
    model.add_targets([Target(f"h{i:03d}.test") for i in range(100)])
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, roles=(): changed.append((tl.row(), br.row())))
    model.apply_results([make_result(f"h{i:03d}.test") for i in range(10, 50)])
    assert changed == [(10, 25), (26, 41), (42, 49)]
    assert all(last - first < CHANGED_RUN_ROWS for first, last in changed)


def test_results_for_rows_out_of_view_repaint_nothing(qtbot: Any) -> None:
    """Results streaming in below the visible rows must not repaint the table."""
    model = ResultsModel()
    model.add_targets([Target(f"h{i:03d}.test") for i in range(500)])
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.resize(800, 300)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    paints: list[QRect] = []

    class PaintCounter(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                paints.append(event.rect())  # type: ignore[attr-defined]
            return False

    counter = PaintCounter()
    view.viewport().installEventFilter(counter)
    QApplication.processEvents()
    paints.clear()
    model.apply_results([make_result(f"h{i:03d}.test") for i in range(200, 400)])
    QApplication.processEvents()
    assert paints == []  # a table-wide dataChanged would repaint the whole viewport
    model.apply_results([make_result("h001.test")])
    QApplication.processEvents()
    assert len(paints) == 1 and paints[0].height() < view.viewport().height() / 2


def test_counts_and_worst() -> None:
    model = filled_model()
    counts = model.counts()
    assert counts[Status.VALID] == 2 and counts[Status.EXPIRED] == 1
    assert model.unchecked_count() == 1
    assert model.worst_status() is Status.EXPIRED
    assert ResultsModel().worst_status() is None


def test_short_dn() -> None:
    assert short_dn("CN=R11,O=Let's Encrypt,C=US") == "Let's Encrypt"  # the organisation
    assert short_dn("CN=Example CA") == "Example CA"
    assert short_dn("Let's Encrypt R11") == "Let's Encrypt R11"
    assert short_dn(None) == ""


def _recount(model: ResultsModel) -> tuple[dict[Status, int], int]:
    counts = dict.fromkeys(Status, 0)
    for row in model.rows():
        if row.status is not None:
            counts[row.status] += 1
    return counts, sum(1 for row in model.rows() if row.status is None)


def test_counts_are_kept_up_to_date_through_every_change() -> None:
    model = filled_model()
    assert (model.counts(), model.unchecked_count()) == _recount(model)
    model.add_targets([Target("x.test"), Target("y.test")])
    model.apply_results([make_result("x.test", days=-1), make_result("valid.test", days=5)])
    assert (model.counts(), model.unchecked_count()) == _recount(model)
    model.set_threshold(2)
    assert (model.counts(), model.unchecked_count()) == _recount(model)
    model.remove_keys([("gone.test", 443), ("x.test", 443), ("new.test", 443)])
    assert (model.counts(), model.unchecked_count()) == _recount(model)
    assert model.worst_status() is Status.ERROR  # down.test; the expired rows are gone
    model.set_rows([])
    assert model.counts() == dict.fromkeys(Status, 0) and model.worst_status() is None


def test_unchecked_rows_show_and_sort_like_checked_ones_without_a_result() -> None:
    for target in (Target("a.test"), Target("xn--bcher-kva.test", 8443, "bücher.test")):
        row = WatchRow(target)
        assert row.texts == tuple(display_value(row, c) for c in range(COLUMN_COUNT))
        assert row.sort_keys == tuple(sort_value(row, c) for c in range(COLUMN_COUNT))
    assert WatchRow(Target("a.test", 8443)).texts[COLUMN_DOMAIN] == "a.test:8443"


def test_roles_the_model_does_not_answer_and_palette_changes(qtbot: Any) -> None:
    model = filled_model()
    index = model.index(2, COLUMN_STATUS)
    assert index.data(Qt.ItemDataRole.FontRole) is None
    assert index.data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(0, COLUMN_CERT_EXPIRES).data(Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    assert model.index(0, COLUMN_NEXT_EXPIRY).data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(2, COLUMN_NEXT_EXPIRY).data(Qt.ItemDataRole.ForegroundRole) is not None
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.palette_changed()
    assert changed.args[2] == [Qt.ItemDataRole.ForegroundRole]


def test_streaming_results_re_sort_at_most_once_per_interval(qtbot: Any) -> None:
    """A batch that only fills in rows must not re-lay out the table every time."""
    model = ResultsModel(resort_interval_ms=200)
    model.add_targets([Target("a.test"), Target("b.test"), Target("c.test")])
    model.sort(COLUMN_NEXT_EXPIRY, Qt.SortOrder.AscendingOrder)
    layouts: list[int] = []
    model.layoutChanged.connect(lambda *_: layouts.append(1))

    def order() -> list[str]:
        return [model.index(r, COLUMN_DOMAIN).data() for r in range(model.rowCount())]

    model.apply_results([make_result("c.test", days=5)])  # first batch: sorted at once
    assert order()[0] == "c.test" and len(layouts) == 1
    model.apply_results([make_result("b.test", days=1)])  # within the interval: waits
    model.apply_results([make_result("a.test", days=3)])
    assert order()[0] == "c.test" and len(layouts) == 1
    assert model.index(order().index("b.test"), COLUMN_NEXT_EXPIRY).data() == "certificate in 1 day"
    qtbot.waitUntil(lambda: order() == ["b.test", "a.test", "c.test"], timeout=2000)
    assert len(layouts) == 2  # both late batches cost one re-sort together


def test_row_values_made_elsewhere_are_what_the_row_would_compute() -> None:
    results = [
        make_result("a.test", days=3),
        make_result(Target("xn--bcher-kva.test", 8443, "bücher.test"), days=-2),
        make_result("down.test", error="connection refused"),
    ]
    for result in results:
        assert row_values(result) == WatchRow(result.target, result).values
    model = ResultsModel()
    model.add_targets([Target("a.test")])
    # The model stores what it is given (the engine process made it), no re-computation.
    values = row_values(results[0])._replace(texts=("Made elsewhere",) + ("",) * 7)
    model.apply_results([results[0]], [values])
    assert model.index(0, COLUMN_STATUS).data() == "Made elsewhere"
    assert model.counts()[Status.EXPIRING] == 1


# -- next expiry, groups, empty values, counts --------------------------------------


def with_registration(result: CheckResult, days: float, registrar: str = "Reg") -> CheckResult:
    expires = result.checked_at + timedelta(days=days)
    registration = Registration(registrable_domain="x.test", expires=expires, registrar=registrar)
    return dataclasses.replace(result, registration=registration)


def test_next_expiry_names_what_expires_first() -> None:
    cert_first = make_result("a.test", days=12)
    reg_first = with_registration(make_result("b.test", days=200), days=5.5)
    failed = with_registration(make_result("c.test", error="connection refused"), days=40)
    past = dataclasses.replace(
        make_result("d.test", days=90),
        tls=dataclasses.replace(
            make_result("d.test").tls,  # type: ignore[type-var]
            not_after=START - timedelta(days=3, hours=1),
        ),
    )
    soon = dataclasses.replace(
        make_result("e.test"),
        tls=dataclasses.replace(
            make_result("e.test").tls,  # type: ignore[type-var]
            not_after=START + timedelta(hours=10),
        ),
    )
    texts = [WatchRow(r.target, r).texts[COLUMN_NEXT_EXPIRY] for r in (cert_first, reg_first)]
    assert texts == ["certificate in 12 days", "registration in 5 days"]
    assert WatchRow(failed.target, failed).texts[COLUMN_NEXT_EXPIRY] == ""  # error: no days
    assert WatchRow(past.target, past).texts[COLUMN_NEXT_EXPIRY] == (
        "certificate expired 3 days ago"  # 3 days and an hour, as people count
    )
    assert WatchRow(soon.target, soon).texts[COLUMN_NEXT_EXPIRY] == "certificate in 10 hours"
    model = ResultsModel()
    model.set_rows([(r.target, r) for r in (cert_first, reg_first)])
    tip = model.index(1, COLUMN_NEXT_EXPIRY).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("The registration expires ")
    # Coloured by the named component's own dates: 5 days is within the threshold.
    assert model.index(1, COLUMN_NEXT_EXPIRY).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(0, COLUMN_NEXT_EXPIRY).data(Qt.ItemDataRole.ForegroundRole) is not None
    model.set_rows([(cert_first.target, make_result("a.test", days=300))])
    assert model.index(0, COLUMN_NEXT_EXPIRY).data(Qt.ItemDataRole.ForegroundRole) is None


def test_empty_values_sort_last_in_both_directions() -> None:
    model = ResultsModel()
    model.set_rows(
        [
            (Target("none.test"), None),
            (Target("far.test", group="Beta"), make_result("far.test", days=300)),
            (Target("down.test"), make_result("down.test", error="timed out")),
            (Target("near.test", group="acme"), make_result("near.test", days=3)),
        ]
    )
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    for column in (COLUMN_NEXT_EXPIRY, COLUMN_CERT_EXPIRES, COLUMN_ISSUER):
        proxy.sort(column, Qt.SortOrder.AscendingOrder)
        assert proxy_column(proxy)[:2] in (["near.test", "far.test"], ["far.test", "near.test"])
        assert sorted(proxy_column(proxy)[2:]) == ["down.test", "none.test"]
        proxy.sort(column, Qt.SortOrder.DescendingOrder)
        assert sorted(proxy_column(proxy)[2:]) == ["down.test", "none.test"], column
    proxy.sort(COLUMN_NEXT_EXPIRY, Qt.SortOrder.DescendingOrder)
    assert proxy_column(proxy)[:2] == ["far.test", "near.test"]
    proxy.sort(COLUMN_GROUP, Qt.SortOrder.AscendingOrder)
    assert proxy_column(proxy)[:2] == ["near.test", "far.test"]  # acme < Beta, any case
    proxy.sort(COLUMN_GROUP, Qt.SortOrder.DescendingOrder)
    assert proxy_column(proxy)[:2] == ["far.test", "near.test"]
    assert sorted(proxy_column(proxy)[2:]) == ["down.test", "none.test"]


def test_groups_show_filter_and_change(qtmodeltester: Any) -> None:
    model = ResultsModel()
    model.set_rows(
        [
            (Target("a.test", group="Acme"), make_result("a.test", days=5)),
            (Target("b.test", group="Beta Ltd"), None),
            (Target("c.test"), make_result("c.test", days=200)),
        ]
    )
    qtmodeltester.check(model, force_py=True)
    assert model.groups() == ["Acme", "Beta Ltd"]
    assert [model.index(r, COLUMN_GROUP).data() for r in range(3)] == ["Acme", "Beta Ltd", ""]
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.set_group("Acme")
    assert proxy_column(proxy) == ["a.test"]
    proxy.set_group("")
    assert proxy_column(proxy) == ["c.test"]
    proxy.set_group("Beta")  # a group name is matched whole, not as a prefix
    assert proxy_column(proxy) == []
    proxy.set_group("Beta Ltd")
    proxy.set_statuses({None})
    assert proxy_column(proxy) == ["b.test"]
    proxy.set_statuses(None)
    proxy.set_group(None)
    proxy.set_text("beta l")  # the filter box searches groups too
    assert proxy_column(proxy) == ["b.test"]
    proxy.set_text("")

    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, roles=(): changed.append((tl.row(), br.row())))
    model.set_group([("c.test", 443), ("a.test", 443)], "Acme")
    assert changed == [(0, 0), (2, 2)]
    proxy.set_group("Acme")
    assert sorted(proxy_column(proxy)) == ["a.test", "c.test"]
    # A result made before the change (its target still in no group) keeps the group.
    model.apply_results([make_result("c.test", days=100)])
    assert model.rows()[2].group == "Acme"
    values = row_values(make_result("c.test", days=100))
    model.apply_results([make_result("c.test", days=100)], [values])
    assert model.index(2, COLUMN_GROUP).data() == "Acme"
    assert sorted(proxy_column(proxy)) == ["a.test", "c.test"]
    model.set_group([("a.test", 443)], "")
    assert model.groups() == ["Acme", "Beta Ltd"]  # c.test is still in Acme


def test_shown_keys_are_the_filtered_rows_in_view_order() -> None:
    model = filled_model()
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMN_DOMAIN, Qt.SortOrder.DescendingOrder)
    proxy.set_statuses({Status.VALID, Status.EXPIRED})
    assert proxy.shown_keys() == [
        ("valid.test", 443),
        ("gone.test", 443),
        ("xn--bcher-kva.test", 443),  # bücher.test: sorted by the Unicode form
    ]
    assert proxy.is_filtered()
    proxy.set_statuses(None)
    assert not proxy.is_filtered() and len(proxy.shown_keys()) == 6


def test_counts_changed_once_per_batch_and_status_counts() -> None:
    model = filled_model()
    emitted: list[int] = []
    model.counts_changed.connect(lambda: emitted.append(1))
    model.apply_results([make_result(f"n{i}.test", days=5) for i in range(40)])
    assert emitted == [1]
    assert model.status_count(Status.EXPIRING) == 41
    assert model.status_count(None) == 1
    model.add_targets([Target("new2.test")])
    model.remove_keys([("new2.test", 443)])
    model.set_threshold(3)
    assert len(emitted) == 4
    assert model.status_count(Status.EXPIRING) == 0  # 5 days > 3


def test_group_filtered_proxy_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = ResultsModel()
    model.set_rows(
        [
            (Target("a.test", group="Acme"), make_result("a.test", days=5)),
            (Target("b.test"), make_result("b.test", days=50)),
        ]
    )
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.set_group("Acme")
    qtmodeltester.check(proxy, force_py=True)  # keeps checking on every signal
    model.set_group([("b.test", 443)], "Acme")
    model.apply_results([make_result("c.test", days=1)])
    assert proxy.rowCount() == 2
