"""Register, read, replace, delete; 401/403/422/413 shapes (SQLite and PostgreSQL)."""

from __future__ import annotations

import concurrent.futures

import pytest

from backend.security import hash_token
from tests.backend.test_otp_api import EMAIL, generate, register


@pytest.fixture
def token(client, mailer) -> str:
    generate(client)
    response = register(client, mailer.codes_for(EMAIL)[-1], domains=["Example.COM", "bücher.de"])
    assert response.status_code == 200
    return response.json()["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_register_normalises_domains_and_returns_a_token(client, mailer):
    generate(client)
    response = register(
        client,
        mailer.codes_for(EMAIL)[0],
        domains=[
            "Example.COM.",
            "https://www.example.org/login",
            "bücher.de",
            "example.com",
            "x.io:8443",
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["domains"] == ["example.com", "www.example.org", "xn--bcher-kva.de", "x.io:8443"]
    assert len(body["token"]) >= 43  # 256 bits, base64url
    assert body["token"] != hash_token(body["token"])


def test_invalid_domains_are_422_with_core_messages(client, mailer):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    response = client.post(
        "/api/notifications/register",
        json={
            "email": EMAIL,
            "otp": code,
            "domains": [
                "ok.com",
                "a..b.com",
                "me@example.com",
                "x" * 64 + ".com",
                "10.0.0.1",
                "a\nb.com",
            ],
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error"
    errors = {e["line"]: e["error"] for e in body["errors"]}
    assert set(errors) == {2, 3, 4, 5, 6}
    assert "empty label" in errors[2]
    assert "email" in errors[3]
    assert "private" in errors[5]
    # The code was not spent on a request that failed validation.
    assert register(client, code).status_code == 200


def test_register_403_without_a_code_request(client):
    response = register(client, "123456")
    assert response.status_code == 403
    assert response.json()["require_otp"] is True


@pytest.mark.parametrize("threshold", [-1, 366, "x", None])
def test_bad_threshold_is_422(client, threshold):
    response = client.post(
        "/api/notifications/register",
        json={"email": EMAIL, "domains": ["a.com"], "otp": "123456", "threshold_days": threshold},
    )
    assert response.status_code == 422


def test_domain_count_and_body_size_caps(client):
    many = client.post(
        "/api/notifications/register",
        json={"email": EMAIL, "otp": "123456", "domains": [f"d{i}.com" for i in range(1001)]},
    )
    assert many.status_code == 422
    huge = client.post(
        "/api/notifications/register",
        json={"email": EMAIL, "otp": "123456", "domains": ["a" * 60 + ".com"] * 5000},
    )
    assert huge.status_code == 413
    assert huge.json()["status"] == "error"
    chunked = client.post(
        "/api/notifications/register",
        content=iter([b"[" + b" " * 200_000, b" " * 100_000 + b"]"]),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413
    assert client.post(
        "/api/otp/generate", content=b"{", headers={"content-length": "x"}
    ).status_code in (400, 422)


def test_read_masks_the_email(client, token):
    response = client.get("/api/notifications", headers=auth(token))
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "j***@example.com"
    assert body["domains"] == ["example.com", "xn--bcher-kva.de"]
    assert body["details"][1]["display"] == "bücher.de"
    assert body["threshold_days"] == 30


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_401_without_a_valid_token(client, headers):
    for method in ("get", "put", "delete"):
        kwargs = {"json": {"threshold_days": 3}} if method == "put" else {}
        response = getattr(client, method)("/api/notifications", headers=headers, **kwargs)
        assert response.status_code == 401
        assert response.json() == {
            "status": "error",
            "message": "missing or invalid management token",
        }
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_replace_domains_and_threshold(client, token):
    response = client.put(
        "/api/notifications",
        headers=auth(token),
        json={"domains": ["example.com", "new.org"], "threshold_days": 14},
    )
    assert response.status_code == 200
    assert response.json()["domains"] == ["example.com", "new.org"]
    assert response.json()["threshold_days"] == 14
    only_threshold = client.put(
        "/api/notifications", headers=auth(token), json={"threshold_days": 7}
    )
    assert only_threshold.json()["domains"] == ["example.com", "new.org"]
    bad = client.put("/api/notifications", headers=auth(token), json={"domains": ["a..b"]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["line"] == 1


def test_registering_again_adds_domains(client, mailer, token, clock):
    clock.advance(seconds=61)
    generate(client, force_new=True)
    second = register(client, mailer.codes_for(EMAIL)[-1], domains=["other.net"])
    assert second.status_code == 200
    assert second.json()["domains"] == ["other.net"]
    listed = client.get("/api/notifications", headers=auth(second.json()["token"])).json()
    assert listed["domains"] == ["example.com", "xn--bcher-kva.de", "other.net"]
    # A new token revokes the older one.
    assert client.get("/api/notifications", headers=auth(token)).status_code == 401


def test_delete_forgets_everything(client, token):
    response = client.delete("/api/notifications", headers=auth(token))
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert client.get("/api/notifications", headers=auth(token)).status_code == 401


def test_manage_code_gives_a_new_token(client, mailer, token, clock):
    clock.advance(seconds=61)
    generate(client, operation="manage", force_new=True)
    code = mailer.codes_for(EMAIL)[-1]
    response = client.post("/api/notifications/token", json={"email": EMAIL, "otp": code})
    assert response.status_code == 200
    assert (
        client.get("/api/notifications", headers=auth(response.json()["token"])).status_code == 200
    )
    again = client.post("/api/notifications/token", json={"email": EMAIL, "otp": code})
    assert again.status_code == 403


def test_concurrent_registrations_of_one_address(client, mailer, clock):
    generate(client)
    code = mailer.codes_for(EMAIL)[0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda d: register(client, code, domains=[d]), ["a.com", "b.com"]))
    assert sorted(r.status_code for r in results) == [200, 403]


def test_verify_attempts_are_rate_limited_per_ip(make_client, database_url):
    client = make_client(database_url, rate_limit_ip_verify_per_hour=3)
    statuses = [register(client, "123456").status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_registering_again_cannot_exceed_the_domain_cap(client, mailer, clock):
    generate(client)
    first = register(
        client, mailer.codes_for(EMAIL)[0], domains=[f"d{i}.test" for i in range(1000)]
    )
    assert first.status_code == 200
    clock.advance(seconds=61)
    generate(client, force_new=True)
    code = mailer.codes_for(EMAIL)[-1]
    over = register(client, code, domains=["one-more.test"])
    assert over.status_code == 422
    assert over.json()["status"] == "error" and "at most 1000" in over.json()["message"]
    headers = auth(first.json()["token"])
    assert len(client.get("/api/notifications", headers=headers).json()["domains"]) == 1000
    # Nothing was written and the code is still good for a request within the cap.
    assert register(client, code, domains=["d0.test"]).status_code == 200


def test_private_addresses_are_reported_on_their_own_line(client, mailer):
    generate(client)
    response = register(
        client, mailer.codes_for(EMAIL)[0], domains=["example.com", " [::ffff:127.0.0.1] "]
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "source": "domains",
            "line": 2,
            "text": "[::ffff:127.0.0.1]",
            "error": "private and loopback addresses are not checked",
        }
    ]
