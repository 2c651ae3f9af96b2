"""Measuring a column's texts cheaply, so a column can be as wide as its rows need.

The table sizes Domain and Next expiry to their widest text once per batch of
changed rows. Measuring every text of ten thousand rows would stall the GUI thread
(a few microseconds each), so texts are reduced to their shapes first: every digit
drawn as 0 (UI fonts draw digits at one width, so "certificate in 12 days" and
"certificate in 87 days" take one measurement). Next expiry's texts take a few dozen
shapes; all are measured. Names are all different: of more than ``MEASURED_NAMES``
only the longest, by character count, are measured (about 3 ms), so a name as long
as those but of wider letters can be left out and shown elided by a few pixels
(its tooltip has it whole); a list of a thousand names or fewer is measured exactly.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from PySide6.QtGui import QFontMetrics

#: Every digit drawn as 0 (see the module docstring).
DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
#: At most this many names are measured per batch (the longest, by characters).
MEASURED_NAMES = 1_000


def text_shapes(texts: Iterable[str]) -> set[str]:
    """The distinct texts with every digit drawn as 0."""
    return {text.translate(DIGITS_AS_ZERO) for text in texts}


def widest_text(metrics: QFontMetrics, shapes: Iterable[str], cap: int | None = None) -> int:
    """Pixel width of the widest of ``shapes`` (0 for none); stops early once one is
    ``cap`` pixels wide or more (the column is no wider than that anyway)."""
    widest = 0
    for text in shapes:
        widest = max(widest, metrics.horizontalAdvance(text))
        if cap is not None and widest >= cap:
            break
    return widest


def widest_name(metrics: QFontMetrics, names: Iterable[str], cap: int | None = None) -> int:
    """Pixel width of the widest of ``names``, measuring only the ``MEASURED_NAMES``
    longest (by characters; digits count as zeros), longest first."""
    longest = heapq.nlargest(MEASURED_NAMES, set(names), key=len)
    shapes = dict.fromkeys(text.translate(DIGITS_AS_ZERO) for text in longest)
    return widest_text(metrics, shapes, cap)
