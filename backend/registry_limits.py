"""Per-registry RDAP limits that hold across every worker process (PostgreSQL).

Each RDAP server (by ``host:port``) has ``RDAP_PER_SERVER_LIMIT`` slots. A slot is
a PostgreSQL session-level advisory lock, ``(crc32 of the server, slot number)``,
held on a pooled connection for the length of one request. A worker that finds
every slot taken waits a little (with jitter, up to half a second) and tries
again. Why advisory locks: they need no table and no cleanup, and a worker that
dies (even SIGKILL) loses its connection and with it its slots at once, so a crash
can never leak a slot. Within one process the RDAP client's own semaphore comes
first, so waiting workers do not hammer the database.

WHOIS servers get the same, with one slot each and keys of their own
(:data:`WHOIS_KEY_SPACE`): the WHOIS client holds the slot for one query, its
"limit exceeded" backoff and the server's pace after the answer, so the etiquette
of :mod:`core.whois_gate` (one query in flight, a pace, a backoff) holds across
every worker process, not only within one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import zlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg_pool
from sqlalchemy.engine import make_url

from core.errors import RdapServerError

#: Second half of every slot's lock key, so our keys stay apart from other users'.
_KEY_SPACE = 0x52440000
#: The same for WHOIS servers' turns (:data:`WHOIS_KEY_SPACE` + slot), apart from RDAP's.
WHOIS_KEY_SPACE = 0x57480000
FIRST_WAIT_SECONDS = 0.02
MAX_WAIT_SECONDS = 0.5
#: Longest wait for a free pooled connection before the lookup is given up.
POOL_TIMEOUT_SECONDS = 60.0


def libpq_conninfo(database_url: str) -> str:
    """A libpq URI (``postgresql://…``) for a SQLAlchemy PostgreSQL URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def server_lock_key(server: str) -> int:
    """The first half of a server's lock keys: a signed 32-bit hash of its name."""
    value = zlib.crc32(server.lower().encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class SharedServerSlots:
    """``async with slots("rdap.example:443"):`` holds one of that server's slots.

    Pass it to :class:`core.rdap.RdapClient` as ``server_gate``. Open with
    :meth:`open` (or ``async with``), close with :meth:`close`. With ``limit=1`` and
    ``key_space=WHOIS_KEY_SPACE`` it is the WHOIS clients' ``server_gate``: one query
    (and its pace) at a time per WHOIS server across every worker process.
    """

    def __init__(
        self,
        database_url: str,
        *,
        limit: int,
        pool_size: int = 10,
        key_space: int = _KEY_SPACE,
        what: str = "RDAP",
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._key_space = key_space
        self._what = what
        self._pool = psycopg_pool.AsyncConnectionPool(
            libpq_conninfo(database_url),
            min_size=0,
            max_size=pool_size,
            open=False,
            timeout=POOL_TIMEOUT_SECONDS,
            kwargs={"autocommit": True},
        )

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> SharedServerSlots:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def __call__(self, server: str) -> AsyncIterator[None]:
        key = server_lock_key(server)
        wait = FIRST_WAIT_SECONDS
        while True:
            try:
                connection = await self._pool.getconn()
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                raise RdapServerError(
                    f"the shared {self._what} limit is unavailable ({type(exc).__name__})"
                ) from exc
            try:
                slot = await self._take(connection, key)
                if slot is not None:
                    try:
                        yield
                    finally:
                        await connection.execute(
                            "SELECT pg_advisory_unlock(%s, %s)", (key, self._key_space + slot)
                        )
                    return
            finally:
                await self._pool.putconn(connection)
            await asyncio.sleep(wait * random.uniform(0.5, 1.5))
            wait = min(wait * 2, MAX_WAIT_SECONDS)

    async def _take(self, connection: psycopg.AsyncConnection[Any], key: int) -> int | None:
        """Try each slot once, starting at a random one; the slot taken, or ``None``."""
        start = random.randrange(self.limit)
        try:
            for offset in range(self.limit):
                slot = (start + offset) % self.limit
                cursor = await connection.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (key, self._key_space + slot)
                )
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    return slot
        except psycopg.Error as exc:
            raise RdapServerError(
                f"the shared {self._what} limit is unavailable ({type(exc).__name__})"
            ) from exc
        return None


@contextlib.asynccontextmanager
async def shared_registry_gates(
    database_url: str, *, rdap_limit: int
) -> AsyncIterator[tuple[SharedServerSlots, SharedServerSlots]]:
    """The RDAP slots (``rdap_limit`` per server) and WHOIS turns (one per server) that
    every process on this PostgreSQL database shares, open for the block."""
    rdap = SharedServerSlots(database_url, limit=rdap_limit)
    whois = SharedServerSlots(database_url, limit=1, key_space=WHOIS_KEY_SPACE, what="WHOIS")
    await rdap.open()
    try:
        await whois.open()
        try:
            yield rdap, whois
        finally:
            await whois.close()
    finally:
        await rdap.close()
