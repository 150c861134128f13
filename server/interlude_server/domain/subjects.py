"""What a service test or a PM pair measures between: two distinct services of one connectivity.

A service belongs to a connectivity service (EVC, OVC, IPVC) when it is one of its end
points (`ENDPOINT_OF`), when it is the connectivity service itself, or when it is an
interface (UNI, ENNI, IP UNI) an end point of it is attached to (`ATTACHED_TO`).
"""

from __future__ import annotations

from collections.abc import Iterable

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2
from interlude_server.core.errors import Errors
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery, Store

ENDPOINT_OF = "ENDPOINT_OF"
ATTACHED_TO = "ATTACHED_TO"
_PAGE = 500


def targets(service: inventory_pb2.Service, relationship_type: str) -> set[str]:
    return {r.service.id for r in service.service_relationship if r.relationship_type == relationship_type}


def connectivity_ids(service: inventory_pb2.Service, related: Iterable[inventory_pb2.Service]) -> set[str]:
    """The connectivity services `service` belongs to, given the services that relate to it."""
    own = targets(service, ENDPOINT_OF)
    if own:
        return own
    out: set[str] = set()
    for other in related:
        if other.state == common_pb2.SERVICE_STATE_TERMINATED:
            continue
        if service.id in targets(other, ENDPOINT_OF):
            out.add(service.id)
        if service.id in targets(other, ATTACHED_TO):
            out |= targets(other, ENDPOINT_OF)
    return out


async def related(store: Store, buyer_id: str, service_id: str) -> list[inventory_pb2.Service]:
    """Every service of the buyer that relates to `service_id`."""
    query = ServiceQuery(filter=inventory_pb2.ServiceFilter(related_service_id=service_id))
    out: list[inventory_pb2.Service] = []
    page = await store.list_services(buyer_id, query, PageRequest(limit=_PAGE))
    out += page.items
    while page.last_key is not None:
        page = await store.list_services(buyer_id, query, PageRequest(limit=_PAGE, after=page.last_key))
        out += page.items
    return out


async def check_pair(
    store: Store,
    buyer_id: str,
    pair: tuple[inventory_pb2.Service, inventory_pb2.Service],
    fields: tuple[str, str],
    errors: Errors,
) -> None:
    """Add a violation (on the second field) unless the two services are distinct and belong to
    one connectivity service."""
    first, second = pair
    if first.id == second.id:
        errors.add(fields[1], f"must differ from {fields[0]}: name the two ends of what is measured")
        return
    ours = connectivity_ids(first, await related(store, buyer_id, first.id))
    theirs = connectivity_ids(second, await related(store, buyer_id, second.id))
    if not ours & theirs:
        errors.add(
            fields[1],
            f"{second.id!r} and {first.id!r} do not belong to one connectivity service: name two end "
            "points (or the interfaces they attach to) of the same EVC, OVC or IPVC",
        )
