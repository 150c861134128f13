"""What every resource a buyer owns and changes has: an id, the buyer, and an etag.

The etag is a counter as text. A new resource is stamped with `stamp_new`; a change names
the etag it was based on (or none), and the resource is read for it with `for_change`,
which refuses a stale one, and stored with `next_etag`.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from interlude_server.core.errors import EtagMismatch, NotFound
from interlude_server.core.ids import new_id


class Owned(Protocol):
    """A stored resource of one buyer (services, orders, jobs, profiles)."""

    id: str
    buyer_id: str
    etag: str


R = TypeVar("R", bound=Owned)


def stamp_new(resource: Owned, buyer_id: str) -> None:
    """Make `resource` a new one of `buyer_id`: a fresh id and the first etag."""
    resource.id = new_id()
    resource.buyer_id = buyer_id
    resource.etag = "1"


def for_change(found: R | None, kind: str, resource_id: str, etag: str, not_found: str) -> R:
    """`found`, read for a change: NotFound with reason `not_found` when it is missing (or
    another buyer's), EtagMismatch when `etag` is given and is not the current one."""
    if found is None:
        raise NotFound(kind, resource_id, not_found)
    if etag and etag != found.etag:
        raise EtagMismatch(kind, resource_id, found.etag)
    return found


def next_etag(etag: str) -> str:
    """The etag after one more change ('' counts as 0)."""
    return str(int(etag or "0") + 1)
