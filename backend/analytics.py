"""Privacy-safe product analytics (PostHog), or nothing at all.

One ``Posthog`` client per process, made in the app's lifespan and shut down with
a bounded wait: the SDK's own ``shutdown()`` can block for a minute when its host
hangs, and stopping the service must not. Without ``POSTHOG_API_KEY`` there is no
client and every call is a no-op.

Events carry counts, flags, route templates and error *types* only. Never email
addresses, domain names, IPs, raw paths, tokens or exception messages (which may
echo user input): ``scrub_event`` enforces this on everything the SDK sends,
including the exceptions it captures by itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from backend.config import BackendSettings

log = logging.getLogger(__name__)

MAX_ID_CHARS = 200
#: Keys the SDK adds itself that are safe (no user input in them).
_SAFE_SDK_PREFIXES = ("$lib", "$python", "$os", "$process_person_profile", "$session_id")
_EXCEPTION_SAFE_KEYS = ("type", "mechanism", "module", "thread_id")
# No ``abs_path``: absolute paths name the server's user and layout.
_FRAME_SAFE_KEYS = (
    "filename",
    "function",
    "module",
    "lineno",
    "colno",
    "in_app",
    "platform",
    "lang",
    "resolved",
    "synthetic",
)


class Analytics(Protocol):
    def capture(self, event: str, properties: Mapping[str, Any] | None = None) -> None: ...

    @contextmanager
    def request_context(self, distinct_id: str | None, session_id: str | None) -> Iterator[None]:
        yield

    def shutdown(self) -> None: ...


class NullAnalytics:
    """Analytics switched off (no ``POSTHOG_API_KEY``)."""

    enabled = False

    def capture(self, event: str, properties: Mapping[str, Any] | None = None) -> None:
        return None

    @contextmanager
    def request_context(self, distinct_id: str | None, session_id: str | None) -> Iterator[None]:
        yield

    def shutdown(self) -> None:
        return None


def clean_id(value: str | None) -> str | None:
    """An ID header the desktop sent, if it looks like an opaque ID (else ignored)."""
    if not value or len(value) > MAX_ID_CHARS:
        return None
    if not all(c.isalnum() or c in "-_.:" for c in value) or "@" in value:
        return None
    return value


def _safe_frame(frame: dict[str, Any]) -> dict[str, Any]:
    safe = {k: frame[k] for k in _FRAME_SAFE_KEYS if k in frame}
    filename = safe.get("filename")
    if isinstance(filename, str) and (filename.startswith("/") or ":\\" in filename):
        safe["filename"] = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return safe


def scrub_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """``before_send`` hook: drop anything that could carry user input."""
    properties = event.get("properties") or {}
    if event.get("event") == "$exception":
        cleaned: dict[str, Any] = {
            k: v for k, v in properties.items() if k.startswith(_SAFE_SDK_PREFIXES)
        }
        exceptions = []
        for item in properties.get("$exception_list") or []:
            safe = {k: item[k] for k in _EXCEPTION_SAFE_KEYS if k in item}
            safe["value"] = ""  # the message may echo user input
            stack = item.get("stacktrace")
            if isinstance(stack, dict):
                frames = [_safe_frame(f) for f in stack.get("frames") or [] if isinstance(f, dict)]
                safe["stacktrace"] = {"type": stack.get("type", "raw"), "frames": frames}
            exceptions.append(safe)
        cleaned["$exception_list"] = exceptions
        if "$exception_fingerprint" in properties:
            cleaned["$exception_fingerprint"] = properties["$exception_fingerprint"]
        event["properties"] = cleaned
        return event
    event["properties"] = {
        k: v
        for k, v in properties.items()
        if not k.startswith("$") or k.startswith(_SAFE_SDK_PREFIXES)
    }
    return event


class PosthogAnalytics:
    """The real thing: wraps one ``posthog.Posthog`` client."""

    enabled = True

    def __init__(self, *, api_key: str, host: str, shutdown_seconds: float) -> None:
        from posthog import Posthog

        self.shutdown_seconds = shutdown_seconds
        self.client = Posthog(
            api_key,
            host=host,
            enable_exception_autocapture=True,
            disable_geoip=True,
            before_send=scrub_event,
            # Bounded per request too, so a dead host cannot pin the sender thread.
            timeout=max(1.0, shutdown_seconds),
            max_retries=1,
        )

    def capture(self, event: str, properties: Mapping[str, Any] | None = None) -> None:
        try:
            self.client.capture(event, properties=dict(properties or {}))
        except Exception:  # analytics must never break a request
            log.debug("analytics capture failed", exc_info=True)

    @contextmanager
    def request_context(self, distinct_id: str | None, session_id: str | None) -> Iterator[None]:
        with self.client.new_context(fresh=True):
            if distinct_id:
                self.client.identify_context(distinct_id)
            if session_id:
                self.client.set_context_session(session_id)
            yield

    def shutdown(self) -> None:
        """Flush and stop, giving up after ``shutdown_seconds`` (events then lost)."""

        def stop() -> None:
            try:
                self.client.flush(timeout_seconds=self.shutdown_seconds)
                self.client.shutdown()
            except Exception:
                log.debug("analytics shutdown failed", exc_info=True)

        thread = threading.Thread(target=stop, name="posthog-shutdown", daemon=True)
        thread.start()
        thread.join(self.shutdown_seconds + 0.5)
        if thread.is_alive():
            log.warning(
                "analytics did not flush within %.1f s; unsent events dropped",
                self.shutdown_seconds,
            )


def analytics_from_settings(settings: BackendSettings) -> Analytics:
    if not settings.posthog_api_key:
        return NullAnalytics()
    return PosthogAnalytics(
        api_key=settings.posthog_api_key,
        host=settings.posthog_host,
        shutdown_seconds=settings.posthog_shutdown_seconds,
    )
