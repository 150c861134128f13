"""One policy gate for every change: each rule refuses the same way on every entry point.

The table is rule x entry point: gRPC CreateServiceOrder (add, modify, delete), UpdateService,
SetAdministrativeState, CreateConnectivity, and REST `POST /serviceOrder`. Every gRPC case runs
as a dry run (validate_only) and for real: both must get the same refusal, naming the same
rule, and nothing may change. Orders are written once in a neutral form (MEF JSON items) and
turned into the gRPC message and the REST body here, independently of the adapter's code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format, struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from tests.conftest import DbFor
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, OVC, OVC_EP, UNI, Stubs, rich_error, wait_for_order
from tests.support.rest import ORD, RestClient
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.stores("sqlite", "postgresql")

Ord = ordering_pb2
Inv = inventory_pb2
Json = dict[str, Any]
STATES = {
    "active": common_pb2.SERVICE_STATE_ACTIVE,
    "inactive": common_pb2.SERVICE_STATE_INACTIVE,
    "terminated": common_pb2.SERVICE_STATE_TERMINATED,
}
CIR_PATH = "ingressBandwidthProfilePerOvcEndPoint.cir.irValue"
# The rules, as the refusals name them.
OUTSIDE = ("CONNECTIVITY_NOT_PERMITTED", f"connectivity:{OVC}:interface:alpha-enni-2")
INTERFACE = ("CONNECTIVITY_NOT_PERMITTED", f"arrangement:interface:{UNI}")
ADMIN = ("POLICY_VIOLATION", "policy:carrier-ethernet-enni-service:/administrativeState/state")
RANGE = ("POLICY_VIOLATION", f"policy:carrier-ethernet-ovc-end-point:/{CIR_PATH.replace('.', '/')}")


@dataclass(frozen=True)
class Item:
    """An order item in MEF JSON terms (`service` is a ServiceValue)."""

    id: str
    action: str
    service: Json
    end_point_of: str = ""  # the id of the item this one is an end point of


@dataclass
class Ctx:
    stubs: Stubs
    rest: RestClient
    current: dict[str, Inv.Service] = field(default_factory=dict)

    def service(self, service_id: str) -> Inv.Service:
        got = self.stubs.inventory.GetService(Inv.GetServiceRequest(id=service_id), metadata=ALPHA)
        return got.service

    def config(self, service_id: str, **changes: Any) -> Json:
        """The service's whole configuration as MEF JSON, with `changes` (dotted paths) applied."""
        service = self.service(service_id)
        doc = json_format.MessageToDict(service.service_configuration.attributes)
        for path, value in changes.items():
            *parents, leaf = path.split("__")
            node = doc
            for p in parents:
                node = node[p]
            node[leaf] = value
        return {"@type": service.service_configuration.type, **doc}


def _grpc_service(d: Json) -> Inv.Service:
    config = dict(d.get("serviceConfiguration", {}))
    type_urn = config.pop("@type", "")
    attributes = struct_pb2.Struct()
    attributes.update(config)
    return Inv.Service(
        id=d.get("id", ""),
        state=STATES.get(d.get("state", ""), common_pb2.SERVICE_STATE_UNSPECIFIED),
        service_configuration=common_pb2.ExtensionPayload(type=type_urn, attributes=attributes)
        if type_urn
        else None,
        service_relationship=[
            Inv.ServiceRelationship(
                relationship_type=r["relationshipType"], service=common_pb2.ServiceRef(id=r["service"]["id"])
            )
            for r in d.get("serviceRelationship", [])
        ],
    )


_ACTIONS = {
    "add": Ord.SERVICE_ACTION_ADD,
    "modify": Ord.SERVICE_ACTION_MODIFY,
    "delete": Ord.SERVICE_ACTION_DELETE,
}


def grpc_order(items: list[Item]) -> Ord.ServiceOrder:
    return Ord.ServiceOrder(
        service_order_item=[
            Ord.ServiceOrderItem(
                id=i.id,
                action=_ACTIONS[i.action],
                service=_grpc_service(i.service),
                service_order_item_relationship=[
                    Ord.ServiceOrderItemRelationship(
                        relationship_type="ENDPOINT_OF",
                        order_item=Inv.ServiceOrderItemRef(item_id=i.end_point_of),
                    )
                ]
                if i.end_point_of
                else [],
            )
            for i in items
        ]
    )


def rest_order(items: list[Item]) -> Json:
    def item(i: Item) -> Json:
        out: Json = {"id": i.id, "action": i.action, "service": i.service}
        if i.end_point_of:
            out["serviceOrderItemRelationship"] = [
                {"relationshipType": "ENDPOINT_OF", "orderItem": {"itemId": i.end_point_of}}
            ]
        return out

    return {
        "requestedStartDate": "2026-01-01T00:00:00Z",
        "requestedCompletionDate": "2026-01-02T00:00:00Z",
        "serviceOrderItem": [item(i) for i in items],
    }


def _end_point(item_id: str, interface: str, cir: float = 100) -> Item:
    config = {"@type": OVC_EP, "ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": cir}}}
    relationship = {"relationshipType": "ATTACHED_TO", "service": {"id": interface}}
    service = {"state": "active", "serviceConfiguration": config, "serviceRelationship": [relationship]}
    return Item(item_id, "add", service, end_point_of="ovc")


def new_ovc(a: str, b: str, cir: float = 100) -> list[Item]:
    """A plain order adding an OVC and its two end points, as CreateConnectivity would."""
    ovc = Item("ovc", "add", {"state": "active", "serviceConfiguration": {"@type": OVC}})
    return [ovc, _end_point("ep-1", a, cir), _end_point("ep-2", b, cir)]


def new_uni(_: Ctx) -> list[Item]:
    return [
        Item(
            "1", "add", {"state": "active", "serviceConfiguration": {"@type": UNI, "maximumFrameSize": 1522}}
        )
    ]


def retire(service_id: str) -> Callable[[Ctx], list[Item]]:
    return lambda _ctx: [Item("1", "delete", {"id": service_id})]


def modify(service_id: str, state: str = "", changes: Json | None = None) -> Callable[[Ctx], list[Item]]:
    def items(ctx: Ctx) -> list[Item]:
        service: Json = {"id": service_id, "serviceConfiguration": ctx.config(service_id, **(changes or {}))}
        if state:
            service["state"] = state
        return [Item("1", "modify", service)]

    return items


# ---- entry points: each takes the context, what to send, and validate_only ----

Call = Callable[[Ctx, bool], Any]


def by_order(items: Callable[[Ctx], list[Item]]) -> Call:
    def call(ctx: Ctx, dry: bool) -> Any:
        request = Ord.CreateServiceOrderRequest(service_order=grpc_order(items(ctx)), validate_only=dry)
        return ctx.stubs.ordering.CreateServiceOrder(request, metadata=ALPHA)

    return call


def by_rest(items: Callable[[Ctx], list[Item]]) -> Call:
    def call(ctx: Ctx, dry: bool) -> Any:
        return ctx.rest.post(f"{ORD}/serviceOrder", rest_order(items(ctx)))

    return call


def by_update(service_id: str, paths: list[str], service: Callable[[Ctx], Inv.Service]) -> Call:
    def call(ctx: Ctx, dry: bool) -> Any:
        request = Ord.UpdateServiceRequest(
            service=service(ctx), update_mask=field_mask_pb2.FieldMask(paths=paths), validate_only=dry
        )
        request.service.id = service_id
        return ctx.stubs.ordering.UpdateService(request, metadata=ALPHA)

    return call


def by_admin(service_id: str, state: common_pb2.AdministrativeState.ValueType) -> Call:
    def call(ctx: Ctx, dry: bool) -> Any:
        request = Ord.SetAdministrativeStateRequest(
            service_id=service_id,
            administrative_state=state,
            validate_only=dry,
        )
        return ctx.stubs.ordering.SetAdministrativeState(request, metadata=ALPHA)

    return call


def by_connectivity(a: str, b: str, cir: float = 100) -> Call:
    def call(ctx: Ctx, dry: bool) -> Any:
        config = struct_pb2.Struct()
        config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": cir}}})
        end_points = [
            Ord.ConnectivityEndPoint(
                interface_service_id=i, end_point_configuration=common_pb2.ExtensionPayload(attributes=config)
            )
            for i in (a, b)
        ]
        request = Ord.CreateConnectivityRequest(
            connectivity_configuration=common_pb2.ExtensionPayload(type=OVC),
            end_points=end_points,
            validate_only=dry,
        )
        return ctx.stubs.ordering.CreateConnectivity(request, metadata=ALPHA)

    return call


def _state(state: int) -> Callable[[Ctx], Inv.Service]:
    return lambda _ctx: Inv.Service(state=state)  # type: ignore[arg-type]


def _cir(amount: float) -> Callable[[Ctx], Inv.Service]:
    def service(_ctx: Ctx) -> Inv.Service:
        config = struct_pb2.Struct()
        config.update({"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": amount}}})
        return Inv.Service(service_configuration=common_pb2.ExtensionPayload(attributes=config))

    return service


def _locked_in_config(_ctx: Ctx) -> Inv.Service:
    config = struct_pb2.Struct()
    config.update({"administrativeState": {"state": "LOCKED"}})
    return Inv.Service(service_configuration=common_pb2.ExtensionPayload(attributes=config))


def _hoisted_lock(ctx: Ctx, dry: bool) -> Any:
    """A modify sending the typed administrative_state only (not the configuration's)."""
    current = ctx.service("alpha-enni-1")
    wanted = Inv.Service(
        id=current.id,
        administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED,
        service_configuration=current.service_configuration,
    )
    order = Ord.ServiceOrder(
        service_order_item=[Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=wanted)]
    )
    request = Ord.CreateServiceOrderRequest(service_order=order, validate_only=dry)
    return ctx.stubs.ordering.CreateServiceOrder(request, metadata=ALPHA)


INACTIVE, TERMINATED = common_pb2.SERVICE_STATE_INACTIVE, common_pb2.SERVICE_STATE_TERMINATED
CIR_MASK = f"service_configuration.attributes.{CIR_PATH}"
TABLE: list[tuple[str, tuple[str, str], Call]] = [
    # The business arrangement: an OVC end point at an ENNI the buyer may not use.
    ("order add", OUTSIDE, by_order(lambda _c: new_ovc("alpha-uni-1", "alpha-enni-2"))),
    ("rest add", OUTSIDE, by_rest(lambda _c: new_ovc("alpha-uni-1", "alpha-enni-2"))),
    ("CreateConnectivity", OUTSIDE, by_connectivity("alpha-uni-1", "alpha-enni-2")),
    # The business arrangement: service interfaces are the Partner's to add and retire.
    ("order add", INTERFACE, by_order(new_uni)),
    ("rest add", INTERFACE, by_rest(new_uni)),
    ("order delete", INTERFACE, by_order(retire("alpha-uni-1"))),
    ("rest delete", INTERFACE, by_rest(retire("alpha-uni-1"))),
    # The administrative and lifecycle policy: alpha-enni-1's state is not the buyer's to change.
    ("SetAdministrativeState", ADMIN, by_admin("alpha-enni-1", common_pb2.ADMINISTRATIVE_STATE_LOCKED)),
    ("UpdateService state inactive", ADMIN, by_update("alpha-enni-1", ["state"], _state(INACTIVE))),
    ("UpdateService state terminated", ADMIN, by_update("alpha-enni-1", ["state"], _state(TERMINATED))),
    (
        "UpdateService administrativeState",
        ADMIN,
        by_update(
            "alpha-enni-1", ["service_configuration.attributes.administrativeState"], _locked_in_config
        ),
    ),
    ("order modify state", ADMIN, by_order(modify("alpha-enni-1", "inactive"))),
    ("order modify administrative_state", ADMIN, _hoisted_lock),
    ("order delete", ADMIN, by_order(retire("alpha-enni-1"))),
    ("rest modify state", ADMIN, by_rest(modify("alpha-enni-1", "inactive"))),
    ("rest delete", ADMIN, by_rest(retire("alpha-enni-1"))),
    # Value policy: CIR within [10, 1000] Mbps.
    ("UpdateService", RANGE, by_update("alpha-ovc-1-ep-1", [CIR_MASK], _cir(5))),
    ("order modify", RANGE, by_order(modify("alpha-ovc-1-ep-1", changes={CIR_PATH.replace(".", "__"): 5}))),
    ("order add", RANGE, by_order(lambda _c: new_ovc("alpha-uni-1", "alpha-uni-2", cir=5))),
    ("CreateConnectivity", RANGE, by_connectivity("alpha-uni-1", "alpha-uni-2", cir=5)),
    ("rest modify", RANGE, by_rest(modify("alpha-ovc-1-ep-1", changes={CIR_PATH.replace(".", "__"): 5}))),
    ("rest add", RANGE, by_rest(lambda _c: new_ovc("alpha-uni-1", "alpha-uni-2", cir=5))),
]
_NAMES = {
    OUTSIDE: "arrangement-interface",
    INTERFACE: "arrangement-new-interface",
    ADMIN: "admin",
    RANGE: "range",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_for: DbFor) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("gate")
    running = launch_demo(workdir, "--rest-listen", "127.0.0.1:0", db=db_for(workdir))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def ctx(server: ServerProcess) -> Iterator[Ctx]:
    with grpc.insecure_channel(server.target) as channel:
        yield Ctx(Stubs.on(channel), RestClient(server.rest_url))


def _snapshot(ctx: Ctx) -> tuple[set[tuple[str, str]], int]:
    services = ctx.stubs.inventory.ListServices(
        Inv.ListServicesRequest(page_size=100), metadata=ALPHA
    ).services
    orders = ctx.stubs.ordering.ListServiceOrders(Ord.ListServiceOrdersRequest(), metadata=ALPHA).total_size
    return {(s.id, s.etag) for s in services}, orders


@pytest.mark.parametrize(
    ("entry", "rule", "call"),
    TABLE,
    ids=[f"{_NAMES[rule]}-{entry.replace(' ', '-')}" for entry, rule, _ in TABLE],
)
def test_each_rule_refuses_the_same_way_on_every_entry_point(
    ctx: Ctx, entry: str, rule: tuple[str, str], call: Call
) -> None:
    reason, subject = rule
    before = _snapshot(ctx)
    if entry.startswith("rest"):
        reply = call(ctx, False)
        assert reply.status == (403 if reason == "CONNECTIVITY_NOT_PERMITTED" else 422), reply.body
        assert reply.headers["X-Interlude-Reason"] == reason
    else:
        for dry in (True, False):  # validate_only refuses what the real call refuses
            with pytest.raises(grpc.RpcError) as refused:
                call(ctx, dry)
            error = rich_error(refused.value)
            assert (error.reason, set(error.rules)) == (reason, {subject}), error.message
    assert _snapshot(ctx) == before  # nothing was changed or ordered


def _refusal(ctx: Ctx, order: Ord.ServiceOrder) -> Any:
    with pytest.raises(grpc.RpcError) as refused:
        ctx.stubs.ordering.CreateServiceOrder(
            Ord.CreateServiceOrderRequest(service_order=order), metadata=ALPHA
        )
    return rich_error(refused.value)


def _modified(ctx: Ctx, service: Inv.Service) -> Ord.ServiceOrder:
    """A one-item modify order, followed until it is final."""
    item = Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=service)
    request = Ord.CreateServiceOrderRequest(service_order=Ord.ServiceOrder(service_order_item=[item]))
    order = ctx.stubs.ordering.CreateServiceOrder(request, metadata=ALPHA).service_order
    return wait_for_order(ctx.stubs, order.id)


def test_what_the_arrangement_allows_passes_the_gate_by_plain_order(ctx: Ctx) -> None:
    order = ctx.stubs.ordering.CreateServiceOrder(
        Ord.CreateServiceOrderRequest(service_order=grpc_order(new_ovc("alpha-uni-3", "alpha-enni-1"))),
        metadata=ALPHA,
    ).service_order
    done = wait_for_order(ctx.stubs, order.id)
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
    ovc_id, *end_point_ids = (i.service.id for i in done.service_order_item)
    relations = [
        {(r.relationship_type, r.service.id) for r in ctx.service(ep).service_relationship}
        for ep in end_point_ids
    ]
    assert relations == [
        {("ATTACHED_TO", "alpha-uni-3"), ("ENDPOINT_OF", ovc_id)},
        {("ATTACHED_TO", "alpha-enni-1"), ("ENDPOINT_OF", ovc_id)},
    ]
    # The OVC is full (its rule allows 2 end points): a third one, even at an allowed UNI, is refused.
    third = _end_point("ep-3", "alpha-uni-1")
    third.service["serviceRelationship"].append(
        {"relationshipType": "ENDPOINT_OF", "service": {"id": ovc_id}}
    )
    error = _refusal(ctx, grpc_order([Item("ep-3", "add", third.service)]))
    assert error.reason == "INVALID_REQUEST"
    assert (
        "at most 2 end points"
        in error.violations["service_order.service_order_item[0].service.service_relationship"]
    )


def test_a_lifecycle_change_the_policy_allows_completes(ctx: Ctx) -> None:
    request = Ord.UpdateServiceRequest(
        service=Inv.Service(id="alpha-evc-1-ep-2", state=INACTIVE),
        update_mask=field_mask_pb2.FieldMask(paths=["state"]),
    )
    order = ctx.stubs.ordering.UpdateService(request, metadata=ALPHA).service_order
    assert wait_for_order(ctx.stubs, order.id).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    assert ctx.service("alpha-evc-1-ep-2").state == INACTIVE


def test_a_new_end_point_must_name_its_connectivity_and_interface(ctx: Ctx) -> None:
    loose = {"state": "active", "serviceConfiguration": {"@type": OVC_EP}}
    error = _refusal(ctx, grpc_order([Item("1", "add", loose)]))
    assert error.reason == "INVALID_REQUEST"
    assert set(error.violations) == {"service_order.service_order_item[0].service.service_relationship"}
    twice = _refusal(ctx, grpc_order(new_ovc("alpha-uni-1", "alpha-uni-1")))
    assert twice.reason == "INVALID_REQUEST"
    item = "service_order.service_order_item[{}].service.service_relationship[0].service.id"
    assert twice.violations == {item.format(i): "the same interface is named twice" for i in (1, 2)}


def test_a_modify_applies_contacts_and_notes_and_refuses_partner_owned_fields(ctx: Ctx) -> None:
    current = ctx.service("alpha-ovc-1-ep-2")
    contact = common_pb2.RelatedContactInformation(
        name="NOC", email_address="noc@example.com", number="1", role="technical"
    )
    note = common_pb2.Note(author="ops", text="moved to the new NOC", source=common_pb2.NOTE_SOURCE_BUS)
    wanted = Inv.Service(
        id=current.id,
        service_configuration=current.service_configuration,
        related_contact_information=[contact],
        note=[note],
    )
    assert _modified(ctx, wanted).state == Ord.SERVICE_ORDER_STATE_COMPLETED
    after = ctx.service(current.id)
    assert list(after.related_contact_information) == [contact]
    assert list(after.note) == [*current.note, note]
    moved = Inv.Service(
        id=current.id,
        service_configuration=after.service_configuration,
        service_relationship=[
            Inv.ServiceRelationship(
                relationship_type="ATTACHED_TO", service=common_pb2.ServiceRef(id="alpha-uni-2")
            )
        ],
        place=[common_pb2.RelatedPlace(role="INSTALL_LOCATION", type="GeographicSiteRef", id="site-9")],
        operational_state=common_pb2.OPERATIONAL_STATE_DISABLED,
    )
    item = Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=moved)
    error = _refusal(ctx, Ord.ServiceOrder(service_order_item=[item]))
    assert error.reason == "INVALID_REQUEST"
    where = "service_order.service_order_item[0].service"
    assert set(error.violations) == {
        f"{where}.service_relationship",
        f"{where}.place",
        f"{where}.operational_state",
    }
    # Sending them back unchanged is not a change.
    same = Inv.Service()
    same.CopyFrom(ctx.service(current.id))
    same.etag = ""
    assert _modified(ctx, same).state == Ord.SERVICE_ORDER_STATE_COMPLETED


def test_rest_refuses_a_place_contact_it_cannot_keep(ctx: Ctx) -> None:
    body = rest_order(modify("alpha-ovc-1-ep-2")(ctx))
    body["serviceOrderItem"][0]["service"]["place"] = [
        {
            "role": "INSTALL_LOCATION",
            "place": {"@type": "GeographicSiteRef", "id": "site-1"},
            "contact": [{"name": "x"}],
        }
    ]
    reply = ctx.rest.post(f"{ORD}/serviceOrder", body)
    assert reply.status == 422, reply.body
    assert [(e["code"], e["propertyPath"]) for e in reply.body] == [
        ("unexpectedProperty", "/serviceOrderItem/0/service/place/0/contact")
    ]


def test_a_plain_order_cannot_add_a_second_end_point_on_an_interface_of_the_connectivity(ctx: Ctx) -> None:
    existing = ctx.service("alpha-evc-1-ep-1")
    (taken,) = (r.service.id for r in existing.service_relationship if r.relationship_type == "ATTACHED_TO")

    def end_point(interface: str) -> Item:
        config = ctx.config("alpha-evc-1-ep-1")
        relationships = [
            {"relationshipType": "ATTACHED_TO", "service": {"id": interface}},
            {"relationshipType": "ENDPOINT_OF", "service": {"id": "alpha-evc-1"}},
        ]
        service = {"state": "active", "serviceConfiguration": config, "serviceRelationship": relationships}
        return Item("ep", "add", service)

    before = _snapshot(ctx)
    for dry in (True, False):  # validate_only refuses what the real call refuses
        request = Ord.CreateServiceOrderRequest(
            service_order=grpc_order([end_point(taken)]), validate_only=dry
        )
        with pytest.raises(grpc.RpcError) as refused:
            ctx.stubs.ordering.CreateServiceOrder(request, metadata=ALPHA)
        error = rich_error(refused.value)
        assert error.reason == "INVALID_REQUEST"
        where = "service_order.service_order_item[0].service.service_relationship[0].service.id"
        assert error.violations == {where: "the interface already has an end point of 'alpha-evc-1'"}
    assert _snapshot(ctx) == before
    # Another interface of the same type passes the same gate.
    free = Ord.CreateServiceOrderRequest(
        service_order=grpc_order([end_point("alpha-uni-1")]), validate_only=True
    )
    preview = ctx.stubs.ordering.CreateServiceOrder(free, metadata=ALPHA).service_order
    assert [i.action for i in preview.service_order_item] == [Ord.SERVICE_ACTION_ADD]
