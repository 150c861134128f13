"""The read cache of services and of the catalog orders read (store.sql.cache): a cached
body is never stale.

On both engines, a write's commit puts what it wrote in place of a cached version (drops a
deleted service) before its caller hears back; a read that raced an invalidation keeps
nothing; with several processes on one SQLite file, a hit checks the file's change counter
first; replicas on PostgreSQL drop what another one wrote when the database's notification
of it arrives (tests/store/test_pg_cache.py for the rest).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, inventory_pb2
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.cache import ServiceBodies
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, OTHER_BUYER, putter, service, until


def _described(sid: str, text: str, buyer: str = BUYER) -> inventory_pb2.Service:
    s = service(sid, buyer)
    s.description = text
    return s


async def _description(store: SqliteStore | PgStore, sid: str) -> str | None:
    """What the store reads of the service: its description, None if there is none."""
    got = await store.get_service(BUYER, sid)
    return None if got is None else got.description


def _cache(store: SqliteStore | PgStore) -> ServiceBodies:
    cache = store.service_cache
    assert cache is not None
    return cache


@pytest_asyncio.fixture(loop_scope="function")
async def other(store: SqliteStore | PgStore) -> AsyncIterator[Any]:
    """A second store on the same database (another process's view of it)."""
    s: Any = PgStore(store.dsn) if isinstance(store, PgStore) else SqliteStore(store.path)
    await s.open()
    yield s
    await s.close()


# -- the cache alone ---------------------------------------------------------------------------


def test_the_least_recently_read_leaves_first() -> None:
    cache = ServiceBodies(2)
    cache.fill(cache.epoch, ("b", "s1"), b"one")
    cache.fill(cache.epoch, ("b", "s2"), b"two")
    assert cache.get(("b", "s1")) == b"one"  # s1 is now the most recently read
    cache.fill(cache.epoch, ("b", "s3"), b"three")
    assert (cache.get(("b", "s1")), cache.get(("b", "s2")), cache.get(("b", "s3"))) == (
        b"one",
        None,
        b"three",
    )
    assert len(cache) == 2


def test_a_read_that_raced_an_invalidation_keeps_nothing() -> None:
    cache = ServiceBodies(8)
    epoch = cache.epoch  # a read begins
    cache.invalidate([("b", "s1")])  # a commit of s1 lands while it reads
    cache.fill(epoch, ("b", "s1"), b"old")
    assert cache.get(("b", "s1")) is None
    cache.fill(cache.epoch, ("b", "s1"), b"new")
    assert cache.get(("b", "s1")) == b"new"


def test_a_change_elsewhere_empties_the_cache_before_the_next_hit() -> None:
    changed = [False]
    cache = ServiceBodies(8, fresh=lambda: not changed[0])
    cache.fill(cache.epoch, ("b", "s1"), b"one")
    assert cache.get(("b", "s1")) == b"one"
    changed[0] = True
    assert cache.get(("b", "s1")) is None
    assert len(cache) == 0


def test_a_cache_holds_at_least_one_service() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ServiceBodies(0)


# -- in a store, on both engines -----------------------------------------------------------------


async def test_reads_are_served_from_the_cache_once_read(store: SqliteStore | PgStore) -> None:
    assert store.cache_services(16, shared=False)
    await store.write(putter(_described("s1", "first")))
    body = await store.get_service_body(BUYER, "s1")
    assert body == _described("s1", "first").SerializeToString()
    hits = _cache(store).hits
    assert await _description(store, "s1") == "first"
    assert _cache(store).hits == hits + 1
    assert await store.get_service(OTHER_BUYER, "s1") is None  # another buyer's key


async def test_a_write_is_seen_by_the_first_read_after_it_returns(store: SqliteStore | PgStore) -> None:
    assert store.cache_services(16, shared=False)
    await store.write(putter(_described("s1", "first"), _described("s2", "kept")))
    for sid in ("s1", "s2"):
        await store.get_service_body(BUYER, sid)  # both cached
    await store.write(putter(_described("s1", "second")))
    assert await _description(store, "s1") == "second"
    hits = _cache(store).hits
    assert await _description(store, "s2") == "kept"  # not written: still served from the cache
    assert _cache(store).hits == hits + 1

    def delete(tx: SqlTx) -> None:
        tx.delete_service(BUYER, "s1")

    await store.write(delete)
    assert await store.get_service_body(BUYER, "s1") is None


async def test_a_cached_service_written_here_is_kept_as_committed_and_read_from_the_cache(
    store: SqliteStore | PgStore,
) -> None:
    assert store.cache_services(16, shared=False)
    await store.write(putter(_described("s1", "first")))
    await store.get_service_body(BUYER, "s1")  # cached

    def twice(tx: SqlTx) -> None:  # two puts in one write, and another write in the group
        tx.put_service(_described("s1", "second"))
        tx.put_service(_described("s1", "third"))

    await asyncio.gather(store.write(twice), store.write(putter(_described("s9", "uncached"))))
    hits, misses = _cache(store).hits, _cache(store).misses
    assert await store.get_service_body(BUYER, "s1") == _described("s1", "third").SerializeToString()
    assert (_cache(store).hits, _cache(store).misses) == (hits + 1, misses)  # no database read
    assert await _description(store, "s9") == "uncached"  # not cached before: read, then kept
    assert _cache(store).misses == misses + 1


async def test_a_failed_write_leaves_the_cached_service(store: SqliteStore | PgStore) -> None:
    assert store.cache_services(16, shared=False)
    await store.write(putter(_described("s1", "first")))
    await store.get_service_body(BUYER, "s1")

    def put_then_fail(tx: SqlTx) -> None:
        tx.put_service(_described("s1", "rolled back"))
        raise RuntimeError("the write fails after its put")

    with pytest.raises(RuntimeError):
        await store.write(put_then_fail)
    assert await _description(store, "s1") == "first"


async def test_without_a_cache_every_read_goes_to_the_database(store: SqliteStore | PgStore) -> None:
    assert not store.cache_services(0, shared=False)
    assert store.service_cache is None
    await store.write(putter(_described("s1", "first")))
    assert await _description(store, "s1") == "first"


async def _listening(store: SqliteStore | PgStore) -> None:
    """On PostgreSQL: until the store listens for other replicas' writes (its cache serves
    nothing before). SQLite's check needs no wait."""
    if isinstance(store, PgStore):
        invalidations = store.cache_invalidations
        assert invalidations is not None
        await until(lambda: invalidations.listening)


async def _seen(
    store: SqliteStore | PgStore, read: Callable[[], Awaitable[object]], expected: object
) -> None:
    """`read()` returns `expected`: at once on SQLite (a hit checks the file first); on
    PostgreSQL once the notification of the other replica's commit has arrived (10 s at most)."""
    if isinstance(store, SqliteStore):
        assert await read() == expected
        return
    deadline = asyncio.get_running_loop().time() + 10
    while (got := await read()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"still {got!r}"
        await asyncio.sleep(0.01)


async def test_another_process_writing_a_service_is_seen(store: SqliteStore | PgStore, other: Any) -> None:
    assert store.cache_services(16, shared=True)
    assert not other.cache_services(0, shared=True)  # a replica without a cache of its own
    await _listening(store)
    await store.write(putter(_described("s1", "first")))
    assert await store.get_service_body(BUYER, "s1") is not None
    hits = _cache(store).hits
    assert await _description(store, "s1") == "first"
    assert _cache(store).hits == hits + 1  # served from the cache
    await other.write(putter(_described("s1", "written elsewhere")))
    await _seen(store, lambda: _description(store, "s1"), "written elsewhere")


# -- the catalog: the specification of a type and a buyer's policy, as every order reads them ----

UNI = "urn:mef:lso:spec:carrier-ethernet:uni:v1"


def _catalog(spec_name: str, policy_name: str) -> Any:
    def write(tx: SqlTx) -> None:
        spec = catalog_pb2.ServiceSpecification(id="uni", name=spec_name)
        spec.target_service_schema.type = UNI
        tx.put_specification(spec)
        tx.put_policy(
            catalog_pb2.ServicePolicy(buyer_id=BUYER, service_specification_id="uni", etag=policy_name)
        )

    return write


async def _catalog_names(store: SqliteStore | PgStore) -> tuple[str, str]:
    spec = await store.specification_for_type(UNI)
    policy = await store.get_policy(BUYER, "uni")
    assert spec is not None
    assert policy is not None
    return spec.name, policy.etag


async def _catalog_cached(store: SqliteStore | PgStore) -> None:
    """Write the catalog's v1 and read it twice: the second read of each comes from the cache."""
    await store.write(_catalog("spec v1", "policy v1"))
    assert await _catalog_names(store) == ("spec v1", "policy v1")
    catalog = store.catalog_cache
    assert catalog is not None
    hits = catalog.hits
    assert await _catalog_names(store) == ("spec v1", "policy v1")
    assert catalog.hits == hits + 2  # both from the cache


async def test_the_catalog_is_read_once_and_a_catalog_write_is_seen_at_once(
    store: SqliteStore | PgStore,
) -> None:
    assert store.cache_services(16, shared=False)
    await _catalog_cached(store)
    assert await store.get_policy(OTHER_BUYER, "uni") is None  # another buyer has none
    await store.write(_catalog("spec v2", "policy v2"))
    assert await _catalog_names(store) == ("spec v2", "policy v2")  # the first read after it


async def test_a_missing_policy_is_read_again_once_written(store: SqliteStore | PgStore) -> None:
    assert store.cache_services(16, shared=False)
    assert await store.get_policy(BUYER, "uni") is None  # nothing kept for it
    await store.write(_catalog("spec", "policy"))
    assert await _catalog_names(store) == ("spec", "policy")


async def test_another_process_writing_the_catalog_is_seen(store: SqliteStore | PgStore, other: Any) -> None:
    assert store.cache_services(16, shared=True)
    await _listening(store)
    await _catalog_cached(store)
    await other.write(_catalog("spec v2", "policy v2"))
    await _seen(store, lambda: _catalog_names(store), ("spec v2", "policy v2"))
