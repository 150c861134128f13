"""The services the store has read lately, kept as stored (serialized) for GetService, and
the catalog reads every order makes (its types' specifications and the buyer's policies).

GetService is the read SP systems poll. A hit costs a dictionary lookup instead of an
indexed row read (the servicer then sends the bytes as they are, api.inventory); an order
finds its specification and policy without two hops to a reader thread. A cached body is
never stale (but see PostgreSQL replicas below):

- every write that puts or deletes a service tells the store which one (store.sql.tx
  `ServiceWritten`, carried with the commit's items), and every write of a specification
  or policy says so (`CatalogWritten`: the catalog cache is emptied, as a specification
  written may change which one a type finds); on the event loop after the COMMIT and
  before the writer hears back, the store puts the body a write stored in place of a
  cached one (`refresh`; a deleted service is dropped), so a caller that was told its
  write is done cannot read what it replaced, and the next read of it is still a hit;
- a body read before a commit but kept after it would be stale: each invalidation moves
  `epoch`, and a read keeps its body only if no invalidation happened while it read;
- several processes sharing a SQLite file (`--workers`, `--shared-store`) write behind
  each other's backs: a hit first asks `fresh` (the file's change counter, `PRAGMA
  data_version`, microseconds on the calling thread), and any commit since the last hit
  empties the cache;
- replicas sharing a PostgreSQL database (`--shared-store`) are told by the database: its
  triggers notify every write of a service, specification or policy, whoever makes it,
  and each replica drops what another wrote once the notification arrives (under a
  millisecond here); a hit is served only while the notifications are listened to
  (store.postgres.invalidations). Only there may a read return the version before a
  commit, for the moments the notification takes.

Only what exists is kept: a read that finds nothing is read again next time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from interlude_server.store.interface.store import Committed

Key = tuple[str, ...]  # services: (buyer_id, service_id); the catalog: a CatalogKey
# ("specification", type_urn) or ("policy", buyer_id, spec_id)
CatalogKey = tuple[str, str] | tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class ServiceWritten:
    """A commit item of the store's own, never given to commit listeners: the write put or
    deleted this service (of the buyer the item is paired with); `body` is what it stored
    (None: it deleted it)."""

    service_id: str
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class CatalogWritten:
    """A commit item of the store's own (paired with no buyer), never given to commit
    listeners: the write put a specification or a policy."""


# What a write leaves for after its commit: (buyer_id, item) pairs.
Appended = list[tuple[str, Committed | ServiceWritten | CatalogWritten]]
OWN_ITEMS = (ServiceWritten, CatalogWritten)  # the store's own: for no listener


class ServiceBodies:
    """At most `capacity` stored bodies by key (services, or the catalog), least recently
    used first out; `fresh()` False empties it (None: only this process writes)."""

    def __init__(self, capacity: int, fresh: Callable[[], bool] | None = None) -> None:
        if capacity < 1:
            raise ValueError("a cache holds at least one body")
        self.capacity = capacity
        self.epoch = 0  # moves with every invalidation (see the module docstring)
        self.hits = 0
        self.misses = 0
        self._fresh = fresh
        self._bodies: OrderedDict[Key, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, key: Key) -> bytes | None:
        """The cached body, or None (then read it, and `fill` with the epoch taken first)."""
        if self._fresh is not None and not self._fresh():
            self.clear()
        body = self._bodies.get(key)
        if body is None:
            self.misses += 1
            return None
        self._bodies.move_to_end(key)
        self.hits += 1
        return body

    def fill(self, epoch: int, key: Key, body: bytes) -> None:
        """Keep `body`, read at `epoch`, unless something was invalidated since."""
        if epoch != self.epoch:
            return
        self._bodies[key] = body
        self._bodies.move_to_end(key)
        if len(self._bodies) > self.capacity:
            self._bodies.popitem(last=False)

    def refresh(self, written: Iterable[tuple[Key, bytes | None]]) -> None:
        """This process committed these bodies (None: deleted), in commit order: a cached one
        becomes the committed version (so the next read hits), a deleted one is dropped.
        Reads that began before still keep nothing (`epoch` moves, as for `invalidate`)."""
        self.epoch += 1
        bodies = self._bodies
        for key, body in written:
            if body is None:
                bodies.pop(key, None)
            elif key in bodies:
                bodies[key] = body

    def invalidate(self, keys: Iterable[Key]) -> None:
        """Drop these (another process wrote them); reads under way keep nothing."""
        self.refresh((key, None) for key in keys)

    def clear(self) -> None:
        self.epoch += 1
        self._bodies.clear()
