"""Privacy-safe product analytics (PostHog) for the desktop app and the CLI, or nothing.

One :class:`Analytics` object per process wraps one ``posthog.Posthog`` client. It is
*off* (no client, no threads, no requests) when any of these holds:

* ``DO_NOT_TRACK=1`` or ``DOMAINCHECK_NO_ANALYTICS=1`` in the environment,
* the user opted out (``analytics.json`` in the config folder; :func:`save_opted_out`),
* there is no project key: neither ``POSTHOG_API_KEY`` nor a build-time key
  (:mod:`core.buildinfo`).

What is sent, and why it cannot carry personal data:

* Events and their properties come from an allow-list (:data:`EVENTS`): counts,
  durations, flags, enum-like names and versions. Anything else is dropped.
* The distinct ID is a random UUID per installation (:mod:`core.install_id`), passed
  explicitly with every event, so events from worker threads keep it (the SDK's
  contexts are per thread and would otherwise send a random, personless ID).
* ``before_send`` (:meth:`Analytics.scrub`) runs on *everything* the SDK sends,
  including exceptions it captures by itself from any thread: it re-applies the
  allow-list, cuts exception messages down to their type, drops ``abs_path``, source
  lines and local variables from stack frames, pins the distinct ID, and drops any
  value that looks like an email address, a file path, or contains one of the
  registered sensitive strings (:meth:`Analytics.add_sensitive`: the user's domains,
  file names and email; the OS user name, home folder and host name are added here).

Facts about posthog 7.x (7.91.1 read) that shape this module:

* ``Posthog.shutdown()`` has no time limit: it joins the sender thread, which may sit
  in ``timeout`` × (``max_retries`` + 1) plus backoff against a hanging host. So
  :meth:`Analytics.shutdown` runs it on a daemon thread and waits at most
  ``timeout_seconds``.
* The client registers its own ``atexit`` hook (a ~1 s best-effort flush). It is
  replaced by ours, which is bounded by the same deadline as an explicit shutdown.
* ``is_server=True`` is the default (adds ``$is_server``); a desktop app and a CLI
  are not servers, so ``is_server=False``.
* ``set()`` inside a ``new_context()`` copies the context tags onto the person: this
  module never opens contexts, and ``$set`` is filtered by :data:`PERSON_PROPERTIES`.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import getpass
import json
import logging
import os
import platform
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Final

from core import __version__, install_id, paths
from core._files import atomic_write_text
from core.buildinfo import baked
from core.models import Status

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://us.i.posthog.com"
#: Longest :meth:`Analytics.shutdown` (and so the process exit) waits for a flush.
SHUTDOWN_TIMEOUT_SECONDS = 2.0
#: Per upload request; the SDK default is 15 s with 3 retries.
REQUEST_TIMEOUT_SECONDS = 3.0
MAX_RETRIES = 1
PREFERENCES_FILE_NAME = "analytics.json"
FRONTENDS: Final = frozenset({"desktop", "cli"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
#: Registered sensitive strings shorter than this only match whole values (a
#: two-letter user name must not blank out every value containing those letters).
_MIN_SUBSTRING_CHARS = 3
_REDACTED = "<redacted>"


# --------------------------------------------------------------------------- allow-list


class Kind(enum.Enum):
    """What a property value may be."""

    #: A whole number >= 0 (not a bool).
    COUNT = enum.auto()
    #: A number >= 0, e.g. a duration in milliseconds.
    NUMBER = enum.auto()
    #: True or False.
    FLAG = enum.auto()
    #: A lower-case identifier (``rate_limited``, ``threshold_days``): no dots, so
    #: never a domain name.
    NAME = enum.auto()
    #: A version string starting with a digit (``6.11.0``).
    VERSION = enum.auto()


_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_VERSION_RE = re.compile(r"[0-9][0-9A-Za-z.+_-]{0,39}")


@dataclasses.dataclass(frozen=True, slots=True)
class Prop:
    """One allowed property: its kind and, for names, optionally the allowed values."""

    kind: Kind
    choices: frozenset[str] | None = None

    def accepts(self, value: object) -> bool:
        if self.kind is Kind.FLAG:
            return isinstance(value, bool)
        if self.kind in (Kind.COUNT, Kind.NUMBER):
            if isinstance(value, bool):
                return False
            if self.kind is Kind.COUNT:
                return isinstance(value, int) and value >= 0
            return isinstance(value, int | float) and 0 <= value < float("inf")  # no NaN
        if not isinstance(value, str):
            return False
        pattern = _NAME_RE if self.kind is Kind.NAME else _VERSION_RE
        if not pattern.fullmatch(value):
            return False
        return self.choices is None or value in self.choices


def _name(*choices: str) -> Prop:
    return Prop(Kind.NAME, frozenset(choices) if choices else None)


COUNT = Prop(Kind.COUNT)
NUMBER = Prop(Kind.NUMBER)
FLAG = Prop(Kind.FLAG)
VERSION = Prop(Kind.VERSION)
#: ``valid``, ``expiring``, ... : how many results had each status.
STATUS_COUNTS: Final[dict[str, Prop]] = {status.value: COUNT for status in Status}

#: Every event a front end may send, with the properties each may carry.
EVENTS: Final[Mapping[str, Mapping[str, Prop]]] = {
    "app_opened": {"frontend": _name(*FRONTENDS), "first_run": FLAG},
    "domains_imported": {
        "source": _name("drop", "paste", "file", "cli"),
        "count": COUNT,
        "rejected": COUNT,
    },
    "check_started": {"count": COUNT, "trigger": _name("manual", "scheduled", "startup")},
    "check_completed": {
        **STATUS_COUNTS,
        "total": COUNT,
        "duration_ms": NUMBER,
        "cancelled": FLAG,
        "trigger": _name("manual", "scheduled", "startup"),
    },
    "results_exported": {"format": _name("csv", "json", "txt"), "count": COUNT},
    "reminder_shown": {"count": COUNT},
    "signup_code_requested": {"operation": _name("register", "manage"), "resend": FLAG},
    "signup_completed": {"domain_count": COUNT, "threshold_days": COUNT},
    "signup_failed": {"reason": _name(), "step": _name("code", "register", "manage")},
    "settings_changed": {"setting": _name()},
    "cli_check_completed": {
        **STATUS_COUNTS,
        "total": COUNT,
        "rejected": COUNT,
        "duration_ms": NUMBER,
        "format": _name("table", "json", "csv"),
        "input": _name("args", "file", "stdin", "mixed"),
        "exit_code": COUNT,
        "tls": FLAG,
        "rdap": FLAG,
    },
    "cli_check_failed": {"reason": _name("usage", "input_file", "internal", "interrupted")},
}

#: What may be set on the person (``$set``), via :meth:`Analytics.set_person_properties`.
PERSON_PROPERTIES: Final[Mapping[str, Prop]] = {
    "app_version": VERSION,
    "python_version": VERSION,
    "qt_version": VERSION,
    "os": _name(),
    "os_version": VERSION,
    "frontend": _name(*FRONTENDS),
}

#: Properties the SDK adds by itself that carry nothing about the user.
_SDK_PROPERTIES = frozenset(
    {
        "$lib",
        "$lib_version",
        "$geoip_disable",
        "$python_runtime",
        "$python_version",
        "$os",
        "$os_version",
        "$os_distro",
        "$session_id",
    }
)
_EXCEPTION_LEVELS = frozenset({"fatal", "error", "warning", "info", "debug"})
_MECHANISM_KEYS = ("type", "handled", "source", "synthetic", "exception_id", "parent_id")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_<][A-Za-z0-9_.<>-]{0,199}")
_EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_WINDOWS_DRIVE_RE = re.compile(r"[A-Za-z]:")


def looks_like_path(text: str) -> bool:
    return (
        "/" in text or "\\" in text or text.startswith("~") or bool(_WINDOWS_DRIVE_RE.match(text))
    )


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL_RE.search(text))


# --------------------------------------------------------------------------- consent


class OffReason(enum.Enum):
    """Why analytics is off (the value is a sentence for people)."""

    #: ``DO_NOT_TRACK`` is set (https://consoledonottrack.com).
    DO_NOT_TRACK = "DO_NOT_TRACK is set"
    #: ``DOMAINCHECK_NO_ANALYTICS`` is set.
    NO_ANALYTICS_ENV = "DOMAINCHECK_NO_ANALYTICS is set"
    #: The user turned it off (preferences, ``domaincheck analytics off``).
    OPTED_OUT = "turned off in the preferences"
    #: No PostHog project key (a source checkout without ``POSTHOG_API_KEY``).
    NO_KEY = "no PostHog project key is configured"
    #: This run showed the first-run notice; statistics start with the next run.
    FIRST_RUN = "the first-run notice was just shown"
    #: :meth:`Analytics.shutdown` was called.
    SHUT_DOWN = "shut down"
    #: The PostHog SDK could not be loaded or started.
    UNAVAILABLE = "the PostHog library is not available"


@dataclasses.dataclass(frozen=True, slots=True)
class AnalyticsConfig:
    """Where events go: a project key and an ingestion host."""

    api_key: str
    host: str = DEFAULT_HOST

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> AnalyticsConfig | None:
        """``POSTHOG_API_KEY``/``POSTHOG_HOST``, else the build-time values, else ``None``."""
        env = os.environ if env is None else env
        key = env.get("POSTHOG_API_KEY", "").strip() or baked("POSTHOG_API_KEY")
        if not key:
            return None
        host = env.get("POSTHOG_HOST", "").strip() or baked("POSTHOG_HOST") or DEFAULT_HOST
        return cls(api_key=key, host=host)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE_WORDS


def env_off_reason(env: Mapping[str, str] | None = None) -> OffReason | None:
    """The environment's veto (``DO_NOT_TRACK``, ``DOMAINCHECK_NO_ANALYTICS``), if any."""
    env = os.environ if env is None else env
    if _is_true(env.get("DO_NOT_TRACK")):
        return OffReason.DO_NOT_TRACK
    if _is_true(env.get("DOMAINCHECK_NO_ANALYTICS")):
        return OffReason.NO_ANALYTICS_ENV
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class Preferences:
    """The persisted analytics choices, shared by the desktop and the CLI."""

    opted_out: bool = False
    #: Front ends (``cli``, ``desktop``) that have shown their first-run notice.
    notices_shown: frozenset[str] = frozenset()


def preferences_path() -> Path:
    return paths.config_dir() / PREFERENCES_FILE_NAME


def read_preferences() -> Preferences:
    """The saved preferences (defaults when missing or unreadable)."""
    try:
        data = json.loads(preferences_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Preferences()
    if not isinstance(data, dict):
        return Preferences()
    shown = data.get("notices_shown")
    return Preferences(
        opted_out=data.get("opted_out") is True,
        notices_shown=frozenset(s for s in shown if isinstance(s, str))
        if isinstance(shown, list)
        else frozenset(),
    )


def _write_preferences(preferences: Preferences) -> None:
    text = json.dumps(
        {
            "opted_out": preferences.opted_out,
            "notices_shown": sorted(preferences.notices_shown),
        },
        indent=2,
    )
    try:
        atomic_write_text(preferences_path(), text + "\n", mode=0o644)
    except OSError:
        log.warning("could not save the analytics preference to %s", preferences_path())


def save_opted_out(opted_out: bool) -> None:
    """Persist the user's choice (applies to every front end from their next start)."""
    _write_preferences(dataclasses.replace(read_preferences(), opted_out=opted_out))


def notice_shown(frontend: str) -> bool:
    return frontend in read_preferences().notices_shown


def mark_notice_shown(frontend: str) -> None:
    current = read_preferences()
    _write_preferences(
        dataclasses.replace(current, notices_shown=current.notices_shown | {frontend})
    )


def off_reason(
    env: Mapping[str, str] | None = None, config: AnalyticsConfig | None = None
) -> OffReason | None:
    """Why analytics would be off right now, or ``None`` if it would be on.

    ``config`` defaults to :meth:`AnalyticsConfig.from_environment` of ``env``.
    """
    env = os.environ if env is None else env
    if (reason := env_off_reason(env)) is not None:
        return reason
    if read_preferences().opted_out:
        return OffReason.OPTED_OUT
    if (config or AnalyticsConfig.from_environment(env)) is None:
        return OffReason.NO_KEY
    return None


# --------------------------------------------------------------------------- the client


def _os_identity() -> list[str]:
    """Strings that identify this machine's user: never allowed in a payload."""
    found: list[str] = []
    for getter in (getpass.getuser, lambda: str(Path.home()), socket.gethostname):
        try:
            found.append(getter())
        except Exception:  # getuser raises OSError/KeyError without a passwd entry
            continue
    return found


def _quiet_sdk_logging() -> None:
    """The SDK logs failed uploads at ERROR: nobody running the CLI needs to see that.

    ``DOMAINCHECK_DEBUG=1`` keeps the SDK's messages.
    """
    if not os.environ.get("DOMAINCHECK_DEBUG"):
        logging.getLogger("posthog").setLevel(logging.CRITICAL)


class Analytics:
    """Product analytics for one process (thread-safe); every method is a no-op when off.

    Make it with :meth:`create` (reads the environment, the preferences and the
    analytics ID); tests and special cases use the constructor. ``shutdown`` before
    the process exits; it is also registered with ``atexit`` (bounded the same way).
    """

    def __init__(
        self,
        config: AnalyticsConfig | None,
        *,
        frontend: str = "cli",
        distinct_id: str | None = None,
        session_id: str | None = None,
        reason: OffReason | None = None,
        request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        if frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {sorted(FRONTENDS)}")
        self.frontend = frontend
        #: One per run: ``X-POSTHOG-SESSION-ID`` and ``$session_id`` on every event.
        self.session_id = session_id or str(uuid.uuid4())
        self._config = config
        self._request_timeout_seconds = request_timeout_seconds
        self._max_retries = max_retries
        self._lock = threading.RLock()
        self._sensitive: frozenset[str] = frozenset()
        self.add_sensitive(_os_identity())
        self._client: Any = None
        self._distinct_id = distinct_id
        self._reason = reason
        self._stoppers: list[threading.Thread] = []
        self._shutdown_deadline: float | None = None
        if reason is None:
            if config is None:
                self._reason = OffReason.NO_KEY
            else:
                self._start(config)

    @classmethod
    def create(
        cls, frontend: str, *, env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Analytics:
        """Analytics as the environment, the preferences and the build allow (maybe off)."""
        env = os.environ if env is None else env
        config = AnalyticsConfig.from_environment(env)
        return cls(config, frontend=frontend, reason=off_reason(env, config), **kwargs)

    @classmethod
    def disabled(cls, frontend: str = "cli", reason: OffReason = OffReason.NO_KEY) -> Analytics:
        return cls(None, frontend=frontend, reason=reason)

    # ----------------------------------------------------------------- state

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @property
    def reason(self) -> OffReason | None:
        """Why it is off (``None`` while on)."""
        return None if self.enabled else self._reason

    @property
    def distinct_id(self) -> str | None:
        """The installation's analytics ID while on; ``None`` while off."""
        return self._distinct_id if self.enabled else None

    def correlation_ids(self) -> tuple[str | None, str | None]:
        """``(distinct_id, session_id)`` for the backend's ``X-POSTHOG-*`` headers.

        ``(None, None)`` while off, so nothing links backend requests to a person.
        """
        if not self.enabled:
            return (None, None)
        return (self._distinct_id, self.session_id)

    def set_opted_out(self, opted_out: bool) -> None:
        """The preference toggle: persist it and apply it to this process now.

        Opting out returns at once: nothing new is captured, and the sender stops on
        a daemon thread after handing over what was captured before the change.
        Opting back in starts it again unless the environment or a missing key
        keeps it off.
        """
        save_opted_out(opted_out)
        with self._lock:
            if opted_out:
                self._reason = OffReason.OPTED_OUT
                self._stop_client()
            elif not self.enabled and self._shutdown_deadline is None:  # not once shut down
                reason = env_off_reason() or (None if self._config else OffReason.NO_KEY)
                self._reason = reason
                if reason is None and self._config is not None:
                    self._start(self._config)

    def reset_id(self) -> str:
        """ "Reset analytics ID": a fresh random ID, used from the next event on."""
        new_id = install_id.reset()
        with self._lock:
            if self._distinct_id is not None:
                self._distinct_id = new_id
        return new_id

    def add_sensitive(self, values: Iterable[str]) -> None:
        """Never send a value containing any of ``values`` (domains, file names, email)."""
        cleaned = {
            text
            for value in values
            if isinstance(value, str) and (text := value.strip().rstrip(".").lower())
        }
        if not cleaned:
            return
        with self._lock:
            self._sensitive = self._sensitive | cleaned

    # ----------------------------------------------------------------- sending

    def capture(self, event: str, properties: Mapping[str, object] | None = None) -> None:
        """Send ``event`` with its allowed ``properties`` (others are dropped)."""
        client = self._client
        if client is None:
            return
        spec = EVENTS.get(event)
        if spec is None:
            log.warning("analytics event %r is not in the allow-list; dropped", event)
            return
        cleaned = self._clean_properties(spec, properties or {})
        cleaned["$session_id"] = self.session_id
        try:
            client.capture(event, distinct_id=self._distinct_id, properties=cleaned)
        except Exception:  # analytics never breaks the app
            log.debug("analytics capture failed", exc_info=True)

    def capture_exception(self, exc: BaseException) -> None:
        """Report a handled exception (type and code location only, see :meth:`scrub`)."""
        client = self._client
        if client is None:
            return
        try:
            client.capture_exception(exc, distinct_id=self._distinct_id)
        except Exception:
            log.debug("analytics exception capture failed", exc_info=True)

    def set_person_properties(
        self, *, app_version: str = __version__, qt_version: str | None = None
    ) -> None:
        """App version, OS, Python (and Qt, from the desktop) on the person profile."""
        client = self._client
        if client is None:
            return
        properties: dict[str, object] = {
            "app_version": app_version,
            "python_version": platform.python_version(),
            "os": (platform.system() or sys.platform).lower(),
            "os_version": platform.release(),
            "frontend": self.frontend,
        }
        if qt_version is not None:
            properties["qt_version"] = qt_version
        cleaned = self._clean_properties(PERSON_PROPERTIES, properties)
        try:
            client.set(distinct_id=self._distinct_id, properties=cleaned)
        except Exception:
            log.debug("analytics set failed", exc_info=True)

    # ----------------------------------------------------------------- shutdown

    def begin_shutdown(self, timeout_seconds: float = SHUTDOWN_TIMEOUT_SECONDS) -> None:
        """Start flushing on a daemon thread and return at once (the window's close).

        The hard cap for :meth:`wait_for_shutdown` (and ``atexit``) starts now.
        """
        with self._lock:
            if self._shutdown_deadline is None:
                self._shutdown_deadline = time.monotonic() + max(0.0, timeout_seconds)
            if self.enabled:
                self._reason = OffReason.SHUT_DOWN
            self._stop_client()

    def wait_for_shutdown(self) -> bool:
        """Wait until the flush ends or the deadline set by ``begin_shutdown`` passes.

        Returns True when everything was handed over in time (False: events lost).
        """
        with self._lock:
            deadline = self._shutdown_deadline
            stoppers = list(self._stoppers)
        for thread in stoppers:
            remaining = 0.0 if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        finished = not any(thread.is_alive() for thread in stoppers)
        if not finished:
            log.debug("analytics did not flush in time; unsent events dropped")
        return finished

    def shutdown(self, timeout_seconds: float = SHUTDOWN_TIMEOUT_SECONDS) -> bool:
        """Flush and stop, returning within ``timeout_seconds`` whatever the host does."""
        self.begin_shutdown(timeout_seconds)
        finished = self.wait_for_shutdown()
        atexit.unregister(self._at_exit)
        return finished

    def _at_exit(self) -> None:
        self.shutdown(SHUTDOWN_TIMEOUT_SECONDS)

    # ----------------------------------------------------------------- internals

    def _start(self, config: AnalyticsConfig) -> None:
        try:
            from posthog import Posthog
        except ImportError:  # pragma: no cover - posthog is a dependency
            self._reason = OffReason.UNAVAILABLE
            return
        if self._distinct_id is None:
            self._distinct_id = install_id.load_or_create()
        try:
            client = Posthog(
                config.api_key,
                host=config.host,
                enable_exception_autocapture=True,
                is_server=False,
                disable_geoip=True,
                gzip=True,
                timeout=self._request_timeout_seconds,
                max_retries=self._max_retries,
                before_send=self.scrub,
            )
        except Exception:
            log.debug("analytics client did not start", exc_info=True)
            self._reason = OffReason.UNAVAILABLE
            return
        _quiet_sdk_logging()  # after the constructor, which resets the level to WARNING
        # Its own exit hook is bounded (~1 s) but would run after ours; one is enough.
        sdk_exit_hook = getattr(client, "_atexit", None)
        if sdk_exit_hook is not None:
            atexit.unregister(sdk_exit_hook)
        atexit.register(self._at_exit)
        self._client = client
        self._reason = None

    def _stop_client(self) -> None:
        """Detach the client and shut it down on a daemon thread (caller holds the lock).

        ``Posthog.shutdown()`` joins the sender, which may hang for a minute on a dead
        host; the daemon thread lets the process exit regardless.
        """
        client, self._client = self._client, None
        if client is None:
            return

        def stop() -> None:
            try:
                client.shutdown()
            except Exception:
                log.debug("analytics shutdown failed", exc_info=True)

        thread = threading.Thread(target=stop, name="analytics-shutdown", daemon=True)
        thread.start()
        self._stoppers.append(thread)

    def _looks_private(self, text: str) -> bool:
        if looks_like_email(text) or looks_like_path(text):
            return True
        lowered = text.strip().rstrip(".").lower()
        for secret in self._sensitive:
            if lowered == secret or (len(secret) >= _MIN_SUBSTRING_CHARS and secret in lowered):
                return True
        return False

    def _clean_properties(
        self, spec: Mapping[str, Prop], properties: Mapping[str, object]
    ) -> dict[str, object]:
        cleaned: dict[str, object] = {}
        for name, value in properties.items():
            prop = spec.get(name)
            if prop is None or not prop.accepts(value):
                continue
            if isinstance(value, str) and self._looks_private(value):
                continue
            cleaned[name] = value
        return cleaned

    def _safe_text(self, value: object, pattern: re.Pattern[str] = _IDENTIFIER_RE) -> str | None:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return None
        return _REDACTED if self._looks_private(value) else value

    def _safe_scalar(self, value: object) -> bool:
        if isinstance(value, bool | int):
            return True
        return self._safe_text(value) not in (None, _REDACTED)

    def _safe_filename(self, value: object) -> str | None:
        """A module-relative file name (``core/cli.py``); absolute paths lose their folders."""
        if not isinstance(value, str) or not value:
            return None
        if value.startswith(("/", "~", "\\")) or _WINDOWS_DRIVE_RE.match(value):
            value = PureWindowsPath(value).name if "\\" in value else PurePosixPath(value).name
        lowered = value.lower()
        if looks_like_email(value) or any(
            secret in lowered for secret in self._sensitive if len(secret) >= _MIN_SUBSTRING_CHARS
        ):
            return _REDACTED
        return value

    def _scrub_frame(self, frame: Mapping[str, Any]) -> dict[str, Any]:
        safe: dict[str, Any] = {"platform": "python"}
        if (filename := self._safe_filename(frame.get("filename"))) is not None:
            safe["filename"] = filename
        for key in ("function", "module"):
            if (text := self._safe_text(frame.get(key))) is not None:
                safe[key] = text
        for key in ("lineno", "colno"):
            if isinstance(frame.get(key), int) and not isinstance(frame.get(key), bool):
                safe[key] = frame[key]
        for key in ("in_app", "synthetic"):
            if isinstance(frame.get(key), bool):
                safe[key] = frame[key]
        return safe

    def _scrub_exception(self, item: Mapping[str, Any]) -> dict[str, Any]:
        type_name = self._safe_text(item.get("type")) or "Exception"
        # The message may echo user input (a domain, a path): keep only the type.
        safe: dict[str, Any] = {"type": type_name, "value": type_name}
        if (module := self._safe_text(item.get("module"))) is not None:
            safe["module"] = module
        mechanism = item.get("mechanism")
        if isinstance(mechanism, Mapping):
            safe["mechanism"] = {
                key: mechanism[key]
                for key in _MECHANISM_KEYS
                if self._safe_scalar(mechanism.get(key))
            }
        stack = item.get("stacktrace")
        if isinstance(stack, Mapping):
            frames = stack.get("frames")
            safe["stacktrace"] = {
                "type": "raw",
                "frames": [
                    self._scrub_frame(frame)
                    for frame in (frames if isinstance(frames, list) else [])
                    if isinstance(frame, Mapping)
                ],
            }
        return safe

    def scrub(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The SDK's ``before_send``: return a privacy-safe copy, or ``None`` to drop.

        Anything this cannot vouch for is dropped, including when it fails itself.
        """
        try:
            return self._scrub(message)
        except Exception:
            return None

    def _scrub(self, message: Mapping[str, Any]) -> dict[str, Any] | None:
        event = message.get("event")
        raw = message.get("properties")
        properties: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        cleaned: dict[str, Any] = {
            key: value
            for key, value in properties.items()
            if key in _SDK_PROPERTIES
            and isinstance(value, str | int | float | bool)
            and not (isinstance(value, str) and self._looks_private(value))
        }
        out: dict[str, Any] = {"event": event}
        if event == "$set":
            person = message.get("$set")
            person_cleaned = self._clean_properties(
                PERSON_PROPERTIES, person if isinstance(person, Mapping) else {}
            )
            if not person_cleaned:
                return None
            out["$set"] = person_cleaned
        elif event == "$exception":
            items = properties.get("$exception_list")
            cleaned["$exception_list"] = [
                self._scrub_exception(item)
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, Mapping)
            ]
            if properties.get("$exception_level") in _EXCEPTION_LEVELS:
                cleaned["$exception_level"] = properties["$exception_level"]
            source = self._safe_text(properties.get("$exception_source"))
            if source not in (None, _REDACTED):
                cleaned["$exception_source"] = source
            cleaned.setdefault("$session_id", self.session_id)
        elif isinstance(event, str) and event in EVENTS:
            cleaned.update(self._clean_properties(EVENTS[event], properties))
        else:
            return None
        # Exceptions autocaptured on another thread come with a random, personless ID.
        out["distinct_id"] = self._distinct_id or message.get("distinct_id")
        out["properties"] = cleaned
        for key in ("timestamp", "uuid"):
            if key in message:
                out[key] = message[key]
        return out
