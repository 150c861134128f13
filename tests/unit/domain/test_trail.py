"""The trail a change leaves (events, tracking records) and what every owned resource carries
(id, buyer, etag), without a store: a recording stand-in takes what a transaction would."""

from __future__ import annotations

from typing import cast

import pytest
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import (
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
    performance_pb2,
    service_test_pb2,
)
from interlude_server.core.errors import EtagMismatch, NotFound
from interlude_server.domain import audit, resources
from interlude_server.store.interface.store import Tx

Ev = events_pb2
NOW = timestamp_pb2.Timestamp(seconds=1_800_000_000)


class _Recorder:
    """What a write transaction was given, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, events_pb2.Event]] = []
        self.records: list[tuple[str, ordering_pb2.ServiceTrackingRecord]] = []

    def append_event(self, buyer_id: str, event: events_pb2.Event) -> int:
        self.events.append((buyer_id, event))
        return len(self.events)

    def add_tracking(self, buyer_id: str, record: ordering_pb2.ServiceTrackingRecord) -> None:
        self.records.append((buyer_id, record))


def _tx(recorder: _Recorder) -> Tx:
    return cast(Tx, recorder)


def _service() -> inventory_pb2.Service:
    config = common_pb2.ExtensionPayload(type="urn:example:uni")
    return inventory_pb2.Service(id="svc-1", buyer_id="buyer-a", service_configuration=config)


def test_an_event_carries_its_resource_typed_and_routed_to_its_buyer() -> None:
    recorder = _Recorder()
    job = service_test_pb2.TestJob(id="job-1", buyer_id="buyer-b", name="loop")
    audit.emit(_tx(recorder), Ev.EVENT_TYPE_TEST_JOB_STATE_CHANGE, job, NOW, state="inProgress")
    order = ordering_pb2.ServiceOrder(id="order-1", buyer_id="buyer-a")
    audit.emit(_tx(recorder), Ev.EVENT_TYPE_SERVICE_ORDER_ITEM_STATE_CHANGE, order, NOW, order_item_id="2")
    (buyer, first), (_, second) = recorder.events
    assert buyer == "buyer-b"
    assert first.resource == Ev.ResourceRef(resource_type=Ev.RESOURCE_TYPE_TEST_JOB, id="job-1")
    assert (first.state, first.test_job, first.event_time) == ("inProgress", job, NOW)
    assert first.event_id
    assert first.event_id != second.event_id
    assert second.resource.order_item_id == "2"
    assert second.WhichOneof("payload") == "service_order"


def test_a_service_event_names_the_configuration_type_and_a_delete_carries_no_payload() -> None:
    recorder = _Recorder()
    audit.emit(_tx(recorder), Ev.EVENT_TYPE_SERVICE_CREATE, _service(), NOW)
    audit.emit(_tx(recorder), Ev.EVENT_TYPE_SERVICE_DELETE, _service(), NOW)
    profile = performance_pb2.PerformanceProfile(id="p-1", buyer_id="buyer-a")
    audit.emit(_tx(recorder), Ev.EVENT_TYPE_PERFORMANCE_PROFILE_DELETE, profile, NOW)
    created, deleted, profile_deleted = (event for _, event in recorder.events)
    assert created.service_configuration_type == deleted.service_configuration_type == "urn:example:uni"
    assert created.service.id == "svc-1"
    assert deleted.WhichOneof("payload") is None
    assert profile_deleted.WhichOneof("payload") is None
    assert profile_deleted.resource.resource_type == Ev.RESOURCE_TYPE_PERFORMANCE_PROFILE


def test_a_tracking_record_names_the_item_and_its_service_only_for_item_changes() -> None:
    recorder = _Recorder()
    order = ordering_pb2.ServiceOrder(id="order-1", buyer_id="buyer-a")
    item = ordering_pb2.ServiceOrderItem(id="1", service=_service())
    audit.track(_tx(recorder), order, NOW, "state", ("", "acknowledged"), "order acknowledged", "buyer:a")
    audit.track(_tx(recorder), order, NOW, "state", ("inProgress", "completed"), "done", audit.PARTNER, item)
    (buyer, of_order), (_, of_item) = recorder.records
    assert buyer == "buyer-a"
    assert of_order.service_order_id == "order-1"
    assert (of_order.service_order_item_id, of_order.service_id) == ("", "")
    assert (of_order.old_value, of_order.new_value, of_order.actor) == ("", "acknowledged", "buyer:a")
    assert (of_item.service_order_item_id, of_item.service_id, of_item.actor) == ("1", "svc-1", "partner")


def test_a_new_resource_gets_a_fresh_id_its_buyer_and_the_first_etag() -> None:
    first, second = service_test_pb2.TestProfile(), service_test_pb2.TestProfile()
    resources.stamp_new(first, "buyer-a")
    resources.stamp_new(second, "buyer-a")
    assert (first.buyer_id, first.etag) == ("buyer-a", "1")
    assert first.id
    assert first.id != second.id
    assert resources.next_etag(first.etag) == "2"
    assert resources.next_etag("") == "1"


def test_a_change_needs_the_resource_and_a_current_etag_if_it_names_one() -> None:
    job = performance_pb2.PerformanceJob(id="job-1", buyer_id="buyer-a", etag="3")
    assert resources.for_change(job, "PerformanceJob", "job-1", "", "NOT_THERE") is job
    assert resources.for_change(job, "PerformanceJob", "job-1", "3", "NOT_THERE") is job
    with pytest.raises(EtagMismatch) as stale:
        resources.for_change(job, "PerformanceJob", "job-1", "2", "NOT_THERE")
    assert stale.value.current_etag == "3"
    with pytest.raises(NotFound) as missing:
        resources.for_change(None, "PerformanceJob", "job-2", "", "NOT_THERE")
    assert (missing.value.reason, missing.value.resource.id) == ("NOT_THERE", "job-2")
