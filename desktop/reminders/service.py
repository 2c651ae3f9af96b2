"""The reminders dialog's door to the outside world: backend clients and the token store.

Kept apart from every widget so tests (and the app) inject the client factory and
the token store, and so nothing with a network socket hides in a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core.api import BackendClient
from core.secrets import TokenStore

T = TypeVar("T")


class ReminderService:
    """What the dialog needs from the outside world: backend clients and the token store.

    ``client_factory`` makes one ``BackendClient`` per call (tests inject one with a
    transport); by default it uses ``backend_url`` (the preference; ``None`` falls back
    to ``DOMAINCHECK_BACKEND_URL``, then the build's default) and the analytics IDs.
    """

    def __init__(
        self,
        *,
        token_store: TokenStore | None = None,
        backend_url: str | None = None,
        correlation_ids: Callable[[], tuple[str | None, str | None]] = lambda: (None, None),
        client_factory: Callable[[], BackendClient] | None = None,
    ) -> None:
        self.token_store = token_store if token_store is not None else TokenStore()
        self.backend_url = backend_url or None
        self._correlation_ids = correlation_ids
        self._client_factory = client_factory

    def client(self) -> BackendClient:
        if self._client_factory is not None:
            return self._client_factory()
        distinct_id, session_id = self._correlation_ids()
        return BackendClient(self.backend_url, distinct_id=distinct_id, session_id=session_id)

    def call(self, action: Callable[[BackendClient], T]) -> T:
        """Run ``action`` with a fresh client (blocking: call it off the GUI thread)."""
        with self.client() as client:
            return action(client)
