"""Each core test gets a WHOIS gate of its own.

:data:`core.whois_gate.PROCESS_GATE` is shared by every client of the process on
purpose (pace and backoff per server); between tests that sharing would carry one
test's backoff into the next.
"""

from __future__ import annotations

import pytest

from core import whois
from core.whois_gate import WhoisGate


@pytest.fixture(autouse=True)
def _fresh_whois_gate(monkeypatch: pytest.MonkeyPatch) -> WhoisGate:
    gate = WhoisGate()
    monkeypatch.setattr(whois, "PROCESS_GATE", gate)
    return gate
