"""The backend client: request shapes and error mapping with ``httpx.MockTransport``,
then end to end against the real backend app served by uvicorn on loopback.

The end-to-end half reuses the backend tests' fixtures (a migrated SQLite copy, the
recording mailer, the fake clock) by importing them, hence the F811 waiver.
"""

# ruff: noqa: F811

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from core import api
from core.api import (
    BackendClient,
    BackendUnreachable,
    CodeRejected,
    CodeSent,
    DomainSettings,
    InvalidDomains,
    InvalidEntry,
    InvalidInput,
    NotRegistered,
    RateLimited,
    Registered,
    ServerError,
    Unauthorized,
)
from core.errors import BackendError

BASE = "http://backend.test"
EMAIL = "owner@example.com"
TOKEN = "tok_" + "x" * 40
SUBSCRIPTION = {
    "status": "success",
    "email": "o***@example.com",
    "domains": ["example.com", "xn--bcher-kva.de"],
    "threshold_days": 30,
    "details": [
        {
            "domain": "example.com",
            "display": "example.com",
            "last_status": "valid",
            "last_days_left": 80,
            "last_checked_at": "2026-06-01T12:00:00Z",
        },
        {
            "domain": "xn--bcher-kva.de",
            "display": "bücher.de",
            "last_status": None,
            "last_days_left": None,
            "last_checked_at": None,
        },
    ],
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a queue and records every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def make(recorder: Recorder, **kwargs: Any) -> tuple[BackendClient, list[float]]:
    sleeps: list[float] = []
    client = BackendClient(
        BASE, transport=httpx.MockTransport(recorder), sleep=sleeps.append, **kwargs
    )
    return client, sleeps


def ok(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# --------------------------------------------------------------------------- shapes


def test_request_code_sends_the_backend_shape() -> None:
    recorder = Recorder(ok({"status": "sent", "expires_in": 600, "resend_after": 60}))
    client, _ = make(recorder)
    assert client.request_code(EMAIL, "manage", force_new=True) == CodeSent("sent", 600, 60)
    request = recorder.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/otp/generate")
    assert recorder.body() == {"email": EMAIL, "operation": "manage", "force_new": True}
    assert "authorization" not in request.headers


def test_register_token_and_management_calls() -> None:
    recorder = Recorder(
        ok({"status": "success", "domains": ["example.com"], "token": TOKEN}),
        ok({"status": "success", "token": TOKEN + "2"}),
        ok(SUBSCRIPTION),
        ok(SUBSCRIPTION),
        ok({"status": "success", "message": "unsubscribed; your data has been deleted"}),
    )
    client, _ = make(recorder)
    registered = client.register(EMAIL, ["Example.COM"], " 123456 ", threshold_days=14)
    assert registered == Registered(domains=("example.com",), token=TOKEN)
    assert recorder.body() == {
        "email": EMAIL,
        "domains": ["Example.COM"],
        "otp": "123456",
        "threshold_days": 14,
    }
    assert client.token_from_code(EMAIL, "654321") == TOKEN + "2"
    assert recorder.requests[-1].url.path == "/api/notifications/token"

    subscription = client.get_subscription(TOKEN)
    assert subscription.email == "o***@example.com"
    assert subscription.domains == ("example.com", "xn--bcher-kva.de")
    assert subscription.details[0].last_checked_at is not None
    assert subscription.details[1].display == "bücher.de"
    assert recorder.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"

    client.update_subscription(TOKEN, threshold_days=7)
    assert recorder.requests[-1].method == "PUT"
    assert recorder.body() == {"threshold_days": 7}

    assert client.unsubscribe(TOKEN).startswith("unsubscribed")
    assert recorder.requests[-1].method == "DELETE"


def test_per_domain_settings_are_sent_and_read_back() -> None:
    answer = {
        **SUBSCRIPTION,
        "domains": ["smtp://mx.example.com", "startup.io"],
        "details": [
            {
                "domain": "smtp://mx.example.com",
                "display": "mx.example.com",
                "protocol": "smtp",
                "threshold_days": 7,
                "registration_expires": None,
                "last_status": None,
                "last_days_left": None,
                "last_checked_at": None,
            },
            {
                "domain": "startup.io",
                "display": "startup.io",
                "protocol": "tls",
                "threshold_days": None,
                "registration_expires": "2027-03-01",
                "last_status": None,
                "last_days_left": None,
                "last_checked_at": None,
            },
        ],
    }
    recorder = Recorder(ok({"status": "success", "domains": ["a"], "token": TOKEN}), ok(answer))
    client, _ = make(recorder)
    entries = [
        "example.com",
        DomainSettings("smtp://mx.example.com", threshold_days=7),
        DomainSettings("startup.io", registration_expires=date(2027, 3, 1)),
    ]
    client.register(EMAIL, entries, "123456")
    assert recorder.body()["domains"] == [
        "example.com",
        {"domain": "smtp://mx.example.com", "threshold_days": 7, "registration_expires": None},
        {"domain": "startup.io", "threshold_days": None, "registration_expires": "2027-03-01"},
    ]
    updated = client.update_subscription(TOKEN, entries[1:])
    assert recorder.body()["domains"][0]["threshold_days"] == 7
    assert [(d.protocol, d.threshold_days, d.registration_expires) for d in updated.details] == [
        ("smtp", 7, None),
        ("tls", None, date(2027, 3, 1)),
    ]


def test_answers_without_per_domain_settings_still_parse() -> None:
    client, _ = make(Recorder(ok(SUBSCRIPTION)))
    details = client.get_subscription(TOKEN).details
    assert [(d.protocol, d.threshold_days, d.registration_expires) for d in details] == [
        ("tls", None, None),
        ("tls", None, None),
    ]


def test_check_returns_the_cli_document() -> None:
    document = {
        "checked_at": "2026-06-01T12:00:00Z",
        "threshold_days": 30,
        "results": [{"domain": "example.com", "status": "valid"}],
        "input_errors": [{"source": "<api>", "line": 2, "text": "a..b", "error": "empty label"}],
    }
    client, _ = make(Recorder(ok(document)))
    report = client.check(["example.com", "a..b"])
    assert report.results[0]["status"] == "valid"
    assert report.input_errors == (InvalidEntry("a..b", "empty label", 2),)
    assert report.document == document


def test_correlation_headers_only_when_given() -> None:
    recorder = Recorder(ok(SUBSCRIPTION))
    client, _ = make(recorder, distinct_id="install-1", session_id="run-1")
    client.get_subscription(TOKEN)
    headers = recorder.requests[0].headers
    assert headers["x-posthog-distinct-id"] == "install-1"
    assert headers["x-posthog-session-id"] == "run-1"

    recorder = Recorder(ok(SUBSCRIPTION))
    client, _ = make(recorder, distinct_id=None, session_id=None)  # analytics off
    client.get_subscription(TOKEN)
    assert not any(k.startswith("x-posthog") for k in recorder.requests[0].headers)


def test_backend_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.default_backend_url({}) == api.FALLBACK_BACKEND_URL
    monkeypatch.setenv("DOMAINCHECK_BACKEND_URL", "https://api.example.net/")
    assert BackendClient().base_url == "https://api.example.net"
    assert BackendClient("http://127.0.0.1:9/").base_url == "http://127.0.0.1:9"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (
            ok(
                {"status": "error", "message": "too many requests; try again in 42 seconds"},
                429,
                **{"Retry-After": "42"},
            ),
            RateLimited,
            "42 seconds",
        ),
        (
            ok({"status": "error", "message": "the code is wrong", "require_otp": True}, 403),
            CodeRejected,
            "the code is wrong",
        ),
        (
            ok({"status": "error", "message": "missing or invalid token"}, 401),
            Unauthorized,
            "token",
        ),
        (
            ok({"status": "error", "message": "email: not an email address", "detail": []}, 422),
            InvalidInput,
            "not an email",
        ),
        (ok({"status": "error", "message": "request body is larger"}, 413), InvalidInput, "larger"),
        (ok({"detail": "Not Found"}, 404), ServerError, "does not look like"),
        (httpx.Response(200, text="<html>captive portal</html>"), ServerError, "not JSON"),
        (ok({"status": "sent"}), ServerError, "expires_in"),
    ],
)
def test_errors_are_mapped(
    response: httpx.Response, error: type[BackendError], message: str
) -> None:
    client, _ = make(Recorder(response))
    with pytest.raises(error, match=message) as caught:
        client.request_code(EMAIL)
    assert isinstance(caught.value, BackendError)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after_seconds == 42
        assert api.reason_code(caught.value) == "rate_limited"


def test_invalid_domains_list_each_entry() -> None:
    body = {
        "status": "error",
        "message": "2 entries are not a domain we can check",
        "errors": [
            {"source": "<api>", "line": 2, "text": "a..b.com", "error": "empty label"},
            {"source": "<api>", "line": 3, "text": "me@example.com", "error": "an email address"},
        ],
    }
    client, _ = make(Recorder(ok(body, 422)))
    with pytest.raises(InvalidDomains) as caught:
        client.register(EMAIL, ["ok.com", "a..b.com", "me@example.com"], "123456")
    assert [e.text for e in caught.value.entries] == ["a..b.com", "me@example.com"]
    assert caught.value.entries[0] == InvalidEntry("a..b.com", "empty label", 2)


def test_token_from_code_404_means_not_registered() -> None:
    body = {"status": "error", "message": "no reminders are registered for this address"}
    client, _ = make(Recorder(ok(body, 404)))
    with pytest.raises(NotRegistered, match="no reminders"):
        client.token_from_code(EMAIL, "123456")


def test_idempotent_calls_retry_5xx_with_bounded_backoff() -> None:
    recorder = Recorder(
        ok({"status": "error", "message": "busy"}, 503, **{"Retry-After": "600"}),
        ok({"status": "error", "message": "busy"}, 502),
        ok(SUBSCRIPTION),
    )
    client, sleeps = make(recorder)
    assert client.get_subscription(TOKEN).threshold_days == 30
    assert len(recorder.requests) == 3
    assert len(sleeps) == 2 and all(0 < s <= api.MAX_RETRY_WAIT_SECONDS for s in sleeps)


def test_idempotent_calls_give_up_after_a_few_attempts() -> None:
    recorder = Recorder(ok({"status": "error", "message": "database down"}, 500))
    client, sleeps = make(recorder)
    with pytest.raises(ServerError, match="database down") as caught:
        client.unsubscribe(TOKEN)
    assert caught.value.status_code == 500
    assert len(recorder.requests) == api.MAX_ATTEMPTS and len(sleeps) == api.MAX_ATTEMPTS - 1


def test_posts_are_never_retried() -> None:
    busy = ok(
        {"status": "error", "message": "the code could not be emailed right now"},
        503,
        **{"Retry-After": "60"},
    )
    recorder = Recorder(busy)
    client, sleeps = make(recorder)
    with pytest.raises(ServerError, match="could not be emailed") as caught:
        client.request_code(EMAIL)
    assert caught.value.retry_after_seconds == 60
    assert len(recorder.requests) == 1 and sleeps == []

    recorder = Recorder(httpx.ConnectError("refused"))
    client, sleeps = make(recorder)
    with pytest.raises(BackendUnreachable):
        client.register(EMAIL, ["example.com"], "123456")
    assert len(recorder.requests) == 1


def test_connection_failures_are_retried_for_reads_then_unreachable() -> None:
    recorder = Recorder(httpx.ConnectError("refused"))
    client, _ = make(recorder)
    with pytest.raises(BackendUnreachable, match="cannot reach") as caught:
        client.get_subscription(TOKEN)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(recorder.requests) == api.MAX_ATTEMPTS

    recorder = Recorder(httpx.ReadTimeout("slow"))
    client, _ = make(recorder)
    with pytest.raises(BackendUnreachable, match="in time"):
        client.get_subscription(TOKEN)


# --------------------------------------------------------------------------- end to end

backend_conftest = pytest.importorskip("tests.backend.conftest")
uvicorn = pytest.importorskip("uvicorn")
from tests.backend.conftest import _sqlite_template, clock, mailer, sqlite_url  # noqa: E402, F401
from tests.helpers.backend_server import (  # noqa: E402
    RecordingAnalytics,
    serve,
)
from tests.helpers.backend_server import free_port as _free_port  # noqa: E402


@pytest.fixture
def served(
    sqlite_url: str, mailer: Any, clock: Any
) -> Iterator[tuple[str, Any, RecordingAnalytics]]:
    """The real backend app on a loopback port (uvicorn, its own thread), on ``clock``."""
    from backend.api.deps import get_clock
    from backend.app import create_app

    recorder = RecordingAnalytics()
    settings = backend_conftest.make_settings(sqlite_url, rate_limit_ip_otp_per_hour=4)
    app = create_app(settings, mailer=mailer, analytics=recorder)
    app.dependency_overrides[get_clock] = lambda: clock
    with serve(app) as url:
        yield url, mailer, recorder


def test_sign_up_manage_and_unsubscribe_against_the_real_backend(
    served: tuple[str, Any, RecordingAnalytics],
) -> None:
    url, mailer, recorder = served
    with BackendClient(url, distinct_id="install-1", session_id="run-1") as client:
        sent = client.request_code(EMAIL)
        assert sent.status == "sent" and sent.expires_in_seconds == 600
        assert client.request_code(EMAIL).status == "already_sent"
        [code] = mailer.codes_for(EMAIL)

        wrong = "000000" if code != "000000" else "111111"
        with pytest.raises(CodeRejected):
            client.register(EMAIL, ["example.com"], wrong)
        with pytest.raises(InvalidDomains) as caught:
            client.register(EMAIL, ["example.com", "a..b.com"], code)
        assert [entry.text for entry in caught.value.entries] == ["a..b.com"]
        with pytest.raises(InvalidInput):
            client.request_code("not an address")

        registered = client.register(EMAIL, ["Example.COM", "bücher.de"], code, threshold_days=21)
        assert registered.domains == ("example.com", "xn--bcher-kva.de")
        with pytest.raises(CodeRejected):  # single use
            client.register(EMAIL, ["example.org"], code)

        subscription = client.get_subscription(registered.token)
        assert subscription.email == "o***@example.com"
        assert subscription.threshold_days == 21
        assert {d.display for d in subscription.details} == {"example.com", "bücher.de"}

        updated = client.update_subscription(registered.token, ["example.net"], threshold_days=7)
        assert (updated.domains, updated.threshold_days) == (("example.net",), 7)

        with pytest.raises(Unauthorized):
            client.get_subscription("not-a-token")

        assert "unsubscribed" in client.unsubscribe(registered.token)
        with pytest.raises(Unauthorized):
            client.get_subscription(registered.token)

    assert recorder.contexts and set(recorder.contexts) == {("install-1", "run-1")}


def test_target_forms_and_per_domain_settings_against_the_real_backend(
    served: tuple[str, Any, RecordingAnalytics],
) -> None:
    url, mailer, _ = served
    with BackendClient(url) as client:
        client.request_code(EMAIL)
        [code] = mailer.codes_for(EMAIL)
        registered = client.register(
            EMAIL,
            [
                "smtp://mx.example.com",
                "mx:example.com",
                DomainSettings(
                    "startup.io", threshold_days=5, registration_expires=date(2027, 3, 1)
                ),
            ],
            code,
        )
        assert registered.domains == ("smtp://mx.example.com", "mx:example.com", "startup.io")
        details = client.get_subscription(registered.token).details
        assert [
            (d.domain, d.protocol, d.threshold_days, d.registration_expires) for d in details
        ] == [
            ("smtp://mx.example.com", "smtp", None, None),
            ("mx:example.com", "mx", None, None),
            ("startup.io", "tls", 5, date(2027, 3, 1)),
        ]
        with pytest.raises(InvalidDomains) as caught:
            client.update_subscription(registered.token, ["smtp://127.0.0.1"])
        assert caught.value.entries[0].error == "private and loopback addresses are not checked"


def test_lost_token_recovery_and_rate_limit_against_the_real_backend(
    served: tuple[str, Any, RecordingAnalytics], clock: Any
) -> None:
    url, mailer, recorder = served
    with BackendClient(url) as client:  # analytics off: no IDs
        client.request_code(EMAIL)
        token = client.register(EMAIL, ["example.com"], mailer.codes_for(EMAIL)[-1]).token
        clock.advance(seconds=61)  # one code a minute per address
        assert client.request_code(EMAIL, "manage").status == "sent"
        new_token = client.token_from_code(EMAIL, mailer.codes_for(EMAIL)[-1])
        assert new_token != token
        assert client.get_subscription(new_token).domains == ("example.com",)

        client.request_code("second@example.com")
        client.request_code("third@example.com")
        with pytest.raises(RateLimited) as caught:  # 4 codes an hour from this address
            client.request_code("fourth@example.com")
        assert caught.value.retry_after_seconds is not None
        assert caught.value.retry_after_seconds > 0
    assert set(recorder.contexts) == {(None, None)}


def test_check_against_the_real_backend(served: tuple[str, Any, RecordingAnalytics]) -> None:
    url, _, _ = served
    with BackendClient(url) as client:
        report = client.check(["a..b.com"])  # only input errors: no network needed
    assert report.results == ()
    assert [entry.text for entry in report.input_errors] == ["a..b.com"]


def test_backend_down_is_unreachable() -> None:
    port = _free_port()  # nothing listens there now
    sleeps: list[float] = []
    with BackendClient(f"http://127.0.0.1:{port}", sleep=sleeps.append) as client:
        with pytest.raises(BackendUnreachable):
            client.request_code(EMAIL)
        with pytest.raises(BackendUnreachable):
            client.get_subscription(TOKEN)
    assert len(sleeps) == api.MAX_ATTEMPTS - 1


def test_an_expired_code_is_rejected_by_the_real_backend(
    served: tuple[str, Any, RecordingAnalytics], clock: Any
) -> None:
    url, mailer, _ = served
    with BackendClient(url) as client:
        client.request_code(EMAIL)
        clock.advance(seconds=601)  # codes live 10 minutes
        with pytest.raises(CodeRejected, match="request a new one"):
            client.register(EMAIL, ["example.com"], mailer.codes_for(EMAIL)[-1])
