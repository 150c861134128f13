"""The trail every change leaves in its own transaction: tracking records and events."""

from __future__ import annotations

import uuid

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, inventory_pb2, ordering_pb2
from interlude_server.store.interface.store import Tx

Ev = events_pb2


def track(
    tx: Tx,
    buyer_id: str,
    now: timestamp_pb2.Timestamp,
    *,
    attribute: str,
    old: str,
    new: str,
    description: str,
    actor: str,
    service_id: str = "",
    order_id: str = "",
    item_id: str = "",
) -> None:
    """Append one state-history record."""
    tx.add_tracking(
        buyer_id,
        ordering_pb2.ServiceTrackingRecord(
            time=now,
            service_id=service_id,
            service_order_id=order_id,
            service_order_item_id=item_id,
            attribute=attribute,
            old_value=old,
            new_value=new,
            description=description,
            actor=actor,
        ),
    )


def _event(
    event_type: events_pb2.EventType.ValueType, now: timestamp_pb2.Timestamp, resource: events_pb2.ResourceRef
) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        event_time=now,
        resource=resource,
    )


def service_event(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    service: inventory_pb2.Service,
    now: timestamp_pb2.Timestamp,
    state: str = "",
) -> None:
    """Log a service event carrying the service after the change (none for deletes)."""
    event = _event(event_type, now, Ev.ResourceRef(resource_type=Ev.RESOURCE_TYPE_SERVICE, id=service.id))
    event.service_configuration_type = service.service_configuration.type
    event.state = state
    if event_type != Ev.EVENT_TYPE_SERVICE_DELETE:
        event.service.CopyFrom(service)
    tx.append_event(service.buyer_id, event)


def order_event(
    tx: Tx,
    event_type: events_pb2.EventType.ValueType,
    order: ordering_pb2.ServiceOrder,
    now: timestamp_pb2.Timestamp,
    state: str = "",
    item_id: str = "",
) -> None:
    """Log an order event carrying the order after the change."""
    ref = Ev.ResourceRef(resource_type=Ev.RESOURCE_TYPE_SERVICE_ORDER, id=order.id, order_item_id=item_id)
    event = _event(event_type, now, ref)
    event.state = state
    event.service_order.CopyFrom(order)
    tx.append_event(order.buyer_id, event)
