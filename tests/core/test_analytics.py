"""Analytics with the real PostHog SDK, pointed at a loopback stand-in (tests.helpers.posthog_sink).

What must hold: events carry the persisted installation ID (also from worker threads
and for exceptions the SDK captures by itself), nothing personal ever leaves, "off"
means zero requests, and shutdown is bounded whatever the host does.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core import analytics as analytics_module
from core import buildinfo, install_id
from core.analytics import (
    EVENTS,
    Analytics,
    AnalyticsConfig,
    OffReason,
    Prop,
    mark_notice_shown,
    notice_shown,
    off_reason,
    read_preferences,
    save_opted_out,
)
from tests.helpers.posthog_sink import PosthogSink

ROOT = Path(__file__).resolve().parents[2]
KEY = "phc_test_key"
EMAIL = "jane.doe@example.org"
DOMAIN = "secret-shop.example"
LIST_FILE = "/home/jane/customers/watchlist.txt"
#: Generous: proves the wait is bounded, without tight timing.
SHUTDOWN_BOUND_SECONDS = 2.5

AnalyticsFactory = Callable[..., Analytics]


@pytest.fixture
def sink() -> Iterator[PosthogSink]:
    with PosthogSink() as server:
        yield server


@pytest.fixture
def make_analytics(sink: PosthogSink) -> Iterator[AnalyticsFactory]:
    made: list[Analytics] = []

    def factory(**kwargs: Any) -> Analytics:
        kwargs.setdefault("frontend", "desktop")
        instance = Analytics(AnalyticsConfig(KEY, sink.url), **kwargs)
        made.append(instance)
        return instance

    yield factory
    for instance in made:
        instance.shutdown(0.5)


def _env(sink: PosthogSink, **extra: str) -> dict[str, str]:
    return {"POSTHOG_API_KEY": KEY, "POSTHOG_HOST": sink.url, **extra}


# --------------------------------------------------------------------------- identity


def test_events_arrive_with_the_persisted_id_and_session(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    analytics = make_analytics()
    assert analytics.enabled
    analytics.capture("check_started", {"count": 3, "trigger": "manual"})
    assert analytics.shutdown() is True

    stored = install_id.peek()
    assert stored is not None and analytics.distinct_id is None  # off after shutdown
    [event] = sink.named("check_started")
    assert event["distinct_id"] == stored
    assert event["properties"]["count"] == 3
    assert event["properties"]["$session_id"] == analytics.session_id
    assert "$process_person_profile" not in event["properties"]
    assert "$is_server" not in event["properties"]  # is_server=False: a desktop app
    assert sink.requests[0].path == "/batch/"

    # The next run (desktop or CLI) keeps the ID and starts a new session.
    again = make_analytics(frontend="cli")
    again.capture("reminder_shown", {"count": 1})
    again.shutdown()
    [second] = sink.named("reminder_shown")
    assert second["distinct_id"] == stored
    assert second["properties"]["$session_id"] != analytics.session_id


def test_the_id_is_a_random_uuid_and_reset_replaces_it(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    first = install_id.load_or_create()
    assert install_id.load_or_create() == first
    assert install_id.id_path().read_text().strip() == first
    assert getpass.getuser() not in first

    analytics = make_analytics()
    new_id = analytics.reset_id()
    assert new_id != first and install_id.peek() == new_id
    analytics.capture("settings_changed", {"setting": "threshold_days"})
    analytics.shutdown()
    assert [e["distinct_id"] for e in sink.named("settings_changed")] == [new_id]


def test_events_from_a_worker_thread_keep_the_id(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    analytics = make_analytics()
    worker = threading.Thread(
        target=analytics.capture, args=("check_completed", {"valid": 2, "duration_ms": 5.5})
    )
    worker.start()
    worker.join()
    analytics.shutdown()
    [event] = sink.named("check_completed")
    assert event["distinct_id"] == install_id.peek()
    assert "$process_person_profile" not in event["properties"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_exception_autocaptured_in_a_thread_keeps_the_id_and_says_only_its_type(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    analytics = make_analytics()

    def fail() -> None:
        secret_path = LIST_FILE  # a local variable the SDK could serialise
        raise ValueError(f"cannot read {secret_path} for {EMAIL} ({DOMAIN})")

    worker = threading.Thread(target=fail)
    worker.start()
    worker.join()
    sink_events = _flush(analytics, sink)
    [event] = [e for e in sink_events if e["event"] == "$exception"]
    assert event["distinct_id"] == install_id.peek()
    properties = event["properties"]
    assert "$process_person_profile" not in properties
    assert properties["$exception_source"] == "python.threading_excepthook"
    [item] = properties["$exception_list"]
    assert item["type"] == item["value"] == "ValueError"
    frames = item["stacktrace"]["frames"]
    assert any(f.get("function") == "fail" for f in frames)
    forbidden = {"abs_path", "context_line", "pre_context", "post_context", "vars"}
    assert all(not forbidden & frame.keys() for frame in frames)
    assert all(not str(frame.get("filename", "")).startswith("/") for frame in frames)
    _assert_private(sink)


def _flush(analytics: Analytics, sink: PosthogSink) -> list[dict[str, Any]]:
    assert analytics.shutdown() is True
    return sink.events


# --------------------------------------------------------------------------- privacy


def _assert_private(sink: PosthogSink, *extra: str) -> None:
    text = sink.payload_text().lower()
    assert text, "the sink received nothing"
    user = getpass.getuser()
    forbidden = [EMAIL, DOMAIN, LIST_FILE, "watchlist", "/home/", str(Path.home()), *extra]
    if len(user) >= 3:
        forbidden.append(user)
    for value in forbidden:
        assert value.lower() not in text, f"{value!r} leaked into an analytics payload"


def test_no_email_domain_path_or_user_name_in_any_payload(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    analytics = make_analytics()
    analytics.add_sensitive([EMAIL, DOMAIN, LIST_FILE, "watchlist", "customer_list"])
    analytics.set_person_properties(qt_version="6.11.0")
    analytics.capture(
        "domains_imported",
        {"source": "file", "count": 2, "rejected": 1, "file": LIST_FILE, "domain": DOMAIN},
    )
    analytics.capture("settings_changed", {"setting": "customer_list"})  # a registered name
    analytics.capture("signup_failed", {"reason": EMAIL, "step": "code"})
    analytics.capture("results_exported", {"format": "json", "count": 2, "path": LIST_FILE})
    analytics.capture("not_in_the_allow_list", {"email": EMAIL})
    try:
        raise OSError(f"{LIST_FILE}: permission denied for {EMAIL}")
    except OSError as exc:
        analytics.capture_exception(exc)
    events = _flush(analytics, sink)

    names = [e["event"] for e in events]
    assert "not_in_the_allow_list" not in names
    imported = next(e for e in events if e["event"] == "domains_imported")["properties"]
    assert {k: imported[k] for k in ("source", "count", "rejected")} == {
        "source": "file",
        "count": 2,
        "rejected": 1,
    }
    assert "file" not in imported and "domain" not in imported
    changed = next(e for e in events if e["event"] == "settings_changed")["properties"]
    assert "setting" not in changed
    failed = next(e for e in events if e["event"] == "signup_failed")["properties"]
    assert "reason" not in failed and failed["step"] == "code"
    person = next(e for e in events if e["event"] == "$set")
    assert person["$set"]["qt_version"] == "6.11.0"
    assert person["$set"]["frontend"] == "desktop"
    assert person["distinct_id"] == install_id.peek()
    _assert_private(sink, "permission denied", "customer_list")


def test_person_properties_never_pick_up_context_tags(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    """``set()`` inside a tagged context would copy the tags onto the person."""
    from posthog import new_context, tag

    analytics = make_analytics()
    with new_context(fresh=True):
        tag("email", EMAIL)
        tag("domain", DOMAIN)
        analytics.set_person_properties()
        analytics.capture("reminder_shown", {"count": 1})
    events = _flush(analytics, sink)
    person = next(e for e in events if e["event"] == "$set")
    assert set(person["$set"]) <= {"app_version", "python_version", "os", "os_version", "frontend"}
    shown = next(e for e in events if e["event"] == "reminder_shown")
    assert "$context_tags" not in shown["properties"] and "email" not in shown["properties"]
    _assert_private(sink)


def _scrubber() -> Analytics:
    return Analytics(None, distinct_id="install-id", session_id="run-1", reason=OffReason.NO_KEY)


def test_scrub_drops_unknown_events_and_properties() -> None:
    analytics = _scrubber()
    assert analytics.scrub({"event": "page_viewed", "properties": {}}) is None
    assert analytics.scrub({"event": "$pageview", "properties": {}}) is None
    out = analytics.scrub(
        {
            "event": "check_completed",
            "distinct_id": "random-personless",
            "uuid": "u",
            "timestamp": "t",
            "properties": {
                "valid": 3,
                "error": True,  # a flag where a count belongs
                "cancelled": "no",  # a string where a flag belongs
                "duration_ms": float("nan"),
                "total": -1,
                "trigger": "manual",
                "$process_person_profile": False,
                "$context_tags": ["x"],
                "$ip": "192.0.2.1",
                "$current_url": "file:///home/jane",
                "$lib": "posthog-python",
                "$os": "Linux",
            },
        }
    )
    assert out == {
        "event": "check_completed",
        "distinct_id": "install-id",
        "uuid": "u",
        "timestamp": "t",
        "properties": {"valid": 3, "trigger": "manual", "$lib": "posthog-python", "$os": "Linux"},
    }


def test_scrub_keeps_only_safe_exception_fields() -> None:
    analytics = _scrubber()
    analytics.add_sensitive(["jane"])
    frame = {
        "platform": "python",
        "filename": "/home/jane/app/main.py",
        "abs_path": "/home/jane/app/main.py",
        "function": "load",
        "module": "__main__",
        "lineno": 12,
        "in_app": True,
        "pre_context": ["email = 'jane@example.org'"],
        "context_line": "raise ValueError(email)",
        "post_context": [],
        "vars": {"email": "jane@example.org"},
        "code_variables": {"email": "jane@example.org"},
    }
    out = analytics.scrub(
        {
            "event": "$exception",
            "distinct_id": "random",
            "properties": {
                "$process_person_profile": False,
                "$exception_level": "error",
                "$exception_source": "python.sys_excepthook",
                "$exception_list": [
                    {
                        "type": "ValueError",
                        "value": "jane@example.org is not allowed",
                        "module": "builtins",
                        "mechanism": {"type": "generic", "handled": True, "data": {"x": "y"}},
                        "stacktrace": {"type": "raw", "frames": [frame]},
                    }
                ],
            },
        }
    )
    assert out is not None
    assert out["distinct_id"] == "install-id"
    [item] = out["properties"]["$exception_list"]
    assert item == {
        "type": "ValueError",
        "value": "ValueError",
        "module": "builtins",
        "mechanism": {"type": "generic", "handled": True},
        "stacktrace": {
            "type": "raw",
            "frames": [
                {
                    "platform": "python",
                    "filename": "main.py",
                    "function": "load",
                    "module": "__main__",
                    "lineno": 12,
                    "in_app": True,
                }
            ],
        },
    }
    assert out["properties"]["$session_id"] == "run-1"
    assert "$process_person_profile" not in out["properties"]


@pytest.mark.parametrize(
    "value",
    ["jane@example.org", "/etc/passwd", "C:\\Users\\jane", "~/list.txt", "..\\x", "mysecretname"],
)
def test_values_that_look_private_are_dropped(value: str) -> None:
    analytics = _scrubber()
    analytics.add_sensitive(["mysecretname"])
    assert analytics._looks_private(value)
    assert not analytics._looks_private("threshold_days")


def test_every_allow_listed_property_has_a_kind() -> None:
    for name, spec in EVENTS.items():
        assert name.isidentifier()
        assert all(isinstance(prop, Prop) for prop in spec.values())


def test_a_failing_scrubber_drops_the_event_instead_of_sending_it() -> None:
    analytics = _scrubber()
    assert analytics.scrub({"event": "check_completed", "properties": object()}) is not None
    assert analytics.scrub(None) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------- consent


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


@pytest.mark.parametrize(
    ("env_extra", "opted_out", "reason"),
    [
        ({"DO_NOT_TRACK": "1"}, False, OffReason.DO_NOT_TRACK),
        ({"DOMAINCHECK_NO_ANALYTICS": "1"}, False, OffReason.NO_ANALYTICS_ENV),
        ({}, True, OffReason.OPTED_OUT),
        ({"POSTHOG_API_KEY": ""}, False, OffReason.NO_KEY),
    ],
)
def test_off_means_zero_requests_no_threads_and_no_id(
    sink: PosthogSink, env_extra: dict[str, str], opted_out: bool, reason: OffReason
) -> None:
    if opted_out:
        save_opted_out(True)
    before = _threads()
    analytics = Analytics.create("desktop", env=_env(sink, **env_extra))
    assert not analytics.enabled and analytics.reason is reason
    assert analytics.correlation_ids() == (None, None)
    analytics.set_person_properties()
    analytics.capture("app_opened", {"frontend": "desktop"})
    analytics.capture_exception(RuntimeError("x"))
    assert analytics.shutdown() is True
    assert _threads() - before == set()
    time.sleep(0.2)
    assert sink.requests == []
    assert install_id.peek() is None


def test_the_build_time_key_is_used_when_the_environment_has_none(
    monkeypatch: pytest.MonkeyPatch, sink: PosthogSink
) -> None:
    baked = types.ModuleType(buildinfo.BUILD_CONFIG_MODULE)
    baked.POSTHOG_API_KEY = "phc_baked"  # type: ignore[attr-defined]
    baked.POSTHOG_HOST = sink.url  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, buildinfo.BUILD_CONFIG_MODULE, baked)
    assert AnalyticsConfig.from_environment({}) == AnalyticsConfig("phc_baked", sink.url)
    assert AnalyticsConfig.from_environment({"POSTHOG_API_KEY": "phc_env"}) == AnalyticsConfig(
        "phc_env", sink.url
    )
    assert off_reason({"DO_NOT_TRACK": "true"}) is OffReason.DO_NOT_TRACK
    assert off_reason({"DO_NOT_TRACK": "0"}) is None


def test_no_build_config_in_a_checkout() -> None:
    assert buildinfo.baked("POSTHOG_API_KEY") is None
    assert AnalyticsConfig.from_environment({}) is None


def test_opting_out_at_runtime_stops_sending_and_is_remembered(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    analytics = make_analytics()
    analytics.capture("reminder_shown", {"count": 1})
    analytics.set_opted_out(True)
    assert not analytics.enabled and analytics.reason is OffReason.OPTED_OUT
    assert read_preferences().opted_out
    analytics.capture("reminder_shown", {"count": 2})
    sink.wait_for_events(1)
    time.sleep(0.2)
    assert [e["properties"]["count"] for e in sink.named("reminder_shown")] == [1]

    analytics.set_opted_out(False)
    assert analytics.enabled and not read_preferences().opted_out
    analytics.capture("reminder_shown", {"count": 3})
    analytics.shutdown()
    assert [e["properties"]["count"] for e in sink.named("reminder_shown")] == [1, 3]


def test_notice_flags_are_per_front_end() -> None:
    assert not notice_shown("cli")
    mark_notice_shown("cli")
    assert notice_shown("cli") and not notice_shown("desktop")
    save_opted_out(True)
    assert read_preferences().notices_shown == frozenset({"cli"})
    prefs = json.loads(analytics_module.preferences_path().read_text())
    assert prefs == {"opted_out": True, "notices_shown": ["cli"]}


# --------------------------------------------------------------------------- shutdown


def test_shutdown_is_bounded_when_the_host_hangs(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    sink.mode = "hang"
    analytics = make_analytics()
    analytics.capture("reminder_shown", {"count": 1})
    started = time.monotonic()
    finished = analytics.shutdown(2.0)
    elapsed = time.monotonic() - started
    assert elapsed < SHUTDOWN_BOUND_SECONDS
    assert finished is False  # the events were not delivered: and we did not wait for them
    assert len(sink.requests) == 1


def test_begin_shutdown_returns_at_once_and_the_wait_is_capped(
    make_analytics: AnalyticsFactory, sink: PosthogSink
) -> None:
    sink.mode = "hang"
    analytics = make_analytics()
    analytics.capture("reminder_shown", {"count": 1})
    started = time.monotonic()
    analytics.begin_shutdown(1.0)  # the window's closeEvent
    assert time.monotonic() - started < 0.5
    analytics.capture("reminder_shown", {"count": 2})  # after close: ignored
    assert analytics.wait_for_shutdown() is False  # at process exit
    assert time.monotonic() - started < 1.5


def test_a_failing_host_costs_no_traceback(
    make_analytics: AnalyticsFactory, sink: PosthogSink, capfd: pytest.CaptureFixture[str]
) -> None:
    sink.mode = "fail"
    analytics = make_analytics()
    analytics.capture("reminder_shown", {"count": 1})
    started = time.monotonic()
    analytics.shutdown(2.0)
    assert time.monotonic() - started < SHUTDOWN_BOUND_SECONDS
    assert sink.requests  # it tried
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "PostHog" not in err


def _run_script(
    code: str, env_extra: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, **env_extra}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return time.monotonic() - started, proc


@pytest.mark.slow
def test_atexit_never_hangs_the_process(sink: PosthogSink) -> None:
    """No explicit shutdown: the exit hook alone must let the process go."""
    code = f"""
        from core.analytics import Analytics, AnalyticsConfig
        analytics = Analytics(AnalyticsConfig({KEY!r}, {sink.url!r}), frontend="cli")
        for count in range(5):
            analytics.capture("reminder_shown", {{"count": count}})
    """
    baseline, proc = _run_script(code, {"DO_NOT_TRACK": "1"})
    assert proc.returncode == 0, proc.stderr
    sink.mode = "hang"
    elapsed, proc = _run_script(code, {})
    assert proc.returncode == 0 and proc.stderr == ""
    assert sink.requests  # it did try to send
    assert elapsed < baseline + 2.0 + 2.0  # the cap, plus generous slack for a busy machine
