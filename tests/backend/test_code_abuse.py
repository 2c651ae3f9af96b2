"""One-time codes cannot be used to lock an owner out; limits count IPv6 per /64;
codes are bound to their purpose; a new management token revokes older ones."""

from __future__ import annotations

import pytest

from backend.api.deps import client_bucket
from tests.backend.test_otp_api import EMAIL, register

OWNER_IP = "198.51.100.7"
ATTACKERS = ["203.0.113.5", "203.0.113.6", "2001:db8:bad::1"]


def wrong_code(right: str) -> str:
    return f"{(int(right) + 1) % 1_000_000:06d}"


def generate_from(client, ip, email=EMAIL, operation="manage", **extra):
    return client.post(
        "/api/otp/generate",
        json={"email": email, "operation": operation, **extra},
        headers={"X-Forwarded-For": ip},
    )


def token_from(client, ip, code, email=EMAIL):
    return client.post(
        "/api/notifications/token",
        json={"email": email, "otp": code},
        headers={"X-Forwarded-For": ip},
    )


@pytest.fixture
def forwarded(make_client, database_url):
    """A client whose requests say which address they come from."""
    return make_client(database_url, trust_forwarded_for=True)


@pytest.fixture
def registered(forwarded, mailer, clock):
    assert generate_from(forwarded, OWNER_IP, operation="register").status_code == 200
    response = register(forwarded, mailer.codes_for(EMAIL)[-1])
    assert response.status_code == 200
    clock.advance(minutes=2)
    return response.json()["token"]


def test_strangers_cannot_lock_the_owner_out(forwarded, mailer, clock, registered):
    """The issue's attack: forced code requests and wrong guesses, every minute."""
    for _ in range(6):
        for ip in ATTACKERS:
            response = generate_from(forwarded, ip, force_new=True)
            if response.status_code == 200:
                code = mailer.codes_for(EMAIL)[-1]  # (the attacker never sees it)
                for _ in range(5):
                    assert token_from(forwarded, ip, wrong_code(code)).status_code == 403
            else:
                assert response.status_code == 429  # the attacker's own limit
        clock.advance(seconds=61)

    before = len(mailer.sent)
    response = generate_from(forwarded, OWNER_IP)
    assert response.status_code == 200 and response.json()["status"] == "sent"
    assert len(mailer.sent) == before + 1
    response = token_from(forwarded, OWNER_IP, mailer.codes_for(EMAIL)[-1])
    assert response.status_code == 200, response.text


def test_guesses_from_elsewhere_leave_the_owner_two_tries(forwarded, mailer, registered):
    assert generate_from(forwarded, OWNER_IP).json()["status"] == "sent"
    code = mailer.codes_for(EMAIL)[-1]
    for _ in range(5):
        assert token_from(forwarded, ATTACKERS[0], wrong_code(code)).status_code == 403
    assert token_from(forwarded, OWNER_IP, wrong_code(code)).status_code == 403  # a typo
    assert token_from(forwarded, OWNER_IP, code).status_code == 200


def test_each_code_allows_at_most_five_guesses(forwarded, mailer, registered):
    assert generate_from(forwarded, OWNER_IP).json()["status"] == "sent"
    code = mailer.codes_for(EMAIL)[-1]
    for _ in range(5):
        assert token_from(forwarded, OWNER_IP, wrong_code(code)).status_code == 403
    assert token_from(forwarded, OWNER_IP, code).status_code == 403
    assert token_from(forwarded, ATTACKERS[0], code).status_code == 403


def test_the_owner_can_sign_in_from_another_address(forwarded, mailer, registered):
    assert generate_from(forwarded, OWNER_IP).json()["status"] == "sent"
    code = mailer.codes_for(EMAIL)[-1]
    assert token_from(forwarded, "192.0.2.99", code).status_code == 200


def test_ipv6_clients_are_counted_per_64(make_client, database_url):
    client = make_client(database_url, trust_forwarded_for=True, rate_limit_ip_otp_per_hour=2)
    assert generate_from(client, "2001:db8:1:2::1", email="a@example.com").status_code == 200
    assert generate_from(client, "2001:db8:1:2::ffff", email="b@example.com").status_code == 200
    response = generate_from(client, "2001:db8:1:2:abcd::7", email="c@example.com")
    assert response.status_code == 429
    assert generate_from(client, "2001:db8:1:3::1", email="c@example.com").status_code == 200


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("testclient", "testclient"),
    ],
)
def test_client_bucket(address, bucket):
    assert client_bucket(address) == bucket


def test_codes_are_bound_to_their_purpose(forwarded, mailer, clock, registered):
    assert generate_from(forwarded, OWNER_IP, operation="register").status_code == 200
    register_code = mailer.codes_for(EMAIL)[-1]
    assert token_from(forwarded, OWNER_IP, register_code).status_code == 403
    clock.advance(seconds=61)
    assert generate_from(forwarded, OWNER_IP, operation="manage").status_code == 200
    manage_code = mailer.codes_for(EMAIL)[-1]
    assert register(forwarded, manage_code).status_code == 403
    assert token_from(forwarded, OWNER_IP, manage_code).status_code == 200


def test_a_new_token_revokes_the_old_ones(forwarded, mailer, registered):
    old = {"Authorization": f"Bearer {registered}"}
    assert forwarded.get("/api/notifications", headers=old).status_code == 200
    assert generate_from(forwarded, OWNER_IP).status_code == 200
    new = token_from(forwarded, OWNER_IP, mailer.codes_for(EMAIL)[-1]).json()["token"]
    assert forwarded.get("/api/notifications", headers=old).status_code == 401
    headers = {"Authorization": f"Bearer {new}"}
    assert forwarded.get("/api/notifications", headers=headers).status_code == 200
