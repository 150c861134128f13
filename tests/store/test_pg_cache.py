"""Replicas sharing a PostgreSQL database keep their read caches by the database's own
notifications (store.postgres.invalidations): whoever writes a service, specification or
policy (another replica, an older release, an operator's SQL), every other replica drops
it; a cache whose notifications may have been missed serves nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest_asyncio

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2
from interlude_server.store.postgres.invalidations import (
    ALL_SERVICES,
    CATALOG,
    CacheInvalidations,
    drop,
)
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.cache import ServiceBodies
from tests.store.builders import BUYER, putter, service, until
from tests.support.pg_cluster import PgServer


def _described(sid: str, text: str) -> inventory_pb2.Service:
    s = service(sid)
    s.description = text
    return s


@pytest_asyncio.fixture(loop_scope="function")
async def replicas(pg_server: PgServer) -> AsyncIterator[tuple[PgStore, PgStore]]:
    """Two stores on one database, as two replicas run with `--shared-store`; the first keeps
    a cache and listens, the second writes (its cache off)."""
    dsn = pg_server.create_database("replicas")
    cached, writer = PgStore(dsn), PgStore(dsn)
    await cached.open()
    await writer.open()
    assert cached.cache_services(64, shared=True)
    assert not writer.cache_services(0, shared=True)
    invalidations = cached.cache_invalidations
    assert invalidations is not None
    await until(lambda: invalidations.listening)
    yield cached, writer
    await writer.close()
    await cached.close()


def _cache(store: PgStore) -> ServiceBodies:
    assert store.service_cache is not None
    return store.service_cache


def _notes(store: PgStore) -> CacheInvalidations:
    assert store.cache_invalidations is not None
    return store.cache_invalidations


async def _description(store: PgStore, sid: str) -> str | None:
    got = await store.get_service(BUYER, sid)
    return None if got is None else got.description


async def _seen(store: PgStore, sid: str, expected: str) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while (got := await _description(store, sid)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{sid} still {got!r}"
        await asyncio.sleep(0.01)


async def test_a_write_elsewhere_drops_just_that_service_and_own_writes_are_not_notified_twice(
    replicas: tuple[PgStore, PgStore],
) -> None:
    cached, writer = replicas
    await cached.write(putter(_described("s1", "one"), _described("s2", "two")))
    assert await _description(cached, "s1") == "one"
    assert await _description(cached, "s2") == "two"
    assert _notes(cached).notes == 0, "its own commits' notifications are skipped"
    await writer.write(putter(_described("s1", "one, elsewhere")))
    await until(lambda: _notes(cached).notes == 1)
    hits = _cache(cached).hits
    assert await _description(cached, "s2") == "two"
    assert _cache(cached).hits == hits + 1, "a service not written stays cached"
    assert await _description(cached, "s1") == "one, elsewhere"
    assert _cache(cached).hits == hits + 1, "the one written was read from the database"


async def test_any_sql_writing_services_is_seen_and_a_big_statement_drops_them_all(
    replicas: tuple[PgStore, PgStore],
) -> None:
    cached, _ = replicas
    many = [_described(f"s{n:03d}", "stored") for n in range(150)]
    await cached.write(putter(*many))
    for sid in ("s000", "s149"):
        assert await _description(cached, sid) == "stored"
    with psycopg.connect(cached.dsn, autocommit=True) as operator:  # e.g. a maintenance script
        operator.execute("UPDATE services SET external_id = 'x' WHERE id = 's000'")
    await until(lambda: _notes(cached).notes == 1)
    assert len(_cache(cached)) == 1, "s000 dropped, s149 kept"
    with psycopg.connect(cached.dsn, autocommit=True) as operator:
        operator.execute("UPDATE services SET external_id = 'y'")  # 150 rows: more than one note names
    await until(lambda: _notes(cached).notes == 2)
    assert len(_cache(cached)) == 0
    with psycopg.connect(cached.dsn, autocommit=True) as operator:
        operator.execute("DELETE FROM services WHERE id = 's149'")
    await until(lambda: _notes(cached).notes == 3)
    assert await cached.get_service_body(BUYER, "s149") is None


async def test_a_lost_listener_serves_nothing_from_the_cache_until_it_listens_again(
    replicas: tuple[PgStore, PgStore],
) -> None:
    cached, writer = replicas
    await cached.write(putter(_described("s1", "one")))
    assert await _description(cached, "s1") == "one"
    _notes(cached).reconnect_delay = 5.0  # time for what follows before it listens again
    with psycopg.connect(cached.dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'interlude-server:cache' AND datname = current_database()"
        )
    await until(lambda: not _notes(cached).listening)
    await writer.write(putter(_described("s1", "written while nobody listened")))
    hits = _cache(cached).hits
    assert await _description(cached, "s1") == "written while nobody listened"  # no wait: no cache
    assert await _description(cached, "s1") == "written while nobody listened"
    assert _cache(cached).hits == hits, "nothing served from the cache while not listening"
    await until(lambda: _notes(cached).listening)  # reconnected
    assert await _description(cached, "s1") == "written while nobody listened"
    assert await _description(cached, "s1") == "written while nobody listened"
    assert _cache(cached).hits == hits + 1
    await writer.write(putter(_described("s1", "after the reconnect")))
    await _seen(cached, "s1", "after the reconnect")


async def test_every_server_installs_the_triggers_once(pg_server: PgServer) -> None:
    dsn = pg_server.create_database("triggers")
    stores = [PgStore(dsn) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE tgname LIKE 'interlude_cache%' ORDER BY 1, 2"
            ).fetchall()
        assert rows == [
            ("policies", "interlude_cache_catalog"),
            ("services", "interlude_cache_deleted"),
            ("services", "interlude_cache_inserted"),
            ("services", "interlude_cache_truncated"),
            ("services", "interlude_cache_updated"),
            ("specifications", "interlude_cache_catalog"),
        ]
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def test_a_payload_drops_what_it_names_and_one_not_understood_drops_every_service() -> None:
    services, catalog = ServiceBodies(8), ServiceBodies(8)

    def filled() -> None:
        for key in (("b", "s1"), ("b", "s2")):
            services.fill(services.epoch, key, b"body")
        catalog.fill(catalog.epoch, ("specification", "t"), b"spec")

    filled()
    drop('[["b", "s1"]]', services, catalog)
    assert (services.get(("b", "s1")), services.get(("b", "s2")), len(catalog)) == (None, b"body", 1)
    drop(CATALOG, services, catalog)
    assert (len(services), len(catalog)) == (1, 0)
    for payload in (ALL_SERVICES, "not json", '[["only one"]]', "{}"):
        filled()
        drop(payload, services, catalog)
        assert len(services) == 0, payload
