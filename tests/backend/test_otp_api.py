"""``POST /api/otp/generate`` and code verification, on SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend import otp as otp_module
from backend.models import OtpCode
from tests.backend.conftest import TEST_SECRET, FakeClock, FakeMailer

EMAIL = "jane@example.com"


def generate(client, email=EMAIL, operation="register", **extra):
    return client.post("/api/otp/generate", json={"email": email, "operation": operation, **extra})


def register(client, code, email=EMAIL, domains=("example.com",)):
    return client.post(
        "/api/notifications/register",
        json={"email": email, "domains": list(domains), "otp": code},
    )


def stored_codes(database_url: str) -> list[OtpCode]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            return list(session.scalars(select(OtpCode).order_by(OtpCode.id)))
    finally:
        engine.dispose()


def test_generate_sends_a_six_digit_code(client, mailer: FakeMailer, database_url):
    response = generate(client, email="  Jane@EXAMPLE.com ")
    assert response.status_code == 200
    assert response.json() == {"status": "sent", "expires_in": 600, "resend_after": 60}
    assert len(mailer.sent) == 1
    message = mailer.sent[0]
    assert message["To"] == EMAIL
    code = mailer.codes_for(EMAIL)[0]
    assert len(code) == 6 and code.isdigit()
    # Stored only as an HMAC, never in the clear.
    rows = stored_codes(database_url)
    assert len(rows) == 1
    assert code not in rows[0].code_hash and len(rows[0].code_hash) == 64
    assert rows[0].ip_hash is not None and "testclient" not in rows[0].ip_hash


def test_second_request_within_a_minute_is_already_sent(client, mailer, clock: FakeClock):
    assert generate(client).json()["status"] == "sent"
    clock.advance(seconds=20)
    response = generate(client, force_new=True)
    assert response.json() == {"status": "already_sent", "expires_in": 600, "resend_after": 40}
    clock.advance(seconds=45)
    # Past the minute, a live code is still "already sent" unless force_new.
    assert generate(client).json()["status"] == "already_sent"
    assert generate(client, force_new=True).json()["status"] == "sent"
    assert len(mailer.sent) == 2


def test_same_answer_for_unknown_addresses(client, mailer):
    known = generate(client, operation="manage").json()
    unknown = generate(client, email="nobody@example.org", operation="manage").json()
    assert known == unknown


def test_five_codes_per_hour_then_429(client, mailer, clock):
    for _ in range(5):
        assert generate(client, force_new=True).json()["status"] == "sent"
        clock.advance(seconds=61)
    response = generate(client, force_new=True)
    assert response.status_code == 429
    assert response.json()["status"] == "error"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    clock.advance(seconds=retry_after)
    assert generate(client, force_new=True).json()["status"] == "sent"


def test_per_ip_limit_is_configurable(make_client, database_url, clock):
    client = make_client(database_url, rate_limit_ip_otp_per_hour=2)
    assert generate(client, email="a@example.com").status_code == 200
    assert generate(client, email="b@example.com").status_code == 200
    response = generate(client, email="c@example.com")
    assert response.status_code == 429
    assert "Retry-After" in response.headers


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plainaddress",
        "a@b",
        "two@@example.com",
        "a b@example.com",
        "x@example.com\r\nBcc: y@z.com",
        "a@-bad-.com",
        "a@127.0.0.1",
        "ü@example.com",
        "a" * 65 + "@example.com",
    ],
)
def test_invalid_email_is_422(client, mailer, email):
    response = generate(client, email=email)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error" and body["message"]
    assert mailer.sent == []


def test_wrong_types_are_422(client):
    for body in ({"email": EMAIL}, {"email": EMAIL, "operation": "delete"}, [], "x", {"email": 5}):
        response = client.post("/api/otp/generate", json=body)
        assert response.status_code == 422, body


def test_mail_failure_is_503_and_the_code_is_forgotten(client, mailer, database_url):
    mailer.fail_next = 1
    response = generate(client)
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert "email" in response.json()["message"]
    assert stored_codes(database_url) == []
    assert generate(client).json()["status"] == "sent"  # retry works at once


def test_code_is_single_use(client, mailer):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    assert register(client, code).status_code == 200
    again = register(client, code)
    assert again.status_code == 403
    assert again.json() == {
        "status": "error",
        "message": "the code is wrong, used or expired; request a new one",
        "require_otp": True,
    }


def test_code_expires_after_ten_minutes(client, mailer, clock):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    clock.advance(seconds=601)
    assert register(client, code).status_code == 403


def test_new_code_replaces_the_old_one(client, mailer, clock):
    generate(client)
    clock.advance(seconds=61)
    generate(client, force_new=True)
    old, new = mailer.codes_for(EMAIL)
    if old != new:
        assert register(client, old).status_code == 403
    assert register(client, new).status_code == 200


def test_five_wrong_attempts_kill_the_code(client, mailer):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert register(client, wrong).status_code == 403
    assert register(client, code).status_code == 403


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "１２３４５６", " " * 6])
def test_malformed_codes_are_refused(client, mailer, bad):
    generate(client)
    assert register(client, bad).status_code == 403


def test_fifty_parallel_wrong_guesses_evaluate_at_most_five(
    client, mailer, database_url, monkeypatch
):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    evaluated = []
    real = otp_module.otp_matches

    def counting(*args):
        evaluated.append(1)
        return real(*args)

    monkeypatch.setattr(otp_module, "otp_matches", counting)
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda _: register(client, wrong).status_code, range(50)))
    assert statuses == [403] * 50
    assert len(evaluated) <= 5
    assert [row.attempts for row in stored_codes(database_url)] == [5]
    assert register(client, code).status_code == 403
    assert len(evaluated) <= 5


def test_parallel_right_codes_succeed_once(client, mailer):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: register(client, code).status_code, range(10)))
    assert sorted(statuses) == [200] + [403] * 9


def test_codes_are_bound_to_their_address(client, mailer):
    generate(client)
    generate(client, email="mallory@example.com")
    mallory_code = mailer.codes_for("mallory@example.com")[0]
    assert register(client, mallory_code).status_code == 403


def test_secret_is_used(client, mailer, database_url):
    from backend.security import hash_otp

    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    assert stored_codes(database_url)[0].code_hash == hash_otp(TEST_SECRET.encode(), EMAIL, code)


def test_forwarded_for_uses_the_address_the_proxy_saw(make_client, database_url):
    # Behind the trusted proxy, only the last X-Forwarded-For entry is the proxy's word;
    # a client that invents a new first entry per request is still one client.
    client = make_client(database_url, trust_forwarded_for=True, rate_limit_ip_otp_per_hour=2)

    def via_proxy(email, claimed, seen):
        return client.post(
            "/api/otp/generate",
            json={"email": email, "operation": "register"},
            headers={"X-Forwarded-For": f"{claimed}, {seen}"},
        )

    assert via_proxy("a@example.com", "1.1.1.1", "203.0.113.9").status_code == 200
    assert via_proxy("b@example.com", "2.2.2.2", "203.0.113.9").status_code == 200
    assert via_proxy("c@example.com", "3.3.3.3", "203.0.113.9").status_code == 429
    assert via_proxy("c@example.com", "3.3.3.3", "198.51.100.7").status_code == 200


def test_a_code_out_of_tries_is_replaced_without_force_new(client, mailer, clock):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert register(client, wrong).status_code == 403
    clock.advance(seconds=61)
    # The dead code must not count as "already sent": the user would be stuck with it.
    assert generate(client).json()["status"] == "sent"
    assert register(client, mailer.codes_for(EMAIL)[-1]).status_code == 200
