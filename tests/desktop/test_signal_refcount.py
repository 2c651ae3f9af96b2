"""Regression guard for PySide6 6.12.0, which leaks a reference to ``True`` per emit.

On 6.12.0 every Python-side ``Signal.emit()`` decrements the refcount of ``True``;
after a few hundred emits CPython aborts with ``Fatal Python error: bool_dealloc``.
pyproject pins ``PySide6-Essentials>=6.11,<6.12``; this test catches a bump that
brings the bug back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

EMITS = 10_000


class _Emitter(QObject):
    plain = Signal()
    with_args = Signal(int, object)


def test_emitting_does_not_change_the_refcount_of_true(qapp: object) -> None:
    emitter = _Emitter()
    received = []
    emitter.plain.connect(lambda: received.append(1))
    emitter.with_args.connect(lambda number, value: received.append(number))
    before = sys.getrefcount(True)
    for index in range(EMITS):
        emitter.plain.emit()
        emitter.with_args.emit(index, True)
    after = sys.getrefcount(True)
    assert len(received) == 2 * EMITS
    # Other threads may take a reference or two meanwhile; the bug costs thousands.
    assert abs(after - before) < 50, f"refcount of True moved by {after - before}"
