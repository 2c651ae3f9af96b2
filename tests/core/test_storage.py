"""The watchlist database: round trips, order, notification log, and crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import storage
from core.models import CertInfo, CheckResult, Registration, Status, Target
from core.storage import Watchlist

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def make_result(host: str, *, days: int = 90, port: int = 443, fp: str = "ab" * 32) -> CheckResult:
    return CheckResult(
        target=Target(host, port),
        tls=CertInfo(
            not_after=NOW + timedelta(days=days, hours=1),
            not_before=NOW - timedelta(days=10),
            subject=f"CN={host}",
            issuer="CN=Test CA",
            sans=(host, f"www.{host}"),
            fingerprint_sha256=fp,
            trusted=True,
            hostname_match=True,
        ),
        registration=Registration(
            registrable_domain=host,
            expires=NOW + timedelta(days=400),
            registrar="Example Registrar",
            source=f"http://rdap.test/domain/{host}",
        ),
        checked_at=NOW,
        threshold_days=30,
    )


def test_default_path_is_in_the_user_data_dir(tmp_path: Path) -> None:
    assert storage.default_path().parent == Path(os.environ["XDG_DATA_HOME"]) / "domaincheck"


def test_targets_keep_order_and_deduplicate(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        added = watchlist.add([Target("b.test"), Target("a.test"), Target("b.test")])
        assert [t.host for t in added] == ["b.test", "a.test"]
        assert watchlist.add([Target("a.test"), Target("c.test", 8443)]) == [Target("c.test", 8443)]
        assert [str(t) for t in watchlist.targets()] == ["b.test", "a.test", "c.test:8443"]
        assert len(watchlist) == 3


def test_results_round_trip_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    idn = Target("xn--bcher-kva.test", display="bücher.test")
    expiring = make_result("soon.test", days=5)
    with Watchlist(path) as watchlist:
        watchlist.add([idn, Target("soon.test"), Target("never.test")], now=NOW)
        watchlist.save_results([make_result("xn--bcher-kva.test"), expiring])
    with Watchlist(path) as watchlist:
        entries = watchlist.entries()
    assert [e.target.display for e in entries] == ["bücher.test", "soon.test", "never.test"]
    assert entries[0].result is not None
    assert entries[0].result.target.display == "bücher.test"
    loaded = entries[1].result
    assert loaded is not None
    assert loaded.checked_at == NOW  # exact, microseconds included
    assert loaded.status is Status.EXPIRING
    assert loaded.days_left == expiring.days_left == 5
    assert loaded.tls is not None and loaded.tls.sans == ("soon.test", "www.soon.test")
    assert loaded.registration is not None and loaded.registration.registrar == (
        "Example Registrar"
    )
    assert entries[2].result is None
    assert entries[2].added_at == NOW


def test_save_results_replaces_the_last_result(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("a.test")])
        watchlist.save_results([make_result("a.test", days=90)])
        watchlist.save_results([make_result("a.test", days=-2)])
        result = watchlist.last_result(("a.test", 443))
        assert result is not None and result.status is Status.EXPIRED
        assert [t.host for t in watchlist.targets()] == ["a.test"]
        assert watchlist.last_result(("nope.test", 443)) is None


def test_save_results_never_adds_a_target_that_is_not_watched(tmp_path: Path) -> None:
    """A check that was running when its target was removed stores nothing for it."""
    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("kept.test"), Target("gone.test")], now=NOW)
        revision = watchlist.revision()
        assert watchlist.remove([("gone.test", 443)]) == 1
        watchlist.save_results(
            [make_result("kept.test"), make_result("gone.test"), make_result("never.test")]
        )
        assert [t.host for t in watchlist.targets()] == ["kept.test"]
        assert watchlist.last_result(("kept.test", 443)) is not None
        assert watchlist.last_result(("gone.test", 443)) is None
        (stored,) = watchlist._db.execute("SELECT COUNT(*) FROM results").fetchone()
        assert stored == 1
        assert watchlist.revision() == revision + 1  # the removal; saving is no change


def test_save_results_takes_documents_made_elsewhere(tmp_path: Path) -> None:
    """The desktop's engine process encodes the documents; the result is the same."""
    results = [make_result("a.test", days=5), make_result("b.test", days=50)]
    documents = [storage.result_document(r) for r in results]
    with Watchlist(tmp_path / "made.db") as made, Watchlist(tmp_path / "here.db") as here:
        for store in (made, here):
            store.add([r.target for r in results])
        made.save_results(results, documents)
        here.save_results(results, [None, None])
        for key in (("a.test", 443), ("b.test", 443)):
            assert made.last_result(key) == here.last_result(key) is not None
        with pytest.raises(ValueError, match="one document per result"):
            made.save_results(results, documents[:1])


def test_remove_drops_results_too(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("a.test"), Target("b.test")])
        watchlist.save_results([make_result("a.test"), make_result("b.test")])
        assert watchlist.remove([("a.test", 443), ("zzz.test", 443)]) == 1
        assert [e.target.host for e in watchlist.entries()] == ["b.test"]
        (orphans,) = watchlist._db.execute(
            "SELECT COUNT(*) FROM results r LEFT JOIN targets t ON t.id = r.target_id"
            " WHERE t.id IS NULL"
        ).fetchone()
        assert orphans == 0


def test_notification_log_is_per_status_fingerprint_and_day(tmp_path: Path) -> None:
    key = ("a.test", 443)
    with Watchlist(tmp_path / "w.db") as watchlist:
        assert not watchlist.was_notified(key, Status.EXPIRING, "fp1", NOW.date())
        watchlist.record_notification(key, Status.EXPIRING, "fp1", NOW)
        watchlist.record_notification(key, Status.EXPIRING, "fp1", NOW)  # idempotent
        assert watchlist.was_notified(key, Status.EXPIRING, "fp1", NOW.date())
        assert not watchlist.was_notified(key, Status.EXPIRED, "fp1", NOW.date())
        assert not watchlist.was_notified(key, Status.EXPIRING, "fp2", NOW.date())
        tomorrow = (NOW + timedelta(days=1)).date()
        assert not watchlist.was_notified(key, Status.EXPIRING, "fp1", tomorrow)
        watchlist.record_notification(key, Status.ERROR, None, NOW)
        assert watchlist.was_notified(key, Status.ERROR, None, NOW.date())


def test_meta_values(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        assert watchlist.get_time("last_check_at") is None
        watchlist.set_time("last_check_at", NOW)
        assert watchlist.get_time("last_check_at") == NOW
        watchlist.set_meta("draft", "a.test\nb.test")
        assert watchlist.get_meta("draft") == "a.test\nb.test"
        watchlist.set_meta("draft", None)
        assert watchlist.get_meta("draft", "gone") == "gone"


def test_uses_wal_journal(tmp_path: Path) -> None:
    with Watchlist(tmp_path / "w.db") as watchlist:
        (mode,) = watchlist._db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    def results() -> Iterator[CheckResult]:
        yield make_result("a.test")
        raise Boom

    with Watchlist(tmp_path / "w.db") as watchlist:
        watchlist.add([Target("a.test")])
        with pytest.raises(Boom):
            watchlist.save_results(results())
        assert watchlist.last_result(("a.test", 443)) is None


def test_unopenable_database_is_a_storage_error(tmp_path: Path) -> None:
    bad = tmp_path / "w.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(storage.StorageError, match="cannot open the watchlist"):
        Watchlist(bad)


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from core.models import CertInfo, CheckResult, Registration, Target
    from core.storage import Watchlist

    watchlist = Watchlist(__import__("pathlib").Path(sys.argv[1]))
    watchlist.add([Target(f"host{i}.test") for i in range(200)])
    batch = 0
    print("ready", flush=True)
    while True:
        batch += 1
        results = [
            CheckResult(Target(f"host{i}.test"), CertInfo(error=f"batch {batch}"),
                        Registration(error="x"), datetime.now(UTC))
            for i in range(200)
        ]
        watchlist.save_results(results)
    """
)


@pytest.mark.slow
def test_kill_during_writes_leaves_a_consistent_database(tmp_path: Path) -> None:
    """SIGKILL in the middle of a stream of 200-row transactions: all or nothing."""
    path = tmp_path / "w.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.7)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with Watchlist(path) as watchlist:
        entries = watchlist.entries()
    assert len(entries) == 200
    problems = {e.result.tls.error for e in entries if e.result and e.result.tls}
    assert len(problems) == 1  # every row from the same (last committed) batch


def test_record_new_notifications_in_one_batch(tmp_path: Path) -> None:
    items = [(("a.test", 443), Status.EXPIRING, "fp"), (("b.test", 443), Status.EXPIRED, None)]
    with Watchlist(tmp_path / "w.db") as watchlist:
        assert watchlist.record_new_notifications(items, NOW) == items
        assert watchlist.record_new_notifications(items, NOW) == []
        assert watchlist.was_notified(("b.test", 443), Status.EXPIRED, None, NOW.date())
        tomorrow = NOW + timedelta(days=1)
        assert watchlist.record_new_notifications(items[:1], tomorrow) == items[:1]


def test_a_mail_server_keeps_the_domain_it_serves_before_and_after_removal(
    tmp_path: Path,
) -> None:
    mail = Target("mx1.example.net", 25, protocol="smtp", serves="example.com")
    path = tmp_path / "watch.sqlite3"
    with Watchlist(path) as watchlist:
        watchlist.add([mail])
    with Watchlist(path) as watchlist:  # reopened: nothing checked yet, still known
        (stored,) = watchlist.targets()
        assert (stored.key, stored.protocol, stored.serves) == (
            ("smtp://mx1.example.net", 25),
            "smtp",
            "example.com",
        )
        assert watchlist.entries()[0].target.serves == "example.com"
        taken = watchlist.take([mail.key])
        assert watchlist.restore(taken) == 1
        assert watchlist.targets()[0].serves == "example.com"
