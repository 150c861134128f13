"""Strict buyer isolation, as a matrix: buyer A (sp-alpha) against buyer B's (sp-beta) resources
on every RPC of the contract, and on the event stream.

The oracle for each RPC: A's call naming B's resources must end exactly like the same call naming
resources that do not exist (same code, reason, violations; ids aside), never PERMISSION_DENIED,
and nothing A gets back may carry B's ids or B's name. RPCs without a case of their own get one
built from their request descriptor (every `id`/`*_id` string field names B's resource), so a new
RPC is covered the day it appears. Calls carry real bearer tokens (`--auth token`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

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
    performance_pb2,
    service_test_pb2,
)
from interlude_server.rest.alarms.mapping import ALARM_BASE as ALM
from interlude_server.rest.operations import REST_OPERATIONS
from interlude_server.rest.performance.mapping import PM_BASE as PM
from tests.support.helpers import EVC, Stubs, wait_for_order
from tests.support.pm_helpers import CE_PM, Pmc, inline_job, service_job
from tests.support.rest import CAT, INV, ORD, SFT, Listener, Reply, RestClient
from tests.support.rpc import Outcome, invoke, methods, path, request_class
from tests.support.security import AUDIENCE, ISSUER, TokenIssuer, bearer
from tests.support.server_process import ServerProcess, launch
from tests.support.sft import SftClient, config_type, in_seconds, job, profile_request
from tests.support.streams import Collector

FM = "/mefApi/interlude/faultManagement/v3"
Metadata = tuple[tuple[str, str], ...]
V1 = "/mef.lso.interlude.v1."
Ord = ordering_pb2
St = service_test_pb2
Pm = performance_pb2


@dataclass
class Ids:
    """The resources a request names: B's real ones, or ghosts that exist for nobody."""

    service: str
    service2: str
    uni: str
    uni2: str
    order: str
    profile: str
    job: str
    task: str
    result: str
    # B's performance monitoring resources (made by the REST test; empty before).
    pm_profile: str = ""
    pm_job: str = ""
    pm_task: str = ""
    pm_report: str = ""

    def all(self) -> list[str]:
        return [getattr(self, f.name) for f in fields(self) if getattr(self, f.name)]

    @classmethod
    def ghost(cls) -> Ids:
        ghost = "ghost-" + uuid.uuid4().hex[:8]
        return cls(*(f"{ghost}-{f.name}" for f in fields(cls)))


@dataclass
class World:
    channel: grpc.Channel
    alpha: Metadata
    beta: Metadata
    b: Ids
    ghost: Ids
    spec: str
    rest_url: str
    b_markers: set[str] = field(default_factory=set)
    # B's hub registrations, by API base path (ghosts: ids that exist for nobody).
    b_hubs: dict[str, str] = field(default_factory=dict)
    ghost_hubs: dict[str, str] = field(default_factory=dict)

    def rest(self, who: Metadata) -> RestClient:
        return RestClient(self.rest_url, None, token=dict(who)["authorization"].removeprefix("Bearer "))


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
        "--rest-listen",
        "127.0.0.1:0",
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
        profile, tested, task, result = _beta_tests(SftClient(channel), beta)
        services_of_b = ("beta-ovc-1-ep-1", "beta-ovc-1-ep-2", "beta-uni-1", "beta-uni-2")
        b = Ids(*services_of_b, locked.id, profile, tested, task, result)
        world = World(channel, alpha, beta, b, Ids.ghost(), spec, token_server.rest_url)
        for api in (INV, ORD, SFT, PM, FM, ALM):
            registered = world.rest(beta).post(f"{api}/hub", {"callback": "http://127.0.0.1:9/b"})
            assert registered.status == 201, registered.body
            world.b_hubs[api] = registered.body["id"]
            world.ghost_hubs[api] = uuid.uuid4().hex
        world.b_markers = (
            {"sp-beta"} | {s.id for s in services.services} | {o.id for o in orders.service_orders}
        )
        world.b_markers |= {profile, tested, task, result, *world.b_hubs.values()}
        assert {"beta-uni-1", "beta-ovc-1-ep-1", locked.id} <= world.b_markers
        yield world


def _beta_tests(tests: SftClient, beta: Metadata) -> tuple[str, str, str, str]:
    """B's own service-test resources: a profile, and a finished job with its task and result."""
    profile = profile_request("b-profile", "carrier-ethernet-evc-end-point", "y1564-sat", {"cirSteps": [50]})
    profile_id = tests.stub.CreateTestProfile(
        St.CreateTestProfileRequest(test_profile=profile), metadata=beta
    ).test_profile.id
    later = in_seconds(600)
    loopback = job("b-loopback", "ethernet-loopback", "beta-ovc-1-ep-1", "beta-ovc-1-ep-2", {"count": 2})
    loopback.requested_start_date_time.CopyFrom(later)
    by_job = tests.create(loopback, beta).id
    deadline = time.monotonic() + 10
    while tests.get(by_job, beta).state != St.TEST_JOB_STATE_SCHEDULED:
        assert time.monotonic() < deadline, "B's job was not scheduled"
        time.sleep(0.02)
    start_now = St.TestJobModification(requested_start_date_time=in_seconds(0))
    task = tests.stub.ModifyTestJob(
        St.ModifyTestJobRequest(id=by_job, modification=start_now), metadata=beta
    ).test_job_task
    tests.follow(by_job, beta)
    result = tests.stub.ListTestResults(
        St.ListTestResultsRequest(filter=St.TestResultFilter(test_job_id=by_job)), metadata=beta
    ).test_results[0]
    return profile_id, by_job, task.id, result.id


def _cir_update(service_id: str) -> ordering_pb2.UpdateServiceRequest:
    config = struct_pb2.Struct()
    config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 50}}})
    return Ord.UpdateServiceRequest(
        service=inventory_pb2.Service(
            id=service_id, service_configuration=common_pb2.ExtensionPayload(attributes=config)
        ),
        update_mask=field_mask_pb2.FieldMask(
            paths=["service_configuration.attributes.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"]
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
    V1 + "ServiceOrderingService/ProvideOrderInformation": lambda ids, spec: (
        Ord.ProvideOrderInformationRequest(
            id=ids.order, item_id="1", note=[common_pb2.Note(text=ids.service)]
        )
    ),
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
    V1 + "ServiceTestService/GetTestProfile": lambda ids, spec: St.GetTestProfileRequest(id=ids.profile),
    V1 + "ServiceTestService/UpdateTestProfile": lambda ids, spec: St.UpdateTestProfileRequest(
        test_profile=St.TestProfile(id=ids.profile, name="renamed"),
        update_mask=field_mask_pb2.FieldMask(paths=["name"]),
    ),
    V1 + "ServiceTestService/DeleteTestProfile": lambda ids, spec: St.DeleteTestProfileRequest(
        id=ids.profile
    ),
    V1 + "ServiceTestService/CreateTestJob": lambda ids, spec: St.CreateTestJobRequest(
        test_job=job(
            "steal",
            "y1564-sat",
            ids.service,
            ids.service2,
            test_profile_ref=St.TestProfileRef(id=ids.profile),
        )
    ),
    V1 + "ServiceTestService/GetTestJob": lambda ids, spec: St.GetTestJobRequest(id=ids.job),
    V1 + "ServiceTestService/CancelTestJob": lambda ids, spec: St.CancelTestJobRequest(id=ids.job),
    V1 + "ServiceTestService/ModifyTestJob": lambda ids, spec: St.ModifyTestJobRequest(id=ids.job),
    V1 + "ServiceTestService/SuspendTestJob": lambda ids, spec: St.SuspendTestJobRequest(id=ids.job),
    V1 + "ServiceTestService/ResumeTestJob": lambda ids, spec: St.ResumeTestJobRequest(id=ids.job),
    V1 + "ServiceTestService/GetTestJobTask": lambda ids, spec: St.GetTestJobTaskRequest(id=ids.task),
    V1 + "ServiceTestService/ListTestJobTasks": lambda ids, spec: St.ListTestJobTasksRequest(
        filter=St.TestJobTaskFilter(test_job_id=ids.job)
    ),
    V1 + "ServiceTestService/GetTestResult": lambda ids, spec: St.GetTestResultRequest(id=ids.result),
    V1 + "ServiceTestService/ListTestResults": lambda ids, spec: St.ListTestResultsRequest(
        filter=St.TestResultFilter(test_job_id=ids.job)
    ),
    V1 + "ServiceTestService/StreamTestResults": lambda ids, spec: St.StreamTestResultsRequest(
        test_job_id=ids.job
    ),
}
# RPCs whose case B itself answers with B's data: proof the case names B's real resources.
B_SEES_ITS_OWN = (
    "GetService",
    "GetServiceOrder",
    "ListServices",
    "ListServiceTrackingRecords",
    "GetTestProfile",
    "GetTestJob",
    "GetTestJobTask",
    "ListTestJobTasks",
    "GetTestResult",
    "ListTestResults",
    "StreamTestResults",
)


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
        if name.rpartition("/")[2] in B_SEES_ITS_OWN:
            assert on_b_as_b.code == grpc.StatusCode.OK, (name, on_b_as_b)
            assert _leaks(on_b_as_b, world.b_markers), f"{name}: B does not see its own resource"


def _admin_state(
    world: World, who: Metadata, service_id: str, state: common_pb2.AdministrativeState.ValueType
) -> ordering_pb2.ServiceOrder:
    """Lock or unlock a service as `who`, and wait until the order completes."""
    stubs = Stubs.on(world.channel)
    request = Ord.SetAdministrativeStateRequest(service_id=service_id, administrative_state=state)
    order = stubs.ordering.SetAdministrativeState(request, metadata=who).service_order
    wait_for_order(stubs, order.id, who)
    return order


def test_a_stream_of_buyer_a_never_carries_buyer_b_events(world: World) -> None:
    replay = Collector(
        world.channel,
        events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=1)),
        world.alpha,
    )
    try:
        replay.wait_for(replay.synced)
        # Live: B changes something, then A does; A's own event proves everything before it arrived.
        b_order = _admin_state(world, world.beta, "beta-uni-2", common_pb2.ADMINISTRATIVE_STATE_LOCKED)
        a_order = _admin_state(world, world.alpha, "alpha-uni-3", common_pb2.ADMINISTRATIVE_STATE_LOCKED)
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


# --- REST ------------------------------------------------------------------------------------------

RestCase = Callable[[Ids, str, dict[str, str]], tuple[str, Any]]


def _modify_order_body(service_id: str) -> dict[str, Any]:
    config = {"@type": "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-ovc-end-point:v1.0.0:all"}
    return {
        "requestedStartDate": "2026-01-01T00:00:00Z",
        "requestedCompletionDate": "2026-01-02T00:00:00Z",
        "serviceOrderItem": [
            {
                "id": "1",
                "action": "modify",
                "service": {"id": service_id, "serviceConfiguration": config},
            }
        ],
    }


def _test_job_body(ids: Ids) -> dict[str, Any]:
    """A loopback test between B's OVC end points, with B's profile."""
    return {
        "name": "isolation",
        "requestedEndDateTime": "2099-01-01T00:00:00Z",
        "testProfile": {"@type": "TestProfileRef", "id": ids.profile},
        "relatedServiceFrom": {"id": ids.service},
        "relatedServiceTo": {"id": ids.service2},
        "serviceSpecificTestJobConfiguration": {"@type": config_type("ethernet-loopback")},
    }


def _task_cases(resource: str) -> dict[tuple[str, str], RestCase]:
    """A task resource: B's job as the task's subject, B's task id, and a list of B's job's tasks."""
    return {
        ("POST", f"{SFT}/{resource}"): lambda ids, spec, hubs: (
            f"{SFT}/{resource}",
            {"testJob": {"id": ids.job}},
        ),
        ("GET", f"{SFT}/{resource}"): lambda ids, spec, hubs: (f"{SFT}/{resource}?testJobId={ids.job}", None),
        ("GET", f"{SFT}/{resource}/{{id}}"): lambda ids, spec, hubs: (f"{SFT}/{resource}/{ids.task}", None),
    }


def _fm_ref(ids: Ids) -> dict[str, Any]:
    return {"faultManagementJob": {"@type": "FaultManagementJobRef", "faultManagementJobId": ids.job}}


def _fm_job_body(ids: Ids) -> dict[str, Any]:
    """An FM loopback between B's OVC end points."""
    return {
        "jobType": "on-demand",
        "granularity": {"timeDurationValue": 1, "timeDurationUnits": "SEC"},
        "reportingPeriod": {"timeDurationValue": 1, "timeDurationUnits": "DAY"},
        "outputFormat": "json",
        "resultFormat": "payload",
        "monitoredObject": {
            "@type": "ServiceFromToRef",
            "serviceFrom": {"serviceFromId": ids.service},
            "serviceTo": {"serviceToId": ids.service2},
        },
        "scheduleDefinition": {},
        "serviceSpecificConfiguration": {"@type": config_type("ethernet-loopback")},
    }


# Fault Management: B's loopback job (an FM job), its modify task and its report.
FM_CASES: dict[tuple[str, str], RestCase] = {
    ("POST", FM + "/faultManagementJob"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementJob",
        _fm_job_body(ids),
    ),
    ("GET", FM + "/faultManagementJob"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementJob?serviceFromId={ids.service}",
        None,
    ),
    ("GET", FM + "/faultManagementJob/{id}"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementJob/{ids.job}",
        None,
    ),
    ("POST", FM + "/faultManagementJob/{id}/suspend"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementJob/{ids.job}/suspend",
        None,
    ),
    ("POST", FM + "/faultManagementJob/{id}/resume"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementJob/{ids.job}/resume",
        None,
    ),
    ("POST", FM + "/cancelFaultManagementJob"): lambda ids, spec, hubs: (
        f"{FM}/cancelFaultManagementJob",
        _fm_ref(ids),
    ),
    ("GET", FM + "/cancelFaultManagementJob"): lambda ids, spec, hubs: (
        f"{FM}/cancelFaultManagementJob?faultManagementJobId={ids.job}",
        None,
    ),
    ("GET", FM + "/cancelFaultManagementJob/{id}"): lambda ids, spec, hubs: (
        f"{FM}/cancelFaultManagementJob/{ids.task}",
        None,
    ),
    ("POST", FM + "/modifyFaultManagementJob"): lambda ids, spec, hubs: (
        f"{FM}/modifyFaultManagementJob",
        {**_fm_ref(ids), "description": "stolen"},
    ),
    ("GET", FM + "/modifyFaultManagementJob"): lambda ids, spec, hubs: (
        f"{FM}/modifyFaultManagementJob?faultManagementJobId={ids.job}",
        None,
    ),
    ("GET", FM + "/modifyFaultManagementJob/{id}"): lambda ids, spec, hubs: (
        f"{FM}/modifyFaultManagementJob/{ids.task}",
        None,
    ),
    ("POST", FM + "/faultManagementJobComplexQuery"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementJobComplexQuery",
        {"monitoredObject": _fm_job_body(ids)["monitoredObject"]},
    ),
    ("GET", FM + "/faultManagementReport"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementReport?faultManagementJobId={ids.job}",
        None,
    ),
    ("GET", FM + "/faultManagementReport/{id}"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementReport/{ids.result}",
        None,
    ),
    ("POST", FM + "/faultManagementReportComplexQuery"): lambda ids, spec, hubs: (
        f"{FM}/faultManagementReportComplexQuery",
        _fm_ref(ids),
    ),
    ("GET", FM + "/trackingRecord"): lambda ids, spec, hubs: (f"{FM}/trackingRecord", None),
    ("POST", FM + "/hub"): lambda ids, spec, hubs: (
        f"{FM}/hub",
        {"callback": f"http://127.0.0.1:9/{ids.job}", "query": "eventType=notAnEvent"},
    ),
    ("GET", FM + "/hub/{id}"): lambda ids, spec, hubs: (f"{FM}/hub/{hubs[FM]}", None),
    ("DELETE", FM + "/hub/{id}"): lambda ids, spec, hubs: (f"{FM}/hub/{hubs[FM]}", None),
}


# Every route of the adapter (rest.operations.REST_OPERATIONS), with a request naming B's resources:
# (ids, catalog spec, hub registrations by API) -> (path with query, body or None).
REST_CASES: dict[tuple[str, str], RestCase] = {
    ("GET", INV + "/service"): lambda ids, spec, hubs: (
        f"{INV}/service?serviceOrder.id={ids.order}&serviceOrderItem.id=1",
        None,
    ),
    ("GET", INV + "/service/{id}"): lambda ids, spec, hubs: (f"{INV}/service/{ids.service}", None),
    ("POST", INV + "/hub"): lambda ids, spec, hubs: (
        f"{INV}/hub",
        {"callback": f"http://127.0.0.1:9/{ids.service}", "query": f"eventType={ids.service}"},
    ),
    ("GET", INV + "/hub/{id}"): lambda ids, spec, hubs: (f"{INV}/hub/{hubs[INV]}", None),
    ("DELETE", INV + "/hub/{id}"): lambda ids, spec, hubs: (f"{INV}/hub/{hubs[INV]}", None),
    ("POST", ORD + "/serviceOrder"): lambda ids, spec, hubs: (
        f"{ORD}/serviceOrder",
        _modify_order_body(ids.service),
    ),
    ("GET", ORD + "/serviceOrder"): lambda ids, spec, hubs: (
        f"{ORD}/serviceOrder?externalId={ids.order}",
        None,
    ),
    ("GET", ORD + "/serviceOrder/{id}"): lambda ids, spec, hubs: (f"{ORD}/serviceOrder/{ids.order}", None),
    ("POST", ORD + "/serviceOrder/{id}/cancel"): lambda ids, spec, hubs: (
        f"{ORD}/serviceOrder/{ids.order}/cancel",
        {},
    ),
    ("POST", ORD + "/serviceOrder/{id}/information"): lambda ids, spec, hubs: (
        f"{ORD}/serviceOrder/{ids.order}/information",
        {"itemId": "1", "note": [{"text": ids.service}]},
    ),
    ("POST", ORD + "/hub"): lambda ids, spec, hubs: (
        f"{ORD}/hub",
        {"callback": f"http://127.0.0.1:9/{ids.order}", "query": f"eventType={ids.order}"},
    ),
    ("GET", ORD + "/hub/{id}"): lambda ids, spec, hubs: (f"{ORD}/hub/{hubs[ORD]}", None),
    ("DELETE", ORD + "/hub/{id}"): lambda ids, spec, hubs: (f"{ORD}/hub/{hubs[ORD]}", None),
    ("GET", CAT + "/serviceSpecification"): lambda ids, spec, hubs: (f"{CAT}/serviceSpecification", None),
    ("GET", CAT + "/serviceSpecification/{id}"): lambda ids, spec, hubs: (
        f"{CAT}/serviceSpecification/{spec}",
        None,
    ),
    ("GET", CAT + "/servicePolicy"): lambda ids, spec, hubs: (f"{CAT}/servicePolicy", None),
    ("GET", CAT + "/servicePolicy/{id}"): lambda ids, spec, hubs: (f"{CAT}/servicePolicy/{spec}", None),
    # Schema documents are public like specifications: the same answer for every buyer.
    ("GET", CAT + "/serviceSchema/{location}"): lambda ids, spec, hubs: (
        f"{CAT}/serviceSchema/{spec}.json",
        None,
    ),
    # Service function testing: B's profile, job, task and result, and jobs on B's services.
    ("POST", SFT + "/testProfile"): lambda ids, spec, hubs: (
        f"{SFT}/testProfile",
        {"name": ids.profile, "relatedServiceSpecification": {"id": ids.profile}},
    ),
    ("GET", SFT + "/testProfile"): lambda ids, spec, hubs: (f"{SFT}/testProfile", None),
    ("GET", SFT + "/testProfile/{id}"): lambda ids, spec, hubs: (f"{SFT}/testProfile/{ids.profile}", None),
    ("PATCH", SFT + "/testProfile/{id}"): lambda ids, spec, hubs: (
        f"{SFT}/testProfile/{ids.profile}",
        {"description": "taken over"},
    ),
    ("DELETE", SFT + "/testProfile/{id}"): lambda ids, spec, hubs: (f"{SFT}/testProfile/{ids.profile}", None),
    ("POST", SFT + "/testJob"): lambda ids, spec, hubs: (f"{SFT}/testJob", _test_job_body(ids)),
    ("GET", SFT + "/testJob"): lambda ids, spec, hubs: (
        f"{SFT}/testJob?relatedServiceIdFrom={ids.service}",
        None,
    ),
    ("GET", SFT + "/testJob/{id}"): lambda ids, spec, hubs: (f"{SFT}/testJob/{ids.job}", None),
    **{
        key: case
        for resource in ("cancelTestJob", "suspendTestJob", "resumeTestJob", "modifyTestJob")
        for key, case in _task_cases(resource).items()
    },
    ("GET", SFT + "/testResult"): lambda ids, spec, hubs: (f"{SFT}/testResult?testJobId={ids.job}", None),
    ("GET", SFT + "/testResult/{id}"): lambda ids, spec, hubs: (f"{SFT}/testResult/{ids.result}", None),
    ("POST", SFT + "/hub"): lambda ids, spec, hubs: (
        f"{SFT}/hub",
        {"callback": f"http://127.0.0.1:9/{ids.job}", "query": "eventType=notAnEvent"},
    ),
    ("GET", SFT + "/hub/{id}"): lambda ids, spec, hubs: (f"{SFT}/hub/{hubs[SFT]}", None),
    ("DELETE", SFT + "/hub/{id}"): lambda ids, spec, hubs: (f"{SFT}/hub/{hubs[SFT]}", None),
    # Performance monitoring: B's profile, job and cancel task, and a job on B's service.
    ("POST", PM + "/performanceProfile"): lambda ids, spec, hubs: (
        f"{PM}/performanceProfile",
        {"description": ids.pm_profile},
    ),
    ("GET", PM + "/performanceProfile"): lambda ids, spec, hubs: (f"{PM}/performanceProfile", None),
    ("GET", PM + "/performanceProfile/{id}"): lambda ids, spec, hubs: (
        f"{PM}/performanceProfile/{ids.pm_profile}",
        None,
    ),
    ("DELETE", PM + "/performanceProfile/{id}"): lambda ids, spec, hubs: (
        f"{PM}/performanceProfile/{ids.pm_profile}",
        None,
    ),
    ("POST", PM + "/performanceJob"): lambda ids, spec, hubs: (
        f"{PM}/performanceJob",
        {
            "performanceProfile": {"@type": "PerformanceProfileRef", "performanceProfileId": ids.pm_profile},
            "monitoredObject": {"@type": "ServiceRef", "serviceId": ids.service},
            "scheduleDefinition": {},
        },
    ),
    ("GET", PM + "/performanceJob"): lambda ids, spec, hubs: (f"{PM}/performanceJob", None),
    ("GET", PM + "/performanceJob/{id}"): lambda ids, spec, hubs: (f"{PM}/performanceJob/{ids.pm_job}", None),
    ("POST", PM + "/performanceJob/{id}/suspend"): lambda ids, spec, hubs: (
        f"{PM}/performanceJob/{ids.pm_job}/suspend",
        None,
    ),
    ("POST", PM + "/performanceJob/{id}/resume"): lambda ids, spec, hubs: (
        f"{PM}/performanceJob/{ids.pm_job}/resume",
        None,
    ),
    ("POST", PM + "/cancelPerformanceJob"): lambda ids, spec, hubs: (
        f"{PM}/cancelPerformanceJob",
        {"performanceJob": {"@type": "PerformanceJobRef", "performanceJobId": ids.pm_job}},
    ),
    ("GET", PM + "/cancelPerformanceJob/{id}"): lambda ids, spec, hubs: (
        f"{PM}/cancelPerformanceJob/{ids.pm_task}",
        None,
    ),
    ("POST", PM + "/modifyPerformanceJob"): lambda ids, spec, hubs: (
        f"{PM}/modifyPerformanceJob",
        {"performanceJob": {"@type": "PerformanceJobRef", "performanceJobId": ids.pm_job}},
    ),
    ("GET", PM + "/modifyPerformanceJob/{id}"): lambda ids, spec, hubs: (
        f"{PM}/modifyPerformanceJob/{ids.pm_task}",
        None,
    ),
    ("GET", PM + "/performanceReport"): lambda ids, spec, hubs: (
        f"{PM}/performanceReport?offset=0",
        None,
    ),
    ("GET", PM + "/performanceReport/{id}"): lambda ids, spec, hubs: (
        f"{PM}/performanceReport/{ids.pm_report}",
        None,
    ),
    ("PATCH", PM + "/performanceProfile/{id}"): lambda ids, spec, hubs: (
        f"{PM}/performanceProfile/{ids.pm_profile}",
        {"description": "changed by another buyer"},
    ),
    ("GET", PM + "/cancelPerformanceJob"): lambda ids, spec, hubs: (
        f"{PM}/cancelPerformanceJob?performanceJobId={ids.pm_job}",
        None,
    ),
    ("GET", PM + "/modifyPerformanceJob"): lambda ids, spec, hubs: (
        f"{PM}/modifyPerformanceJob?performanceJobId={ids.pm_job}",
        None,
    ),
    ("POST", PM + "/performanceJobComplexQuery"): lambda ids, spec, hubs: (
        f"{PM}/performanceJobComplexQuery",
        {"monitoredObject": {"@type": "ServiceRef", "serviceId": ids.service}},
    ),
    ("POST", PM + "/performanceReport"): lambda ids, spec, hubs: (
        f"{PM}/performanceReport",
        {
            "monitoredObject": [{"@type": "ServiceRef", "serviceId": ids.service}],
            "granularity": {"timeDurationValue": 15, "timeDurationUnits": "MIN"},
            "reportingTimeframe": {
                "reportingStartDate": "2026-01-01T00:00:00Z",
                "reportingEndDate": "2026-01-01T01:00:00Z",
            },
            "outputFormat": "json",
            "resultFormat": "payload",
            "serviceSpecificConfiguration": {"@type": CE_PM},
        },
    ),
    ("GET", PM + "/performanceReport/{id}/file"): lambda ids, spec, hubs: (
        f"{PM}/performanceReport/{ids.pm_report}/file",
        None,
    ),
    ("POST", PM + "/performanceReportComplexQuery"): lambda ids, spec, hubs: (
        f"{PM}/performanceReportComplexQuery",
        {"performanceJob": {"@type": "PerformanceJobRef", "performanceJobId": ids.pm_job}},
    ),
    ("GET", PM + "/trackingRecord"): lambda ids, spec, hubs: (
        f"{PM}/trackingRecord?relatedPerformanceJobId={ids.pm_job}",
        None,
    ),
    ("POST", PM + "/hub"): lambda ids, spec, hubs: (
        f"{PM}/hub",
        {"callback": f"http://127.0.0.1:9/{ids.pm_job}", "query": "eventType=notAnEvent"},
    ),
    ("GET", PM + "/hub/{id}"): lambda ids, spec, hubs: (f"{PM}/hub/{hubs[PM]}", None),
    ("DELETE", PM + "/hub/{id}"): lambda ids, spec, hubs: (f"{PM}/hub/{hubs[PM]}", None),
    **FM_CASES,
    # Alarms: the alarms on B's service, and an alarm id A does not have.
    ("GET", ALM + "/alarm"): lambda ids, spec, hubs: (f"{ALM}/alarm?affectedServiceId={ids.service}", None),
    ("GET", ALM + "/alarm/{id}"): lambda ids, spec, hubs: (f"{ALM}/alarm/{ids.service}", None),
    ("POST", ALM + "/hub"): lambda ids, spec, hubs: (
        f"{ALM}/hub",
        {"callback": f"http://127.0.0.1:9/{ids.service}", "query": "eventType=notAnEvent"},
    ),
    ("GET", ALM + "/hub/{id}"): lambda ids, spec, hubs: (f"{ALM}/hub/{hubs[ALM]}", None),
    ("DELETE", ALM + "/hub/{id}"): lambda ids, spec, hubs: (f"{ALM}/hub/{hubs[ALM]}", None),
}


def _rest_normal(reply: Reply, ids: Ids, hubs: dict[str, str]) -> tuple[object, ...]:
    text = json.dumps(reply.body, sort_keys=True)
    for value in sorted([*ids.all(), *hubs.values()], key=len, reverse=True):
        text = text.replace(value, "<id>")
    return reply.status, reply.headers.get("X-Interlude-Reason", ""), text


def test_every_rest_route_has_an_isolation_case() -> None:
    assert set(REST_CASES) == set(REST_OPERATIONS)


def test_buyer_a_never_reaches_buyer_b_on_any_rest_route(world: World) -> None:
    # The gRPC matrix let B delete its own profile; B makes a fresh one for the REST cases.
    fresh = profile_request(
        "b-profile-rest", "carrier-ethernet-evc-end-point", "y1564-sat", {"cirSteps": [50]}
    )
    request = St.CreateTestProfileRequest(test_profile=fresh)
    # B's PM profile and job (cancelled: its cancel task is B's too). No report: this server's
    # simulated time is not scaled, so its report id is one nobody has.
    pm = Pmc(world.channel, world.beta)
    pm_profile = pm.create_profile()
    pm_job = pm.create_job(service_job(pm_profile.id, "beta-ovc-1"))
    pm.wait_for_job(pm_job.id, Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS)
    cancel = Pm.CancelPerformanceJobRequest(id=pm_job.id)
    pm_task = pm.stub.CancelPerformanceJob(cancel, metadata=world.beta).performance_job_task
    b = replace(
        world.b,
        profile=SftClient(world.channel).stub.CreateTestProfile(request, metadata=world.beta).test_profile.id,
        pm_profile=pm_profile.id,
        pm_job=pm_job.id,
        pm_task=pm_task.id,
        pm_report="b-report-" + uuid.uuid4().hex[:8],
    )
    alpha = world.rest(world.alpha)
    problems: list[str] = []
    for (method, template), case in REST_CASES.items():
        path_b, body_b = case(b, world.spec, world.b_hubs)
        path_g, body_g = case(world.ghost, world.spec, world.ghost_hubs)
        on_b, on_ghost = alpha.call(method, path_b, body_b), alpha.call(method, path_g, body_g)
        name = f"{method} {template}"
        if on_b.status == 403:
            problems.append(f"{name}: 403 reveals that B's resource exists")
        if _rest_normal(on_b, b, world.b_hubs) != _rest_normal(on_ghost, world.ghost, world.ghost_hubs):
            got = f"{on_b.status} {on_b.body}"
            problems.append(f"{name}: B's resource answers {got}, a ghost {on_ghost.status}")
        # An error may echo the id A sent (as for a ghost); a success must carry nothing of B's.
        answered = json.dumps(on_b.body) if on_b.status < 300 else ""
        if leaked := sorted(
            m for m in world.b_markers | {b.profile, b.pm_profile, b.pm_job, b.pm_task} if m in answered
        ):
            problems.append(f"{name}: A received B's {leaked}")
    assert not problems, "\n".join(problems)
    # The cases name B's real resources: B itself gets them (and its hubs survived A's DELETEs).
    beta = world.rest(world.beta)
    owned = [
        ("GET", INV + "/service/{id}"),
        ("GET", ORD + "/serviceOrder/{id}"),
        ("GET", SFT + "/testProfile/{id}"),
        ("GET", SFT + "/testJob/{id}"),
        ("GET", SFT + "/testResult/{id}"),
        ("GET", PM + "/performanceProfile/{id}"),
        ("GET", PM + "/performanceJob/{id}"),
        ("GET", PM + "/cancelPerformanceJob/{id}"),
        ("GET", FM + "/faultManagementJob/{id}"),
        ("GET", FM + "/modifyFaultManagementJob/{id}"),
        ("GET", FM + "/faultManagementReport/{id}"),
    ]
    for key in owned + [("GET", api + "/hub/{id}") for api in (INV, ORD, SFT, PM, FM, ALM)]:
        path_b, _ = REST_CASES[key](b, world.spec, world.b_hubs)
        assert beta.get(path_b).status == 200, key


def test_hub_callbacks_deliver_only_their_buyers_events(world: World) -> None:
    mine, theirs = Listener(), Listener()
    try:
        for who, listener in ((world.alpha, mine), (world.beta, theirs)):
            reply = world.rest(who).post(f"{ORD}/hub", {"callback": listener.url})
            assert reply.status == 201, reply.body
        b_order = _admin_state(world, world.beta, "beta-uni-1", common_pb2.ADMINISTRATIVE_STATE_UNLOCKED)
        a_order = _admin_state(world, world.alpha, "alpha-uni-2", common_pb2.ADMINISTRATIVE_STATE_LOCKED)
        # Delivery is in log order, so A's last event arriving proves B's earlier ones were passed over.
        mine.wait_for(lambda bodies: any(b["event"]["id"] == a_order.id for b in bodies))
        theirs.wait_for(lambda bodies: any(b["event"]["id"] == b_order.id for b in bodies))
        seen = b"".join(d.raw for d in mine.deliveries())
        markers = world.b_markers | {b_order.id}
        assert not [m for m in markers if m.encode() in seen]
        assert not [d for d in theirs.deliveries() if a_order.id.encode() in d.raw]
    finally:
        mine.close()
        theirs.close()


def test_a_complex_query_never_matches_another_buyers_jobs(world: World) -> None:
    """QueryPerformanceJobs and the REST complex query: B's job with the very settings A asks
    for never matches A's query; B's own query finds it (the clause is real)."""
    a, b = Pmc(world.channel, world.alpha), Pmc(world.channel, world.beta)
    settings = Pm.PerformanceProfileValue(
        granularity=Pm.TimeDuration(value=5, units=Pm.TIME_DURATION_UNITS_MIN)
    )
    b_job = b.create_job(inline_job("beta-ovc-1", 5, "iso-query"))
    a_job = a.create_job(inline_job("alpha-evc-1", 5, "iso-query"))
    request = Pm.QueryPerformanceJobsRequest(performance_profile_value=settings, page_size=1000)

    def ids(pmc: Pmc) -> set[str]:
        return {j.id for j in pmc.stub.QueryPerformanceJobs(request, metadata=pmc.md).performance_jobs}

    assert a_job.id in ids(a)
    assert b_job.id not in ids(a)
    assert b_job.id in ids(b)
    body = {
        "buyerJobId": "iso-query",
        "performanceProfile": {
            "@type": "PerformanceProfileValue_Query",
            "granularity": {"timeDurationValue": 5, "timeDurationUnits": "MIN"},
        },
    }
    seen = world.rest(world.alpha).post(f"{PM}/performanceJobComplexQuery", body)
    assert seen.status == 200, seen.body
    assert [j["id"] for j in seen.body] == [a_job.id]
    assert [j["id"] for j in world.rest(world.beta).post(f"{PM}/performanceJobComplexQuery", body).body] == [
        b_job.id
    ]
