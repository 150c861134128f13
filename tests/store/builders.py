"""Small builders for the proto messages the store tests persist."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.store.sql.tx import SqlTx

UNI = "urn:mef:lso:spec:legato:carrier-ethernet-operator-uni:v1.0.0:all"
OVC = "urn:mef:lso:spec:legato:carrier-ethernet-ovc:v1.0.0:all"
IPVC = "urn:mef:lso:spec:legato:ip-vc:v1.0.0:all"
BUYER = "buyer-a"
OTHER_BUYER = "buyer-b"


def ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def service(
    sid: str,
    buyer: str = BUYER,
    *,
    state: common_pb2.ServiceState.ValueType = common_pb2.SERVICE_STATE_ACTIVE,
    config_type: str = UNI,
    service_type: str = "",
    external_id: str = "",
    contacts: Sequence[str] = (),
    service_date: int | None = None,
    start_date: int | None = None,
    end_date: int | None = None,
    update_time: int | None = None,
    order_refs: Sequence[tuple[str, str]] = (),
    related: Sequence[str] = (),
    admin: common_pb2.AdministrativeState.ValueType = common_pb2.ADMINISTRATIVE_STATE_UNSPECIFIED,
    oper: common_pb2.OperationalState.ValueType = common_pb2.OPERATIONAL_STATE_UNSPECIFIED,
    start_mode: inventory_pb2.StartMode.ValueType = inventory_pb2.START_MODE_UNSPECIFIED,
    places: Sequence[tuple[str, str]] = (),
) -> inventory_pb2.Service:
    s = inventory_pb2.Service(
        id=sid,
        buyer_id=buyer,
        state=state,
        service_type=service_type,
        external_id=external_id,
        administrative_state=admin,
        operational_state=oper,
        start_mode=start_mode,
        service_configuration=common_pb2.ExtensionPayload(type=config_type),
    )
    for place_type, place_id in places:  # (MEF place @type, its id)
        s.place.add(role="INSTALL_LOCATION", type=place_type, id=place_id)
    for name in contacts:
        s.related_contact_information.add(name=name, role="technicalContact")
    for order_id, item_id in order_refs:
        s.service_order_item.add(service_order_id=order_id, item_id=item_id)
    for other in related:
        s.service_relationship.add(relationship_type="RELATED_TO", service=common_pb2.ServiceRef(id=other))
    for field, value in (
        ("service_date", service_date),
        ("start_date", start_date),
        ("end_date", end_date),
        ("update_time", update_time),
    ):
        if value is not None:
            getattr(s, field).CopyFrom(ts(value))
    return s


def order(
    oid: str,
    buyer: str = BUYER,
    *,
    state: ordering_pb2.ServiceOrderState.ValueType = ordering_pb2.SERVICE_ORDER_STATE_ACKNOWLEDGED,
    order_date: int | None = None,
    start_date: int | None = None,
    expected_completion_date: int | None = None,
    completion_date: int | None = None,
    external_id: str = "",
    service_ids: Sequence[str] = (),
) -> ordering_pb2.ServiceOrder:
    o = ordering_pb2.ServiceOrder(id=oid, buyer_id=buyer, state=state, external_id=external_id)
    for i, sid in enumerate(service_ids, start=1):
        o.service_order_item.add(
            id=str(i), action=ordering_pb2.SERVICE_ACTION_MODIFY, service=inventory_pb2.Service(id=sid)
        )
    for field, value in (
        ("order_date", order_date),
        ("start_date", start_date),
        ("expected_completion_date", expected_completion_date),
        ("completion_date", completion_date),
    ):
        if value is not None:
            getattr(o, field).CopyFrom(ts(value))
    return o


def putter(*services: inventory_pb2.Service) -> Callable[[SqlTx], None]:
    """A write function that puts `services`."""

    def put(tx: SqlTx) -> None:
        for s in services:
            tx.put_service(s)

    return put


async def until(predicate: Callable[[], bool]) -> None:
    """Return once `predicate()` holds (checked every 10 ms); fail after 10 s."""
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 - state another connection or task sets
            await asyncio.sleep(0.01)
