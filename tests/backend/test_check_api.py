"""``POST /api/check`` answers with the CLI's JSON document (loopback world)."""

from __future__ import annotations

import dataclasses

from backend.api.deps import get_core_settings


def test_check_returns_the_cli_document(make_client, sqlite_url, world):
    client = make_client(sqlite_url, use_clock=False)
    core = dataclasses.replace(world.settings(), check_rdap=False, timeout_seconds=5)
    client.app.dependency_overrides[get_core_settings] = lambda: core
    response = client.post(
        "/api/check",
        json={"domains": ["valid.test", "expired.test", "a..b", "10.1.2.3"], "threshold_days": 30},
    )
    assert response.status_code == 200, response.text
    document = response.json()
    assert set(document) == {"checked_at", "threshold_days", "results", "input_errors"}
    assert [r["domain"] for r in document["results"]] == ["valid.test", "expired.test"]
    assert [r["status"] for r in document["results"]] == ["valid", "expired"]
    assert document["results"][0]["tls"]["fingerprint_sha256"]
    assert [e["line"] for e in document["input_errors"]] == [3, 4]


def test_check_limits(make_client, sqlite_url):
    client = make_client(sqlite_url, rate_limit_ip_check_per_hour=1)
    too_many = client.post("/api/check", json={"domains": [f"d{i}.test" for i in range(101)]})
    assert too_many.status_code == 422
    assert client.post("/api/check", json={"domains": []}).status_code == 422
    assert client.post("/api/check", json={"domains": ["# only a comment"]}).status_code == 422
    limited = client.post("/api/check", json={"domains": ["# only a comment"]})
    assert limited.status_code == 429 and limited.headers["Retry-After"]
