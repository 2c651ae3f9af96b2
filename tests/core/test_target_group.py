"""``Target.group``: carried along, but never part of a target's identity."""

from __future__ import annotations

import dataclasses
import pickle

from core.models import Target


def test_group_is_not_part_of_equality_hash_or_key() -> None:
    grouped = Target("a.test", 8443, group="Acme")
    plain = Target("a.test", 8443)
    assert grouped == plain
    assert hash(grouped) == hash(plain)
    assert grouped.key == plain.key == ("a.test", 8443)
    assert {grouped: 1}[plain] == 1
    assert Target("a.test").group == ""


def test_group_survives_pickling_and_replace() -> None:
    target = Target("xn--bcher-kva.test", 443, "bücher.test", False, "Beta, Inc")
    loaded = pickle.loads(pickle.dumps(target))
    assert (loaded.host, loaded.display, loaded.group) == (
        "xn--bcher-kva.test",
        "bücher.test",
        "Beta, Inc",
    )
    assert target.__reduce__() == (
        Target,
        ("xn--bcher-kva.test", 443, "bücher.test", False, "Beta, Inc", None, "tls", ""),
    )
    assert dataclasses.replace(target, port=8443).group == "Beta, Inc"
