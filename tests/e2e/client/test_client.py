"""The typed clients against a real server process: paging, request_id and retries over a
dropped connection, typed errors with every field violation, order following (sync and
asyncio), and the shipped service config."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import MethodDescriptor

from interlude_client import AsyncInterludeClient, InterludeClient, builders
from interlude_client import errors as ce
from interlude_client.channel import service_config
from interlude_grpc.mef.lso.interlude.v1 import (
    alarm_pb2,
    catalog_pb2,
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from tests.support.proxy import DroppingProxy
from tests.support.server_process import ServerProcess

CIR = "ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
T = TypeVar("T")
SERVICES = (inventory_pb2, catalog_pb2, ordering_pb2, events_pb2, alarm_pb2)


@pytest.fixture(scope="module")
def client(demo_server: ServerProcess) -> Iterator[InterludeClient]:
    with InterludeClient(demo_server.target, buyer="sp-alpha") as alpha:
        yield alpha


def test_list_services_pages_through_every_page(client: InterludeClient) -> None:
    pager = client.list_services(page_size=3)
    pages = list(pager.pages())
    assert len(pages) > 3
    assert all(len(page.services) == 3 for page in pages[:-1])
    paged = [s.id for page in pages for s in page.services]
    assert [s.id for s in client.list_services(page_size=3)] == paged
    assert [s.id for s in client.list_services(page_size=1000)] == paged  # one page, same items
    assert len(set(paged)) == len(paged) == pages[0].total_size
    assert all(s.startswith("alpha-") for s in paged)
    limited = client.list_services(page_size=3, limit=7)
    assert [s.id for s in limited] == paged[:7]
    assert limited.total_size == len(paged)


async def test_the_async_pager_sees_the_same_pages(
    client: InterludeClient, demo_server: ServerProcess
) -> None:
    expected = [s.id for s in client.list_services()]
    async with AsyncInterludeClient(demo_server.target, buyer="sp-alpha") as aclient:
        pages = [page async for page in aclient.list_services(page_size=4).pages()]
        assert len(pages) > 3
        assert [s.id for s in await aclient.list_services(page_size=4).all()] == expected
        specs = await aclient.list_service_specifications(page_size=2).all()
    assert {s.id for s in specs} == {s.id for s in client.list_service_specifications()}


async def test_a_specifications_schema_is_fetched_from_its_location_sync_and_async(
    client: InterludeClient, demo_server: ServerProcess
) -> None:
    spec = client.get_service_specification("carrier-ethernet-evc")
    schema = client.get_service_schema(spec.target_service_schema.schema_location)
    assert schema["$id"] == spec.target_service_schema.type
    async with AsyncInterludeClient(demo_server.target, buyer="sp-alpha") as aclient:
        assert await aclient.get_service_schema(spec.target_service_schema.schema_location) == schema
    with pytest.raises(ce.NotFound) as missing:
        client.get_service_schema("serviceSchema/nope.json")
    assert missing.value.reason == "SERVICE_SCHEMA_NOT_FOUND"


def test_a_change_retried_with_its_request_id_creates_one_order(client: InterludeClient) -> None:
    request_id = str(uuid.uuid4())
    first = client.update_configuration("alpha-ovc-1-ep-1", {CIR: 120}, request_id=request_id)
    again = client.update_configuration("alpha-ovc-1-ep-1", {CIR: 120}, request_id=request_id)
    assert again.id == first.id
    with pytest.raises(ce.AlreadyExists) as reused:
        client.update_configuration("alpha-ovc-1-ep-1", {CIR: 130}, request_id=request_id)
    assert reused.value.reason == "REQUEST_ID_REUSED"
    assert client.wait_for_order(first.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED


def test_the_client_fills_a_fresh_request_id_for_every_change() -> None:
    request = ordering_pb2.SetAdministrativeStateRequest(service_id="x")
    filled = builders.with_request_id(request)
    assert uuid.UUID(filled.request_id)
    assert builders.with_request_id(filled).request_id == filled.request_id  # kept once set
    assert builders.with_request_id(ordering_pb2.CancelServiceOrderRequest()).request_id != filled.request_id


def test_a_dropped_answer_is_retried_with_the_same_request_id_and_creates_no_duplicate(
    demo_server: ServerProcess,
) -> None:
    proxy = DroppingProxy(demo_server.target)
    marker = f"DROP-{uuid.uuid4()}"
    try:
        with InterludeClient(proxy.target, buyer="sp-alpha") as through_proxy:
            through_proxy.get_service("alpha-uni-1")  # the connection is up before arming
            proxy.drop_answer_to(marker.encode())
            request = builders.connectivity_request(
                "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all",
                ["alpha-uni-2", "alpha-uni-3"],
                external_id=marker,
            )
            order = through_proxy.create_connectivity(request)
    finally:
        proxy.close()
    assert proxy.dropped == 1  # the first answer was lost after the server committed
    assert proxy.requests_with(marker.encode()) == 2  # and gRPC's retry policy sent it again
    with InterludeClient(demo_server.target, buyer="sp-alpha") as direct:
        orders = list(direct.list_service_orders(ordering_pb2.ServiceOrderFilter(external_id=marker)))
        assert [o.id for o in orders] == [order.id]
        assert direct.wait_for_order(order.id).state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED


def _retry_until_answered(call: Callable[[], T], attempts: int = 10) -> T:
    """An application's own retry: the channel may first try the connection that just died."""
    for _ in range(attempts - 1):
        try:
            return call()
        except ce.Unavailable:
            time.sleep(0.1)
    return call()


def test_errors_are_typed_and_carry_every_field_violation(client: InterludeClient) -> None:
    with pytest.raises(ce.FailedPrecondition) as policy:
        client.update_configuration("alpha-ovc-1-ep-1", {CIR: 5000, "vlanId": 7})
    error = policy.value
    assert error.reason == "POLICY_VIOLATION"
    assert error.domain == ce.DOMAIN
    fields = {v.field for v in error.field_violations}
    assert fields == {
        "service.service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue",
        "service.service_configuration.attributes.vlanId",
    }
    assert all(v.reason and v.description for v in error.field_violations)
    assert len(error.precondition_violations) == 2

    with pytest.raises(ce.InvalidArgument) as invalid:
        client.create_connectivity(
            builders.connectivity_request(
                "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all", ["beta-uni-1", "nope"]
            )
        )
    assert invalid.value.reason == "INVALID_REQUEST"
    assert {v.field for v in invalid.value.field_violations} == {
        "end_points[0].interface_service_id",
        "end_points[1].interface_service_id",
    }

    with pytest.raises(ce.NotFound) as missing:
        client.get_service("beta-uni-1")  # another buyer's service
    assert missing.value.reason == "SERVICE_NOT_FOUND"
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_follow_order_yields_each_new_state_until_it_is_terminal(client: InterludeClient) -> None:
    order = client.set_administrative_state("alpha-uni-3", common_pb2.ADMINISTRATIVE_STATE_LOCKED)
    states = [o.state for o in client.follow_order(order.id)]
    assert states[-1] == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    assert ordering_pb2.SERVICE_ORDER_STATE_IN_PROGRESS in states or len(states) == 1
    assert client.get_service("alpha-uni-3").administrative_state == common_pb2.ADMINISTRATIVE_STATE_LOCKED


def test_follow_order_ends_on_a_failed_order(client: InterludeClient) -> None:
    order = client.create_connectivity(
        builders.connectivity_request(
            "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all",
            ["alpha-uni-1", "alpha-uni-2"],
            external_id=f"FAIL-{uuid.uuid4()}",
        )
    )
    assert client.wait_for_order(order.id).state == ordering_pb2.SERVICE_ORDER_STATE_FAILED


async def test_the_async_client_changes_and_follows(demo_server: ServerProcess) -> None:
    async with AsyncInterludeClient(demo_server.target, buyer="sp-alpha") as aclient:
        order = await aclient.update_configuration("alpha-ovc-1-ep-2", {CIR: 250})
        done = await aclient.wait_for_order(order.id)
        service = await aclient.get_service("alpha-ovc-1-ep-2")
        with pytest.raises(ce.NotFound):
            await aclient.get_service_order("no-such-order")
    assert done.state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED
    attributes = json_format.MessageToDict(service.service_configuration.attributes)
    assert attributes["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"] == 250


def _methods() -> dict[str, MethodDescriptor]:
    found = {}
    for module in SERVICES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found[f"{service.full_name}/{method.name}"] = method
    return found


def test_the_service_config_retries_only_idempotent_calls_and_calls_with_a_request_id() -> None:
    methods = _methods()
    configured: dict[str, dict[str, object]] = {}
    for entry in service_config()["methodConfig"]:
        for name in entry["name"]:
            key = f"{name['service']}/{name['method']}"
            assert key in methods, f"{key} is not in the contract"
            assert key not in configured, f"{key} configured twice"
            configured[key] = entry
    assert set(configured) == set(methods)  # every inventory/catalog/ordering/event method
    for key, entry in configured.items():
        method = methods[key]
        streaming = method.server_streaming
        idempotent = method.name.startswith(("Get", "List"))
        has_request_id = "request_id" in method.input_type.fields_by_name
        if streaming:
            assert "retryPolicy" not in entry, key
            assert "timeout" not in entry, key
        else:
            assert "timeout" in entry, key
            assert idempotent or has_request_id, f"{key} is retried but neither idempotent nor keyed"
            assert entry["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]  # type: ignore[index]


def test_without_the_retry_policy_the_lost_answer_is_unavailable_and_a_manual_retry_is_safe(
    demo_server: ServerProcess,
) -> None:
    proxy = DroppingProxy(demo_server.target)
    marker = f"DROP-{uuid.uuid4()}"
    no_retries: dict[str, Any] = {"methodConfig": []}
    try:
        with InterludeClient(proxy.target, buyer="sp-alpha", config=no_retries) as through_proxy:
            through_proxy.get_service("alpha-uni-1")
            proxy.drop_answer_to(marker.encode())
            request = builders.connectivity_request(
                "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all",
                ["alpha-uni-1", "alpha-uni-3"],
                external_id=marker,
            )
            with pytest.raises(ce.Unavailable):
                through_proxy.create_connectivity(request)
            assert request.request_id  # filled in place, so the same request retries safely
            order = _retry_until_answered(lambda: through_proxy.create_connectivity(request))
    finally:
        proxy.close()
    assert proxy.requests_with(marker.encode()) >= 2
    with InterludeClient(demo_server.target, buyer="sp-alpha") as direct:
        orders = list(direct.list_service_orders(ordering_pb2.ServiceOrderFilter(external_id=marker)))
    assert [o.id for o in orders] == [order.id]
