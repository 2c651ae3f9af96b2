"""Measuring column texts: digits as zeros, only the longest names, a cap."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from desktop.column_fit import MEASURED_NAMES, text_shapes, widest_name, widest_text


def _metrics(qapp: Any) -> QFontMetrics:
    return QFontMetrics(QApplication.font())


def test_texts_differing_in_digits_are_one_shape() -> None:
    shapes = text_shapes(["certificate in 12 days", "certificate in 87 days", "registration"])
    assert shapes == {"certificate in 00 days", "registration"}


def test_widest_name_is_the_widest_of_the_longest(qapp: Any) -> None:
    metrics = _metrics(qapp)
    names = [f"host{n}.example.test" for n in range(5_000)]
    names.append("smtp://checkout.eu-west.acme-shop.test")
    expected = max(
        metrics.horizontalAdvance(n.translate(str.maketrans("123456789", "0" * 9))) for n in names
    )
    assert widest_name(metrics, names) == expected
    assert widest_name(metrics, []) == 0
    # Names that differ only in their digits are measured once.
    counting = _CountingMetrics(QApplication.font())
    assert widest_name(counting, names) == expected
    assert counting.measured <= 2
    # Up to MEASURED_NAMES different names: each is measured, the widest found.
    lettered = [f"{_letters(n)}.example.test" for n in range(MEASURED_NAMES)]
    counting = _CountingMetrics(QApplication.font())
    assert widest_name(counting, lettered) == max(map(metrics.horizontalAdvance, lettered))
    assert counting.measured == MEASURED_NAMES
    # Of more, only the longest are measured (the shortest ones are left out).
    many = [*lettered, *(f"{_letters(n)}.test" for n in range(2 * MEASURED_NAMES))]
    counting = _CountingMetrics(QApplication.font())
    widest = widest_name(counting, many)
    assert counting.measured == MEASURED_NAMES
    assert widest == max(map(metrics.horizontalAdvance, lettered))


def _letters(number: int) -> str:
    """``number`` written in the letters a-z (so names differ in more than digits)."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = "abcdefghijklmnopqrstuvwxyz"[digit] + text
        if number == 0:
            return text


class _CountingMetrics(QFontMetrics):
    measured = 0

    def horizontalAdvance(self, *args: Any) -> int:  # type: ignore[override]
        self.measured += 1
        return super().horizontalAdvance(*args)


def test_a_cap_stops_measuring_early(qapp: Any) -> None:
    metrics = _metrics(qapp)
    short, long = "a.io", "a-very-long-name.example.test"
    cap = metrics.horizontalAdvance(short)
    # Once one text reaches the cap, the rest are not measured.
    assert widest_text(metrics, [short, long], cap=cap) == cap
    assert widest_text(metrics, [short, long]) == metrics.horizontalAdvance(long)
