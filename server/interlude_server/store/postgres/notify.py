"""Wake-ups for processes that follow the event log of a shared PostgreSQL database.

Every transaction that appends events sends `NOTIFY interlude_events, '<seq>'`
before it commits (store.postgres.writer). PostgreSQL delivers it to listeners only once
the transaction has committed, and in commit order. A notification is a hint
to read the log now, never the data: notifications are not durable (one sent
while a listener was reconnecting is lost), so a follower reads the log table
after every wake-up and also after (re)connecting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
import structlog

from interlude_server.core.text import is_decimal
from interlude_server.store.postgres.conn import APPLICATION_NAME
from interlude_server.store.postgres.writer import EVENTS_CHANNEL

_log = structlog.get_logger("interlude_server.store")

RECONNECT_DELAY_S = 1.0


async def listen_for_events(
    dsn: str,
    wake: Callable[[int], None],
    *,
    connected: Callable[[], None] | None = None,
    reconnect_delay: float = RECONNECT_DELAY_S,
) -> None:
    """Call `wake(seq)` on the event loop for every commit that appended events, until cancelled.

    `seq` is the newest sequence of that commit (0 when the payload is not a
    number). `connected()` is called each time LISTEN is in place, first and after
    every reconnect: the moment to catch up by reading the log table."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, application_name=f"{APPLICATION_NAME}:listener"
            )
        except psycopg.OperationalError as exc:
            _log.warning("store.listen_failed", error=str(exc).strip())
            await asyncio.sleep(reconnect_delay)
            continue
        try:
            await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
            if connected is not None:
                connected()
            async for note in conn.notifies():
                wake(int(note.payload) if is_decimal(note.payload) else 0)
        except psycopg.OperationalError as exc:
            _log.warning("store.listen_lost", error=str(exc).strip())
            await asyncio.sleep(reconnect_delay)
        finally:
            with contextlib.suppress(psycopg.Error):
                await conn.close()
