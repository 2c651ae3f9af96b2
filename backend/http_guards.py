"""ASGI middleware that hardens every response and every API request body.

* :class:`SecurityHeaders`: no page of ours may be framed (``X-Frame-Options:
  DENY``; the HTML pages also send a CSP with ``frame-ancestors 'none'``), no
  response is content-sniffed (``nosniff``) and no URL leaks through the
  ``Referer`` header (unsubscribe links carry a token).
* :class:`JsonBodiesOnly`: an API request with a body must say
  ``Content-Type: application/json`` (or ``+json``), else 415. A browser sends
  a cross-site POST with ``text/plain`` or no type without a CORS preflight;
  insisting on JSON makes such forged requests fail before any route runs.
  ``/unsubscribe`` is exempt: RFC 8058 one-click unsubscribes post a form.
"""

from __future__ import annotations

import email.message
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse

from backend.api import errors

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: For our own HTML pages (inline style only, forms post back to us).
HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", HTML_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_json_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JsonBodiesOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _BODY_METHODS
            and str(scope["path"]).startswith("/api/")
        ):
            headers = Headers(scope=scope)
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            if has_body and not is_json_type(headers.get("content-type")):
                response = JSONResponse(
                    errors.error_body(
                        "send the request body as JSON (Content-Type: application/json)"
                    ),
                    status_code=415,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
