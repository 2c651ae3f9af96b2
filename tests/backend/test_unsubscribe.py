"""The unsubscribe link: GET confirms, POST (button or RFC 8058 one-click) removes."""

from __future__ import annotations

from backend.security import unsubscribe_token
from tests.backend.conftest import TEST_SECRET
from tests.backend.test_notifications_api import auth, token  # noqa: F401 (fixture)


def _public_id(client, token_value):
    from sqlalchemy import select

    from backend.models import Subscriber

    with client.app.state.sessionmaker() as session:
        return session.scalars(select(Subscriber.public_id)).one()


def test_get_shows_a_confirmation_and_post_unsubscribes(client, token):  # noqa: F811
    link_token = unsubscribe_token(TEST_SECRET.encode(), _public_id(client, token))
    page = client.get("/unsubscribe", params={"token": link_token})
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'method="post"' in page.text
    # GET alone changes nothing (link scanners).
    assert client.get("/api/notifications", headers=auth(token)).status_code == 200
    done = client.post(
        "/unsubscribe",
        params={"token": link_token},
        data={"List-Unsubscribe": "One-Click"},
    )
    assert done.status_code == 200
    assert "Unsubscribed" in done.text
    assert client.get("/api/notifications", headers=auth(token)).status_code == 401
    assert client.post("/unsubscribe", params={"token": link_token}).status_code == 200
    assert "Already unsubscribed" in client.get("/unsubscribe", params={"token": link_token}).text


def test_forged_tokens_are_refused(client, token):  # noqa: F811
    public_id = _public_id(client, token)
    for forged in (
        "",
        "abc",
        public_id,
        public_id + ".AAAA",
        unsubscribe_token(b"other", public_id),
    ):
        assert client.post("/unsubscribe", params={"token": forged}).status_code in (404, 422)
    assert client.get("/api/notifications", headers=auth(token)).status_code == 200
