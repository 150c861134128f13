"""The schema's history: every migration step, numbered, in one list (`STEPS`).

Step N takes a database from version N - 1 to version N; a new database runs them all,
an existing one the steps after its recorded version (store.sql.schema.migrate, and
store.postgres.schema for PostgreSQL's dialect). A step is a list of SQLite statements,
and of backfills: a function given the connection that fills new columns or tables from the
rows already stored (their bodies), run in order within the migrating transaction. A
released step is never edited, a change is a new step appended to the list
(tests/store/test_migrations.py pins the released ones).

Every object is stored as its serialized proto (`body`) beside the columns that
filters and sort orders need. Timestamps are stored as fixed-width text keys
(see `core.keys.timestamp_key`) so that they sort correctly over the whole
proto range with nanosecond precision; '' means "unset".

The steps of the core tables are written here, in their order; a feature's step is
written in its package (store.sql.<feature>.schema) and named in the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2
from interlude_server.store.sql.alarms.schema import ALARM_TABLES
from interlude_server.store.sql.dialect import Conn
from interlude_server.store.sql.network.schema import NETWORK_TABLES
from interlude_server.store.sql.performance.schema import PM_TABLES
from interlude_server.store.sql.sft.schema import SFT_TABLES

Backfill = Callable[[Conn], None]
Migration = Sequence[str | Backfill]

# Orders in these states never change again (MEF terminal states plus the
# TMF641 cancelled extension): REJECTED, COMPLETED, FAILED, PARTIAL, CANCELLED.
TERMINAL_ORDER_STATES: tuple[int, ...] = (2, 6, 7, 8, 11)
_TERMINAL_SQL = ", ".join(str(s) for s in TERMINAL_ORDER_STATES)

# Step 1 (F2): inventory, ordering history, idempotency, the event log, catalog and policies.
_INVENTORY_AND_ORDERS: Migration = (
    # Services of every buyer; (buyer_id, id) is the identity.
    """CREATE TABLE services (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        config_type TEXT NOT NULL,
        service_type TEXT NOT NULL,
        external_id TEXT NOT NULL,
        admin_state INTEGER NOT NULL,
        oper_state INTEGER NOT NULL,
        service_date TEXT NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        update_time TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (buyer_id, id)
    )""",
    "CREATE INDEX services_state ON services (buyer_id, state, id)",
    "CREATE INDEX services_config_type ON services (buyer_id, config_type, id)",
    "CREATE INDEX services_service_type ON services (buyer_id, service_type, id)",
    "CREATE INDEX services_external_id ON services (buyer_id, external_id, id)",
    "CREATE INDEX services_admin_state ON services (buyer_id, admin_state, id)",
    "CREATE INDEX services_oper_state ON services (buyer_id, oper_state, id)",
    "CREATE INDEX services_service_date ON services (buyer_id, service_date, id)",
    "CREATE INDEX services_start_date ON services (buyer_id, start_date, id)",
    "CREATE INDEX services_end_date ON services (buyer_id, end_date, id)",
    "CREATE INDEX services_update_time ON services (buyer_id, update_time, id)",
    # Side tables for the repeated parts of a service that filters look into.
    """CREATE TABLE service_contacts (
        buyer_id TEXT NOT NULL,
        name TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, name, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_contacts_service ON service_contacts (buyer_id, service_id)",
    """CREATE TABLE service_order_refs (
        buyer_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, order_id, item_id, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_order_refs_service ON service_order_refs (buyer_id, service_id)",
    """CREATE TABLE service_relations (
        buyer_id TEXT NOT NULL,
        related_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, related_id, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_relations_service ON service_relations (buyer_id, service_id)",
    # Row counts per (table, buyer, state, configuration @type), maintained in
    # the writing transaction, so totals of unfiltered lists and of lists
    # filtered only by state and/or @type are O(1).
    """CREATE TABLE row_counts (
        tbl TEXT NOT NULL,
        buyer_id TEXT NOT NULL,
        state INTEGER NOT NULL,
        config_type TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tbl, buyer_id, state, config_type)
    ) WITHOUT ROWID""",
    """CREATE TABLE orders (
        buyer_id TEXT NOT NULL,
        id TEXT NOT NULL,
        state INTEGER NOT NULL,
        external_id TEXT NOT NULL,
        order_date TEXT NOT NULL,
        completion_date TEXT NOT NULL,
        expected_completion_date TEXT NOT NULL,
        start_date TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (buyer_id, id)
    )""",
    "CREATE INDEX orders_order_date ON orders (buyer_id, order_date, id)",
    "CREATE INDEX orders_state ON orders (buyer_id, state, order_date, id)",
    "CREATE INDEX orders_external_id ON orders (buyer_id, external_id)",
    f"""CREATE INDEX orders_unfinished ON orders (order_date, buyer_id, id)
        WHERE state NOT IN ({_TERMINAL_SQL})""",
    """CREATE TABLE order_services (
        buyer_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, service_id, order_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX order_services_order ON order_services (buyer_id, order_id)",
    """CREATE TABLE tracking (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        service_order_id TEXT NOT NULL,
        time TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX tracking_buyer ON tracking (buyer_id, seq)",
    "CREATE INDEX tracking_service ON tracking (buyer_id, service_id, seq)",
    "CREATE INDEX tracking_order ON tracking (buyer_id, service_order_id, seq)",
    """CREATE TABLE idempotency (
        buyer_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        method TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response BLOB NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (buyer_id, request_id)
    )""",
    "CREATE INDEX idempotency_created ON idempotency (created)",
    # The event log (F3 streams from it); AUTOINCREMENT never reuses a sequence,
    # even after retention deletes the newest rows.
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        buyer_id TEXT NOT NULL,
        event_type INTEGER NOT NULL,
        resource_id TEXT NOT NULL,
        event_time TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX events_buyer ON events (buyer_id, seq)",
    """CREATE TABLE specifications (
        id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        lifecycle_status INTEGER NOT NULL,
        config_type TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE policies (
        buyer_id TEXT NOT NULL,
        spec_id TEXT NOT NULL,
        config_type TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (buyer_id, spec_id)
    )""",
)

# Step 2 (F3): event log identity and retention bookkeeping for resumable streams.
_EVENT_LOG: Migration = (
    """CREATE TABLE event_log (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        log_id TEXT NOT NULL,
        pruned_through_seq INTEGER NOT NULL,
        pruned_through_time TEXT NOT NULL
    )""",
    "INSERT INTO event_log (id, log_id, pruned_through_seq, pruned_through_time) "
    "VALUES (1, lower(hex(randomblob(8))), 0, '')",
    "CREATE INDEX events_time ON events (event_time)",
)

# Step 4 (F6): MEF REST hub registrations, each with a durable delivery cursor into `events`.
_HUB: Migration = (
    """CREATE TABLE hub_subscriptions (
        id TEXT PRIMARY KEY,
        buyer_id TEXT NOT NULL,
        api TEXT NOT NULL,
        callback TEXT NOT NULL,
        query TEXT NOT NULL,
        event_types TEXT NOT NULL,
        base_url TEXT NOT NULL,
        secret TEXT NOT NULL,
        authorization TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX hub_subscriptions_buyer ON hub_subscriptions (buyer_id, id)",
)

# Step 6 (F11): leases on background work shared by several server processes: a row per
# component, held by `owner` until `expires_at` (unix seconds) unless renewed.
_LEASES: Migration = (
    """CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
)

# Step 7 (F18): the W3C trace context of the request that caused each event (NULL when none
# was current, and for the events of earlier versions), so a hub delivery made later, perhaps
# by another process, carries the same trace to the buyer's listener.
_EVENT_TRACES: Migration = (
    "ALTER TABLE events ADD COLUMN traceparent TEXT",
    "ALTER TABLE events ADD COLUMN tracestate TEXT",
)


def _backfill_start_mode_and_places(conn: Conn) -> None:
    """Step 8's backfill: each stored service's `start_mode` and its places with an `id`."""
    rows = conn.execute("SELECT buyer_id, id, body FROM services").fetchall()
    for buyer_id, service_id, body in rows:
        s = inventory_pb2.Service.FromString(bytes(body))
        if s.start_mode:
            conn.execute(
                "UPDATE services SET start_mode = ? WHERE buyer_id = ? AND id = ?",
                (int(s.start_mode), buyer_id, service_id),
            )
        places = sorted({(buyer_id, p.type, p.id, service_id) for p in s.place if p.type and p.id})
        if places:
            conn.executemany(
                "INSERT INTO service_places (buyer_id, place_type, place_id, service_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                places,
            )


# Step 8 (F16): the serviceFind filters `startMode`, `geographicSite.id` and
# `geographicAddress.id`: a column for the start mode and a side table of each service's
# places that have an id (`place_type` is the MEF `@type`, e.g. GeographicSiteRef),
# filled from the services already stored.
_START_MODE_AND_PLACES: Migration = (
    "ALTER TABLE services ADD COLUMN start_mode INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX services_start_mode ON services (buyer_id, start_mode, id)",
    """CREATE TABLE service_places (
        buyer_id TEXT NOT NULL,
        place_type TEXT NOT NULL,
        place_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        PRIMARY KEY (buyer_id, place_type, place_id, service_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX service_places_service ON service_places (buyer_id, service_id)",
    _backfill_start_mode_and_places,
)

# Step N migrates version N - 1 to N. Append only, numbered in order: the next step is 11.
STEPS: tuple[tuple[int, Migration], ...] = (
    (1, _INVENTORY_AND_ORDERS),  # F2: services, orders, tracking, idempotency, events, catalog
    (2, _EVENT_LOG),  # F3: event log identity and retention bookkeeping
    (3, SFT_TABLES),  # F5: service function testing (store.sql.sft.schema)
    (4, _HUB),  # F6: REST hub registrations
    (5, PM_TABLES),  # F4: performance monitoring (store.sql.performance.schema)
    (6, _LEASES),  # F11: leases of background work among server processes
    (7, _EVENT_TRACES),  # F18: the trace context of each event
    (8, _START_MODE_AND_PLACES),  # F16: serviceFind by start mode and by site / address id
    (9, NETWORK_TABLES),  # F15: what the network reported (store.sql.network.schema)
    (10, ALARM_TABLES),  # F15: alarms (store.sql.alarms.schema)
)

# MIGRATIONS[i] is step i + 1: what migrate() runs.
MIGRATIONS: tuple[Migration, ...] = tuple(statements for _, statements in STEPS)
SCHEMA_VERSION = len(MIGRATIONS)
