"""The filter bar: live counts per status, errors under "Needs attention", groups."""

from __future__ import annotations

from typing import Any

from core.models import Status
from desktop.filters import ALL_GROUPS_LABEL, NO_GROUP_LABEL
from tests.desktop.fakes import make_result
from tests.desktop.window_fixtures import make_window


def _items(combo: Any) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def _shown(window: Any) -> list[str]:
    return sorted(
        row.target.display
        for r in range(window.proxy.rowCount())
        if (row := window.proxy.row_at(r)) is not None
    )


def test_status_filter_shows_live_counts(qtbot: Any) -> None:
    window = make_window(qtbot)
    items = _items(window.status_filter)
    assert items == [
        "All statuses (30)",
        "Needs attention (11)",
        "Valid (14)",
        "Expiring (4)",
        "Expired (1)",
        "Invalid (3)",
        "Could not check (3)",
        "Not checked yet (5)",
    ]
    # Results streaming in update the counts.
    window.model.apply_results([make_result("status.example", days=3)])
    assert window.status_filter.itemText(3) == "Expiring (5)"
    assert window.status_filter.itemText(7) == "Not checked yet (4)"
    window.model.remove_keys([("status.example", 443)])
    assert window.status_filter.itemText(0) == "All statuses (29)"


def test_needs_attention_includes_errors(qtbot: Any) -> None:
    window = make_window(qtbot)
    assert window.filter_bar.choose_status("Needs attention")
    statuses = {
        row.status
        for r in range(window.proxy.rowCount())
        if (row := window.proxy.row_at(r)) is not None
    }
    assert statuses == {Status.EXPIRING, Status.EXPIRED, Status.INVALID, Status.ERROR}
    assert not window.filter_bar.choose_status("Nonsense")


def test_group_filter(qtbot: Any) -> None:
    window = make_window(qtbot)
    combo = window.group_filter
    assert combo.isVisibleTo(window)
    assert _items(combo) == [
        ALL_GROUPS_LABEL,
        NO_GROUP_LABEL,
        "Acme Corp",
        "Bistro Lumière",
        "Personal",
    ]
    combo.setCurrentText("Personal")
    assert _shown(window) == [
        "192.0.2.10",
        "blog.example",
        "nas.home.example",
        "photos.example",
    ]
    window.filter_bar.choose_status("Could not check")  # filters combine
    assert _shown(window) == ["nas.home.example"]
    window.filter_bar.choose_status("All statuses")
    combo.setCurrentText(NO_GROUP_LABEL)
    assert len(_shown(window)) == 14 and "acme.example" not in _shown(window)
    # The chosen group disappears: every group is shown again.
    combo.setCurrentText("Personal")
    window.set_groups(["Acme Corp"])
    assert combo.currentText() == ALL_GROUPS_LABEL and window.proxy.rowCount() == 30
    assert window.table.groups == ["Acme Corp"]
    window.set_groups([])
    assert not combo.isVisibleTo(window)


def test_clearing_filters_shows_every_row(qtbot: Any) -> None:
    window = make_window(qtbot)
    window.filter_edit.setText("acme")
    window.filter_bar.choose_status("Valid")
    window.filter_bar.choose_group("Acme Corp")
    assert window.proxy.rowCount() == 1
    window.filter_bar.clear()
    assert window.proxy.rowCount() == 30
    assert not window.filter_bar.choose_group("No such group")
