"""``/unsubscribe?token=…``: the link in every reminder, and RFC 8058 one-click.

``GET`` only shows a confirmation page (mail scanners follow links; they must not
unsubscribe anyone); ``POST`` (the page's button, or the mail client's one-click
``List-Unsubscribe-Post``) deletes the subscriber.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse

from backend import crud
from backend.api.deps import SessionDep, SettingsDep
from backend.email import render_template
from backend.security import parse_unsubscribe_token

router = APIRouter(tags=["unsubscribe"])

TokenQuery = Annotated[str, Query(max_length=200, description="Token from the email's link")]


def _page(title: str, message: str, *, form: str = "", status_code: int = 200) -> HTMLResponse:
    body = render_template(
        "unsubscribe.html", title=html.escape(title), message=html.escape(message), form=form
    )
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


_INVALID = (
    "Link not valid",
    "This unsubscribe link is not valid. Copy the whole link from the email.",
)


@router.get("/unsubscribe", response_class=HTMLResponse)
def confirm_unsubscribe(
    token: TokenQuery, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    public_id = parse_unsubscribe_token(settings.otp_secret_bytes, token)
    if public_id is None:
        return _page(*_INVALID, status_code=status.HTTP_404_NOT_FOUND)
    if crud.get_subscriber_by_public_id(session, public_id=public_id) is None:
        return _page("Already unsubscribed", "This address gets no more reminders.")
    form = (
        f'<form method="post" action="?token={html.escape(quote(token, safe=""))}">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page(
        "Stop expiry reminders?",
        "Domain Check will stop emailing this address and delete its watched domains.",
        form=form,
    )


@router.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe(token: TokenQuery, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    public_id = parse_unsubscribe_token(settings.otp_secret_bytes, token)
    if public_id is None:
        return _page(*_INVALID, status_code=status.HTTP_404_NOT_FOUND)
    subscriber = crud.get_subscriber_by_public_id(session, public_id=public_id)
    if subscriber is not None:
        crud.delete_subscriber(session, subscriber=subscriber)
        session.commit()
    return _page("Unsubscribed", "This address gets no more reminders, and its data is deleted.")
