"""LISTEN for a PostgreSQL channel, reconnecting when the connection is lost.

Two channels are listened to by processes sharing one database:
- `EVENTS_CHANNEL`: every transaction that appends events sends
  `NOTIFY interlude_events, '<seq>'` before it commits (store.postgres.writer);
  `listen_for_events` turns it into wake-ups for log followers;
- `interlude_cache`: read-cache invalidations (store.postgres.invalidations).

PostgreSQL delivers a notification to listeners only once the transaction has committed,
and in commit order. A notification is a hint, never the data: notifications are not
durable (one sent while a listener was reconnecting is lost), so a listener acts again on
every (re)connect (`connected`), e.g. a follower reads the log table then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
import structlog

from interlude_server.core.text import is_decimal
from interlude_server.store.postgres.conn import APPLICATION_NAME

_log = structlog.get_logger("interlude_server.store")

EVENTS_CHANNEL = "interlude_events"
RECONNECT_DELAY_S = 1.0


async def listen(
    dsn: str,
    channel: str,
    role: str,
    on_note: Callable[[psycopg.Notify], None],
    *,
    connected: Callable[[], None] | None = None,
    lost: Callable[[], None] | None = None,
    reconnect_delay: Callable[[], float] = lambda: RECONNECT_DELAY_S,
) -> None:
    """Call `on_note` on the event loop for every notification on `channel`, until cancelled.

    The connection's application name ends in `:<role>`. `connected()` is called each time
    LISTEN is in place (first and after every reconnect), `lost()` each time the connection
    it was in place on ends; between the two, connecting is retried every
    `reconnect_delay()` seconds."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, application_name=f"{APPLICATION_NAME}:{role}"
            )
        except psycopg.OperationalError as exc:
            _log.warning("store.listen_failed", channel=channel, error=str(exc).strip())
            await asyncio.sleep(reconnect_delay())
            continue
        listening = False
        try:
            await conn.execute(f"LISTEN {channel}")
            listening = True
            if connected is not None:
                connected()
            async for note in conn.notifies():
                on_note(note)
        except psycopg.OperationalError as exc:
            _log.warning("store.listen_lost", channel=channel, error=str(exc).strip())
        finally:
            if listening and lost is not None:
                lost()
            with contextlib.suppress(psycopg.Error):
                await conn.close()
        await asyncio.sleep(reconnect_delay())


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

    def on_note(note: psycopg.Notify) -> None:
        wake(int(note.payload) if is_decimal(note.payload) else 0)

    await listen(
        dsn, EVENTS_CHANNEL, "listener", on_note, connected=connected, reconnect_delay=lambda: reconnect_delay
    )
