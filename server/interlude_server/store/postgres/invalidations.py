"""Read-cache invalidations between processes sharing a PostgreSQL database.

Replicas on one database (`--shared-store`) each keep a read cache (store.sql.cache) of
services and of the catalog. A write another replica commits must drop what it wrote from
every cache. The database says so itself: statement triggers on `services`,
`specifications` and `policies` (installed at start by every server, `install`) send
`NOTIFY interlude_cache` with what the statement wrote, so every writer is covered: a
replica of an older release during a rolling upgrade, a maintenance script, psql.

- payload: a JSON array of `[buyer_id, service_id]` for the services one statement
  inserted, updated or deleted; `services` when they are more than `MAX_KEYS` (or TRUNCATE):
  every cached service is dropped; `catalog` for any write of a specification or policy:
  the catalog cache is emptied, as the store does for its own catalog writes;
- PostgreSQL delivers a notification only after its transaction committed, in commit order,
  never for one rolled back; a listener receives each one sent while it listens;
- a notification sent while a listener was not listening is lost: the cache serves only
  while its listener's LISTEN is in place (`CacheInvalidations.listening`) and is emptied
  each time it is (re)established.

So a cached body is dropped at most one notification's delivery after another replica's
commit (README, "Read cache"): a read on this replica in that interval may still return the
version before it. The process's own commits are dropped before their writers hear back
(store.sql.store), and their notifications, which name the writer connection's backend,
are skipped.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

import psycopg
import structlog

from interlude_server.store.postgres.conn import PgConn
from interlude_server.store.postgres.notify import RECONNECT_DELAY_S, listen
from interlude_server.store.sql.cache import Key, ServiceBodies

_log = structlog.get_logger("interlude_server.store")

CACHE_CHANNEL = "interlude_cache"
MAX_KEYS = 100  # services named in one notification; more: "services" (drop them all)
ALL_SERVICES, CATALOG = "services", "catalog"

# The lock `install` takes (store.postgres.schema holds the migration lock's).
_INSTALL_LOCK_KEY = 7597137600480834917
_FUNCTIONS = (
    f"""CREATE OR REPLACE FUNCTION interlude_cache_services() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    DECLARE
        n integer;
        payload text;
    BEGIN
        SELECT count(*), json_agg(json_build_array(buyer_id, id))::text INTO n, payload
            FROM (SELECT buyer_id, id FROM written LIMIT {MAX_KEYS + 1}) AS named;
        IF n = 0 THEN
            RETURN NULL;
        END IF;
        IF n > {MAX_KEYS} OR octet_length(payload) > 7900 THEN
            payload := '{ALL_SERVICES}';
        END IF;
        PERFORM pg_notify('{CACHE_CHANNEL}', payload);
        RETURN NULL;
    END
    $fn$""",
    f"""CREATE OR REPLACE FUNCTION interlude_cache_cleared() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM pg_notify('{CACHE_CHANNEL}', TG_ARGV[0]);
        RETURN NULL;
    END
    $fn$""",
)
# (table, trigger, what follows `CREATE TRIGGER <trigger>`)
_TRIGGERS = (
    (
        "services",
        "interlude_cache_inserted",
        "AFTER INSERT ON services REFERENCING NEW TABLE AS written"
        " FOR EACH STATEMENT EXECUTE FUNCTION interlude_cache_services()",
    ),
    (
        "services",
        "interlude_cache_updated",
        "AFTER UPDATE ON services REFERENCING NEW TABLE AS written"
        " FOR EACH STATEMENT EXECUTE FUNCTION interlude_cache_services()",
    ),
    (
        "services",
        "interlude_cache_deleted",
        "AFTER DELETE ON services REFERENCING OLD TABLE AS written"
        " FOR EACH STATEMENT EXECUTE FUNCTION interlude_cache_services()",
    ),
    (
        "services",
        "interlude_cache_truncated",
        "AFTER TRUNCATE ON services FOR EACH STATEMENT"
        f" EXECUTE FUNCTION interlude_cache_cleared('{ALL_SERVICES}')",
    ),
    (
        "specifications",
        "interlude_cache_catalog",
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON specifications"
        f" FOR EACH STATEMENT EXECUTE FUNCTION interlude_cache_cleared('{CATALOG}')",
    ),
    (
        "policies",
        "interlude_cache_catalog",
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON policies"
        f" FOR EACH STATEMENT EXECUTE FUNCTION interlude_cache_cleared('{CATALOG}')",
    ),
)


def install(conn: PgConn) -> None:
    """Create the triggers that announce cache invalidations, those not there yet (and the
    functions they call, replaced: a newer release may change them), in one transaction.
    Run by every server's writer at start, after the migrations: not a migration, so the
    triggers reach a database whatever its schema version and whichever server starts first."""
    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({_INSTALL_LOCK_KEY})")
        for function in _FUNCTIONS:
            conn.execute(function)
        for table, trigger, definition in _TRIGGERS:
            found = conn.execute(
                "SELECT 1 FROM pg_trigger WHERE tgname = ? AND tgrelid = ?::regclass", (trigger, table)
            ).fetchone()
            if found is None:
                conn.execute(f"CREATE TRIGGER {trigger} {definition}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
        raise


class CacheInvalidations:
    """Listens on `CACHE_CHANNEL` and drops from `services` and `catalog` what other
    processes' commits wrote; `fresh` is the caches' check (store.sql.cache): True while
    listening, so nothing is served from a cache whose invalidations may have been missed."""

    def __init__(
        self, dsn: str, own_backend: Callable[[], int | None], *, reconnect_delay: float = RECONNECT_DELAY_S
    ) -> None:
        self._dsn = dsn
        self._own_backend = own_backend
        self.reconnect_delay = reconnect_delay
        self.listening = False
        self.notes = 0  # notifications acted on (another process's commits)

    def fresh(self) -> bool:
        return self.listening

    async def run(self, services: ServiceBodies, catalog: ServiceBodies) -> None:
        """Keep `services` and `catalog` until cancelled; after a lost connection, connect
        again every `reconnect_delay` seconds (nothing is served from them meanwhile)."""

        def connected() -> None:
            services.clear()  # whatever was cached before may have been missed
            catalog.clear()
            self.listening = True

        def lost() -> None:
            self.listening = False

        def on_note(note: psycopg.Notify) -> None:
            if note.pid != self._own_backend():
                self.notes += 1
                drop(note.payload, services, catalog)

        await listen(
            self._dsn,
            CACHE_CHANNEL,
            "cache",
            on_note,
            connected=connected,
            lost=lost,
            reconnect_delay=lambda: self.reconnect_delay,
        )


def drop(payload: str, services: ServiceBodies, catalog: ServiceBodies) -> None:
    """Act on one notification's payload (see the module docstring); a payload that cannot be
    read drops every service."""
    if payload == CATALOG:
        catalog.clear()
        return
    keys = _service_keys(payload)
    if keys is None:
        services.clear()
    else:
        services.invalidate(keys)


def _service_keys(payload: str) -> list[Key] | None:
    """The (buyer_id, service_id) pairs a payload names; None: all services (also for a
    payload that is not such a list, logged)."""
    if payload == ALL_SERVICES:
        return None
    try:
        pairs = json.loads(payload)
    except ValueError:
        pairs = None
    if isinstance(pairs, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(k, str) for k in p) for p in pairs
    ):
        return [(buyer, service) for buyer, service in pairs]
    _log.warning("store.cache_note_unreadable", payload=payload[:200])
    return None
