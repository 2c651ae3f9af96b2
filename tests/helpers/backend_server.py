"""The real backend on loopback for end-to-end tests: uvicorn in a thread, a real SMTP server.

    with SmtpInbox() as inbox:                       # aiosmtpd on 127.0.0.1
        app = create_app(make_settings(url, **inbox.backend_settings()), analytics=...)
        with serve(app) as base_url:                 # uvicorn on a free loopback port
            ...
            inbox.wait_for(1)
            code = inbox.code(-1)                    # the 6-digit code of the last mail

Shared by ``tests/core/test_api.py``, ``tests/backend/test_e2e.py`` and the desktop's
sign-up tests.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller

_CODE_LINE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RecordingAnalytics:
    """Stands in for the backend's analytics: records the IDs each request carried."""

    enabled = True

    def __init__(self) -> None:
        self.contexts: list[tuple[str | None, str | None]] = []

    def capture(self, event: str, properties: Any = None) -> None:
        pass

    @contextmanager
    def request_context(self, distinct_id: str | None, session_id: str | None) -> Iterator[None]:
        self.contexts.append((distinct_id, session_id))
        yield

    def shutdown(self) -> None:
        pass


class SmtpInbox:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.changed = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port())

    # aiosmtpd handler hook
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        with self.changed:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.changed.notify_all()
        return "250 OK"

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    def backend_settings(self) -> dict[str, Any]:
        """``BackendSettings`` overrides that send mail here."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_tls": "none"}

    def body(self, index: int) -> str:
        part = self.messages[index].get_body(("plain",))
        assert part is not None
        content: str = part.get_content()
        return content

    def code(self, index: int = -1) -> str:
        match = _CODE_LINE.search(self.body(index))
        assert match, "no code in the email"
        return match.group(1)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"{len(self.messages)} mails arrived, expected {count}")

    def start(self) -> Self:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serve(
    app: Any,
    startup_timeout: float = 15.0,
    *,
    log_level: str = "warning",
    settings: Any = None,
) -> Iterator[str]:
    """Run an ASGI ``app`` with uvicorn on a free loopback port; yields its base URL.

    With ``settings`` (``BackendSettings``) uvicorn is configured as ``serve`` does
    it (connection cap, request timeout: ``backend.server.uvicorn_config``).
    """
    import uvicorn

    port = free_port()
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "log_level": log_level,
        "lifespan": "on",
    }
    if settings is not None:
        from backend.server import uvicorn_config

        config = uvicorn_config(app, settings, **options)
    else:
        config = uvicorn.Config(app, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="backend", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "backend did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
