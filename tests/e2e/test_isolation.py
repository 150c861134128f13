"""Strict buyer isolation, as a matrix: buyer A (sp-alpha) against buyer B's (sp-beta) resources
on every RPC of the contract, and on the event stream.

The oracle for each RPC: A's call naming B's resources must end exactly like the same call naming
resources that do not exist (same code, reason, violations; ids aside), never PERMISSION_DENIED,
and nothing A gets back may carry B's ids or B's name. RPCs without a case of their own get one
built from their request descriptor (every `id`/`*_id` string field names B's resource), so a new
RPC is covered the day it appears. Calls carry real bearer tokens (`--auth token`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from interlude_grpc.mef.lso.interlude.v1 import (
    catalog_pb2,
    common_pb2,
    events_pb2,
    inventory_pb2,
    ordering_pb2,
)
from tests.e2e.helpers import EVC, Stubs, wait_for_order
from tests.e2e.rpc import Outcome, invoke, methods, path, request_class
from tests.e2e.streams import Collector
from tests.security import AUDIENCE, ISSUER, TokenIssuer, bearer
from tests.server_process import ServerProcess, launch

Metadata = tuple[tuple[str, str], ...]
V1 = "/mef.lso.interlude.v1."
Ord = ordering_pb2


@dataclass
class Ids:
    """The resources a request names: B's real ones, or ghosts that exist for nobody."""

    service: str
    uni: str
    uni2: str
    order: str

    def all(self) -> list[str]:
        return [self.service, self.uni, self.uni2, self.order]


@dataclass
class World:
    channel: grpc.Channel
    alpha: Metadata
    beta: Metadata
    b: Ids
    ghost: Ids
    spec: str
    b_markers: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, issuer: TokenIssuer) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("isolation")
    pem = issuer.write_public_pem(workdir / "issuer.pem")
    running = launch(
        workdir,
        "--seed",
        "demo",
        "--sim-step-delay",
        "0.02",
        "--auth",
        "token",
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--jwt-public-key-file",
        str(pem),
    )
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def world(token_server: ServerProcess, issuer: TokenIssuer) -> Iterator[World]:
    with grpc.insecure_channel(token_server.target) as channel:
        stubs = Stubs.on(channel)
        alpha, beta = bearer(issuer.mint("sp-alpha")), bearer(issuer.mint("sp-beta"))
        # B gets an order of its own (and with it tracking records and events).
        locked = stubs.ordering.SetAdministrativeState(
            Ord.SetAdministrativeStateRequest(
                service_id="beta-uni-1", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
            ),
            metadata=beta,
        ).service_order
        assert wait_for_order(stubs, locked.id, beta).state == Ord.SERVICE_ORDER_STATE_COMPLETED
        services = stubs.inventory.ListServices(
            inventory_pb2.ListServicesRequest(page_size=500), metadata=beta
        )
        orders = stubs.ordering.ListServiceOrders(Ord.ListServiceOrdersRequest(page_size=500), metadata=beta)
        spec = (
            stubs.catalog.ListServiceSpecifications(
                catalog_pb2.ListServiceSpecificationsRequest(), metadata=alpha
            )
            .service_specifications[0]
            .id
        )
        ghost = "ghost-" + uuid.uuid4().hex[:8]
        world = World(
            channel,
            alpha,
            beta,
            Ids("beta-ovc-1-ep-1", "beta-uni-1", "beta-uni-2", locked.id),
            Ids(f"{ghost}-svc", f"{ghost}-uni", f"{ghost}-uni2", f"{ghost}-order"),
            spec,
        )
        world.b_markers = (
            {"sp-beta"} | {s.id for s in services.services} | {o.id for o in orders.service_orders}
        )
        assert {"beta-uni-1", "beta-ovc-1-ep-1", locked.id} <= world.b_markers
        yield world


def _cir_update(service_id: str) -> ordering_pb2.UpdateServiceRequest:
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"amount": 50}}})
    return Ord.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(
            paths=["service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.amount"]
        ),
    )


def _modify_order(ids: Ids) -> ordering_pb2.CreateServiceOrderRequest:
    service = _cir_update(ids.service).service
    item = Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=service)
    return Ord.CreateServiceOrderRequest(service_order=Ord.ServiceOrder(service_order_item=[item]))


Builder = Callable[[Ids, str], Message]

# The RPCs that are built, each with a request naming the resources of `ids`.
CASES: dict[str, Builder] = {
    V1 + "ServiceInventoryService/GetService": lambda ids, spec: inventory_pb2.GetServiceRequest(
        id=ids.service
    ),
    V1 + "ServiceInventoryService/ListServices": lambda ids, spec: inventory_pb2.ListServicesRequest(
        filter=inventory_pb2.ServiceFilter(related_service_id=ids.uni)
    ),
    V1 + "ServiceCatalogService/GetServiceSpecification": lambda ids, spec: (
        catalog_pb2.GetServiceSpecificationRequest(id=spec)
    ),
    V1 + "ServiceCatalogService/ListServiceSpecifications": lambda ids, spec: (
        catalog_pb2.ListServiceSpecificationsRequest()
    ),
    V1 + "ServiceCatalogService/GetServicePolicy": lambda ids, spec: catalog_pb2.GetServicePolicyRequest(
        service_specification_id=spec
    ),
    V1 + "ServiceCatalogService/ListServicePolicies": lambda ids, spec: (
        catalog_pb2.ListServicePoliciesRequest()
    ),
    V1 + "ServiceOrderingService/CreateServiceOrder": lambda ids, spec: _modify_order(ids),
    V1 + "ServiceOrderingService/GetServiceOrder": lambda ids, spec: Ord.GetServiceOrderRequest(id=ids.order),
    V1 + "ServiceOrderingService/ListServiceOrders": lambda ids, spec: Ord.ListServiceOrdersRequest(
        filter=Ord.ServiceOrderFilter(service_id=ids.service)
    ),
    V1 + "ServiceOrderingService/CancelServiceOrder": lambda ids, spec: Ord.CancelServiceOrderRequest(
        id=ids.order
    ),
    V1 + "ServiceOrderingService/UpdateService": lambda ids, spec: _cir_update(ids.service),
    V1 + "ServiceOrderingService/SetAdministrativeState": lambda ids, spec: Ord.SetAdministrativeStateRequest(
        service_id=ids.uni, administrative_state=common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
    ),
    V1 + "ServiceOrderingService/CreateConnectivity": lambda ids, spec: Ord.CreateConnectivityRequest(
        connectivity_configuration=common_pb2.ExtensionPayload(type=EVC),
        end_points=[
            Ord.ConnectivityEndPoint(interface_service_id=ids.uni),
            Ord.ConnectivityEndPoint(interface_service_id=ids.uni2),
        ],
    ),
    V1 + "ServiceOrderingService/ListServiceTrackingRecords": lambda ids, spec: (
        Ord.ListServiceTrackingRecordsRequest(
            filter=Ord.ServiceTrackingRecordFilter(service_order_id=ids.order)
        )
    ),
    V1 + "EventService/StreamEvents": lambda ids, spec: events_pb2.StreamEventsRequest(
        start_time=timestamp_pb2.Timestamp(seconds=1)
    ),
}


def _generic(method: MethodDescriptor) -> Builder:
    """A request whose `id` and `*_id` string fields (top level) all name the resource of `ids`."""

    def build(ids: Ids, spec: str) -> Message:
        request = request_class(method)()
        for f in request.DESCRIPTOR.fields:
            is_string = f.type == FieldDescriptor.TYPE_STRING and not f.is_repeated
            if is_string and (f.name == "id" or f.name.endswith("_id")) and f.name != "request_id":
                setattr(request, f.name, ids.order if "order" in f.name else ids.service)
        return request

    return build


def _normal(outcome: Outcome, ids: Ids) -> tuple[object, ...]:
    """The outcome with the named ids blanked, to compare B's with the ghosts'."""

    def blank(text: str) -> str:
        for value in sorted(ids.all(), key=len, reverse=True):
            text = text.replace(value, "<id>")
        return text

    violations = {blank(k): blank(v) for k, v in outcome.violations.items()}
    metadata = {k: blank(v) for k, v in outcome.metadata.items()}
    return outcome.code, outcome.reason, blank(outcome.message), violations, metadata


def _leaks(outcome: Outcome, markers: set[str]) -> list[str]:
    payload = outcome.payload()
    return sorted(m for m in markers if m.encode() in payload)


def test_buyer_a_never_reaches_buyer_b_on_any_rpc(
    world: World, contract_services: list[ServiceDescriptor]
) -> None:
    problems: list[str] = []
    for method in methods(contract_services):
        name = path(method)
        build = CASES.get(name) or _generic(method)
        on_b = invoke(world.channel, method, build(world.b, world.spec), world.alpha, max_messages=50)
        on_ghost = invoke(world.channel, method, build(world.ghost, world.spec), world.alpha, max_messages=50)
        if on_b.code == grpc.StatusCode.PERMISSION_DENIED:
            problems.append(f"{name}: PERMISSION_DENIED reveals that B's resource exists")
        if on_b.code != grpc.StatusCode.OK and _normal(on_b, world.b) != _normal(on_ghost, world.ghost):
            b, g = _normal(on_b, world.b), _normal(on_ghost, world.ghost)
            problems.append(f"{name}: B's resource answers {b}, a ghost {g}")
        if on_b.code == grpc.StatusCode.OK and on_ghost.code != grpc.StatusCode.OK:
            problems.append(f"{name}: B's resource answers OK, a ghost {on_ghost.code}")
        if leaked := _leaks(on_b, world.b_markers):
            problems.append(f"{name}: A received B's {leaked}")
    assert not problems, "\n".join(problems)


def test_the_matrix_names_b_resources_on_every_built_rpc(
    world: World, contract_services: list[ServiceDescriptor]
) -> None:
    """The hand-written cases really point at B: B itself gets its data back through them."""
    by_path = {path(m): m for m in methods(contract_services)}
    assert set(CASES) <= set(by_path), "a case names an RPC the contract does not have"
    for name, build in CASES.items():
        method = by_path[name]
        on_b_as_b = invoke(world.channel, method, build(world.b, world.spec), world.beta, max_messages=50)
        if name.endswith(("GetService", "GetServiceOrder", "ListServices", "ListServiceTrackingRecords")):
            assert on_b_as_b.code == grpc.StatusCode.OK, (name, on_b_as_b)
            assert _leaks(on_b_as_b, world.b_markers), f"{name}: B does not see its own resource"


def test_a_stream_of_buyer_a_never_carries_buyer_b_events(world: World) -> None:
    stubs = Stubs.on(world.channel)
    replay = Collector(
        world.channel,
        events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=1)),
        world.alpha,
    )
    try:
        replay.wait_for(replay.synced)
        # Live: B changes something, then A does; A's own event proves everything before it arrived.
        b_order = stubs.ordering.SetAdministrativeState(
            Ord.SetAdministrativeStateRequest(
                service_id="beta-uni-2", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
            ),
            metadata=world.beta,
        ).service_order
        wait_for_order(stubs, b_order.id, world.beta)
        a_order = stubs.ordering.SetAdministrativeState(
            Ord.SetAdministrativeStateRequest(
                service_id="alpha-uni-3", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
            ),
            metadata=world.alpha,
        ).service_order
        wait_for_order(stubs, a_order.id, world.alpha)
        replay.wait_for(lambda: any(e.resource.id == a_order.id for e in replay.events()))
    finally:
        replay.stop()
    events = replay.events()
    assert events
    seen = b"".join(e.SerializeToString() for e in events)
    markers = world.b_markers | {b_order.id, "beta-uni-2"}
    assert not [m for m in markers if m.encode() in seen]
    # B's own stream does carry them: the markers are real.
    b_stream = Collector(
        world.channel,
        events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=1)),
        world.beta,
    )
    try:
        b_stream.wait_for(b_stream.synced)
    finally:
        b_stream.stop()
    assert any(e.resource.id == b_order.id for e in b_stream.events())
