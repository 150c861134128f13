"""The REST form answers exactly what gRPC answers: same data, same errors (reason <-> MEF code).

One real server process serves both forms (`--rest-listen`); every check asks
both and compares them field by field, with expectations computed here from
the gRPC message (protobuf's own JSON mapping), not from the adapter's code.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import grpc
import pytest
from google.protobuf import json_format, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2, ordering_pb2
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, OVC_EP, Stubs, rich_error, wait_for_order
from tests.support.mef_names import ERROR, ERROR_422, unknown_in, unknown_in_order, unknown_in_service
from tests.support.rest import CAT, INV, ORD, RestClient
from tests.support.server_process import ServerProcess

Inv = inventory_pb2
Ord = ordering_pb2
CIR = ("ingressBandwidthProfilePerOvcEndPoint", "cir", "irValue")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = launch_demo(tmp_path_factory.mktemp("rest"), "--rest-listen", "127.0.0.1:0")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def stubs(server: ServerProcess) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs.on(channel)


@pytest.fixture(scope="module")
def rest(server: ServerProcess) -> RestClient:
    return RestClient(server.rest_url)


def _mef_enum(name: str, prefix: str) -> str:
    words = name.removeprefix(prefix).lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _same_time(text: str, ts: timestamp_pb2.Timestamp) -> bool:
    parsed = timestamp_pb2.Timestamp()
    parsed.FromJsonString(text)
    return parsed == ts


def _all_services(stubs: Stubs) -> list[Inv.Service]:
    return list(
        stubs.inventory.ListServices(Inv.ListServicesRequest(page_size=1000), metadata=ALPHA).services
    )


def assert_same_service(got: dict[str, Any], s: Inv.Service, base: str) -> None:
    assert got["id"] == s.id
    assert got["href"] == f"{base}{INV}/service/{s.id}"
    assert got["state"] == _mef_enum(common_pb2.ServiceState.Name(s.state), "SERVICE_STATE_")
    for key, value in (("serviceType", s.service_type), ("externalId", s.external_id)):
        assert got.get(key, "") == value
    assert got.get("description", "") == s.description
    times = (("serviceDate", s.service_date), ("startDate", s.start_date), ("endDate", s.end_date))
    for key, ts in times:
        assert (key in got) == (ts.ByteSize() > 0)
        if key in got:
            assert _same_time(got[key], ts)
    config = {
        "@type": s.service_configuration.type,
        **json_format.MessageToDict(s.service_configuration.attributes),
    }
    assert got["serviceConfiguration"] == config  # 250 == 250.0: JSON has one number type
    assert [(r["relationshipType"], r["service"]["id"]) for r in got.get("serviceRelationship", [])] == [
        (r.relationship_type, r.service.id) for r in s.service_relationship
    ]
    assert [c["name"] for c in got.get("relatedContactInformation", [])] == [
        c.name for c in s.related_contact_information
    ]
    assert [(p["role"], p["place"]["@type"], p["place"].get("id", "")) for p in got.get("place", [])] == [
        (p.role, p.type, p.id) for p in s.place
    ]
    # MEF `startMode` is the digit one below the StartMode number ('0' is START_MODE_UNKNOWN).
    assert got.get("startMode") == (str(s.start_mode - 1) if s.start_mode else None)
    assert unknown_in_service(got) == []


def test_get_service_returns_what_grpc_returns_for_every_demo_service(
    rest: RestClient, stubs: Stubs, server: ServerProcess
) -> None:
    services = _all_services(stubs)
    assert len(services) > 10
    for s in services:
        reply = rest.get(f"{INV}/service/{s.id}")
        assert reply.status == 200, reply.body
        assert reply.headers["Content-Type"] == "application/json;charset=utf-8"
        assert reply.headers["ETag"] == f'"{s.etag}"'
        assert_same_service(reply.body, s, server.rest_url)


@pytest.mark.parametrize(
    ("query", "spec"),
    [
        ("", Inv.ServiceFilter()),
        ("state=active", Inv.ServiceFilter(state=[common_pb2.SERVICE_STATE_ACTIVE])),
        (f"@type={OVC_EP}", Inv.ServiceFilter(service_configuration_type=[OVC_EP])),
        ("externalId=ACME-NYC-UNI-001", Inv.ServiceFilter(external_id="ACME-NYC-UNI-001")),
        ("serviceType=Operator%20UNI", Inv.ServiceFilter(service_type="Operator UNI")),
        ("state=active,inactive&serviceDate.gt=2025-06-01T00:00:00Z", None),
        ("geographicSite.id=site-nyc-01", Inv.ServiceFilter(geographic_site_id="site-nyc-01")),
        (
            "geographicAddress.id=geo-addr-phl-1701-jfk",
            Inv.ServiceFilter(geographic_address_id="geo-addr-phl-1701-jfk"),
        ),
        ("startMode=3", Inv.ServiceFilter(start_mode=[Inv.START_MODE_MANUALLY_BY_PROVIDER])),
        (
            "startMode=1,4&startMode=5",
            Inv.ServiceFilter(
                start_mode=[
                    Inv.START_MODE_AUTOMATICALLY_BY_MANAGED_ENVIRONMENT,
                    Inv.START_MODE_MANUALLY_BY_CUSTOMER,
                    Inv.START_MODE_ANY,
                ]
            ),
        ),
        (
            "geographicSite.id=site-bos-02&startMode=3",
            Inv.ServiceFilter(
                geographic_site_id="site-bos-02", start_mode=[Inv.START_MODE_MANUALLY_BY_PROVIDER]
            ),
        ),
    ],
)
def test_list_services_with_mef_filters_matches_grpc(
    rest: RestClient, stubs: Stubs, query: str, spec: Inv.ServiceFilter | None, server: ServerProcess
) -> None:
    if spec is None:
        spec = Inv.ServiceFilter(state=[common_pb2.SERVICE_STATE_ACTIVE, common_pb2.SERVICE_STATE_INACTIVE])
        spec.service_date.after.FromJsonString("2025-06-01T00:00:00Z")
    want = stubs.inventory.ListServices(Inv.ListServicesRequest(filter=spec, page_size=1000), metadata=ALPHA)
    assert want.services  # every case selects some demo service
    reply = rest.get(f"{INV}/service?limit=1000&{query}")
    assert reply.status == 200, reply.body
    assert [s["id"] for s in reply.body] == [s.id for s in want.services]
    assert reply.headers["X-Total-Count"] == str(want.total_size)
    assert reply.headers["X-Result-Count"] == str(len(want.services))
    for got, s in zip(reply.body, want.services, strict=True):
        assert_same_service(got, s, server.rest_url)


def test_offset_and_limit_walk_the_list_once_with_counts(rest: RestClient, stubs: Stubs) -> None:
    every = [s.id for s in _all_services(stubs)]
    seen: list[str] = []
    for offset in range(0, len(every) + 3, 3):
        reply = rest.get(f"{INV}/service?offset={offset}&limit=3")
        assert reply.status == 200
        assert reply.headers["X-Total-Count"] == str(len(every))
        assert reply.headers["X-Result-Count"] == str(len(reply.body))
        assert reply.headers["X-Pagination-Throttled"] == "false"
        seen.extend(s["id"] for s in reply.body)
    assert seen == every
    beyond = rest.get(f"{INV}/service?offset={len(every) + 5}")
    assert (beyond.status, beyond.body, beyond.headers["X-Total-Count"]) == (200, [], str(len(every)))
    big = rest.get(f"{INV}/service?limit=5000")  # above one page: cut to the maximum, all fit
    assert [s["id"] for s in big.body] == every
    assert big.headers["X-Pagination-Throttled"] == "false"


def _mef_error(reply: Any, status: int, code: str, reason: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["X-Interlude-Reason"] == reason
    entries = reply.body if status == 422 else [reply.body]
    if status == 422:
        assert isinstance(reply.body, list)
    for entry in entries:
        assert entry["code"] == code or (status == 422 and not code)
        assert 0 < len(entry["reason"]) <= 255
        assert entry["message"]  # every MEF error body carries a message (README, REST errors)
        assert entry["referenceError"].endswith(reason)
        assert unknown_in(entry, ERROR_422 if status == 422 else ERROR) == []


def test_not_found_is_404_where_grpc_says_not_found(rest: RestClient, stubs: Stubs) -> None:
    for service_id in ("no-such-service", "beta-uni-1"):  # another buyer's service does not exist for alpha
        with pytest.raises(grpc.RpcError) as caught:
            stubs.inventory.GetService(Inv.GetServiceRequest(id=service_id), metadata=ALPHA)
        err = rich_error(caught.value)
        assert err.code == grpc.StatusCode.NOT_FOUND
        _mef_error(rest.get(f"{INV}/service/{service_id}"), 404, "notFound", err.reason)
    with pytest.raises(grpc.RpcError) as caught:
        stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id="nope"), metadata=ALPHA)
    _mef_error(rest.get(f"{ORD}/serviceOrder/nope"), 404, "notFound", rich_error(caught.value).reason)


def test_request_errors_of_the_rest_form_carry_stable_reasons(rest: RestClient) -> None:
    _mef_error(rest.get(f"{INV}/service?colour=red"), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(rest.get(f"{INV}/service?serviceDate.gt=yesterday"), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(rest.get(f"{INV}/service?limit=-1"), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(rest.get(f"{INV}/service?state="), 400, "missingQueryValue", "INVALID_FILTER")
    _mef_error(rest.get(f"{ORD}/serviceOrder?state=done"), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(rest.get(f"{INV}/service?startMode=6"), 400, "invalidQuery", "INVALID_FILTER")
    twice = f"{INV}/service?geographicSite.id=site-nyc-01&geographicSite.id=site-bos-02"
    _mef_error(rest.get(twice), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(rest.get(f"{INV}/nothing-here"), 404, "notFound", "PATH_NOT_FOUND")
    patch = rest.call("PATCH", f"{INV}/service/alpha-uni-1", {})
    _mef_error(patch, 405, "notImplemented", "METHOD_NOT_ALLOWED")
    assert patch.headers["Allow"] == "GET"
    bad_json = rest.call("POST", f"{ORD}/serviceOrder", None, {"Content-Type": "application/json"})
    _mef_error(bad_json, 400, "invalidBody", "INVALID_BODY")
    shape = rest.post(f"{ORD}/serviceOrder", {"serviceOrderItem": [{"id": "1", "action": "move"}], "x": 1})
    _mef_error(shape, 422, "", "INVALID_REQUEST")
    assert {(e["code"], e["propertyPath"]) for e in shape.body} == {
        ("unexpectedProperty", "/x"),
        ("missingProperty", "/requestedStartDate"),
        ("missingProperty", "/requestedCompletionDate"),
        ("missingProperty", "/serviceOrderItem/0/service"),
        ("invalidValue", "/serviceOrderItem/0/action"),
    }


def _modify_body(service: dict[str, Any], **config_changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(service["serviceConfiguration"])
    for path, value in config_changes.items():
        node = config
        *parents, leaf = path.split("/")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return {
        "requestedStartDate": "2026-01-01T00:00:00Z",
        "requestedCompletionDate": "2026-01-02T00:00:00Z",
        "externalId": "REST-PARITY",
        "serviceOrderItem": [
            {
                "id": "1",
                "action": "modify",
                "service": {
                    "id": service["id"],
                    "state": service["state"],
                    "serviceConfiguration": config,
                    "serviceRelationship": [
                        {"relationshipType": r["relationshipType"], "service": {"id": r["service"]["id"]}}
                        for r in service.get("serviceRelationship", [])
                    ],
                },
            }
        ],
    }


def _modify_order(service: Inv.Service, amount: float, identifier: str) -> Ord.ServiceOrder:
    changed = Inv.Service()
    changed.CopyFrom(service)
    attrs = changed.service_configuration.attributes
    attrs.get_or_create_struct("ingressBandwidthProfilePerOvcEndPoint").get_or_create_struct("cir")[
        "irValue"
    ] = amount
    attrs["identifier"] = identifier
    keep = Inv.Service(
        id=changed.id,
        state=changed.state,
        service_configuration=changed.service_configuration,
        service_relationship=changed.service_relationship,
    )
    order = Ord.ServiceOrder(
        external_id="REST-PARITY",
        service_order_item=[Ord.ServiceOrderItem(id="1", action=Ord.SERVICE_ACTION_MODIFY, service=keep)],
    )
    order.requested_start_date.FromJsonString("2026-01-01T00:00:00Z")
    order.requested_completion_date.FromJsonString("2026-01-02T00:00:00Z")
    return order


def test_policy_refusal_is_one_422_entry_per_grpc_field_violation(rest: RestClient, stubs: Stubs) -> None:
    grpc_service = stubs.inventory.GetService(
        Inv.GetServiceRequest(id="alpha-ovc-1-ep-1"), metadata=ALPHA
    ).service
    with pytest.raises(grpc.RpcError) as caught:
        stubs.ordering.CreateServiceOrder(
            Ord.CreateServiceOrderRequest(service_order=_modify_order(grpc_service, 5000, "renamed")),
            metadata=ALPHA,
        )
    err = rich_error(caught.value)
    prefix = "service_order.service_order_item[0].service.service_configuration.attributes."
    assert set(err.violations) == {
        prefix + "ingressBandwidthProfilePerOvcEndPoint.cir.irValue",
        prefix + "identifier",
    }
    service = rest.get(f"{INV}/service/alpha-ovc-1-ep-1").body
    body = _modify_body(service, **{"/".join(CIR): 5000, "identifier": "renamed"})
    reply = rest.post(f"{ORD}/serviceOrder", body)
    _mef_error(reply, 422, "invalidValue", err.reason)
    pointer = "/serviceOrderItem/0/service/serviceConfiguration/"
    cir = "ingressBandwidthProfilePerOvcEndPoint"
    assert {e["propertyPath"]: e["reason"] for e in reply.body} == {
        f"{pointer}{cir}/cir/irValue": err.violations[f"{prefix}{cir}.cir.irValue"],
        f"{pointer}identifier": err.violations[f"{prefix}identifier"],
    }


def test_order_created_over_rest_is_the_order_grpc_sees(
    rest: RestClient, stubs: Stubs, server: ServerProcess
) -> None:
    service = rest.get(f"{INV}/service/alpha-ovc-1-ep-2").body
    reply = rest.post(f"{ORD}/serviceOrder", _modify_body(service, **{"/".join(CIR): 120}))
    assert reply.status == 201, reply.body
    created = reply.body
    assert (
        reply.headers["Location"] == created["href"] == f"{server.rest_url}{ORD}/serviceOrder/{created['id']}"
    )
    assert created["state"] == "acknowledged"
    assert [(i["id"], i["action"], i["state"]) for i in created["serviceOrderItem"]] == [
        ("1", "modify", "acknowledged")
    ]
    assert unknown_in_order(created) == []
    done = wait_for_order(stubs, created["id"])
    assert done.state == Ord.SERVICE_ORDER_STATE_COMPLETED
    got = rest.get(f"{ORD}/serviceOrder/{created['id']}").body
    assert got["state"] == "completed"
    assert _same_time(got["completionDate"], done.completion_date)
    assert _same_time(got["orderDate"], done.order_date)
    assert got["externalId"] == done.external_id == "REST-PARITY"
    assert [i["state"] for i in got["serviceOrderItem"]] == ["completed"]
    assert unknown_in_order(got) == []
    after = rest.get(f"{INV}/service/alpha-ovc-1-ep-2").body
    assert after["serviceConfiguration"]["ingressBandwidthProfilePerOvcEndPoint"]["cir"]["irValue"] == 120
    assert {"itemId": "1", "serviceOrderId": created["id"], "serviceOrderHref": created["href"]} in after[
        "serviceOrderItem"
    ]
    want = stubs.ordering.ListServiceOrders(
        Ord.ListServiceOrdersRequest(
            filter=Ord.ServiceOrderFilter(state=[Ord.SERVICE_ORDER_STATE_COMPLETED]), page_size=1000
        ),
        metadata=ALPHA,
    )
    listed = rest.get(f"{ORD}/serviceOrder?state=completed&limit=1000")
    assert [o["id"] for o in listed.body] == [o.id for o in want.service_orders]
    assert listed.headers["X-Total-Count"] == str(want.total_size)
    for order in listed.body:
        assert unknown_in_order(order) == []


def test_cancel_extension_and_its_conflicts_match_grpc(rest: RestClient, stubs: Stubs) -> None:
    service = rest.get(f"{INV}/service/alpha-ovc-1-ep-2").body
    body = _modify_body(service, **{"/".join(CIR): 130})
    body["requestedStartDate"] = "2099-01-01T00:00:00Z"  # waits for its start: still cancellable
    order = rest.post(f"{ORD}/serviceOrder", body).body
    etag = rest.get(f"{ORD}/serviceOrder/{order['id']}").headers["ETag"]
    stale = rest.call("POST", f"{ORD}/serviceOrder/{order['id']}/cancel", {}, {"If-Match": '"stale"'})
    _mef_error(stale, 409, "conflict", "ETAG_MISMATCH")
    cancelled = rest.post(
        f"{ORD}/serviceOrder/{order['id']}/cancel",
        {"cancellationReason": "changed plans"},
        {"If-Match": etag},
    )
    assert cancelled.status == 200, cancelled.body
    grpc_view = stubs.ordering.GetServiceOrder(Ord.GetServiceOrderRequest(id=order["id"]), metadata=ALPHA)
    assert cancelled.body["state"] in ("assessingCancellation", "pendingCancellation", "cancelled")
    assert (
        cancelled.body["cancellationReason"] == grpc_view.service_order.cancellation_reason == "changed plans"
    )
    done = wait_for_order(stubs, order["id"])
    assert done.state == Ord.SERVICE_ORDER_STATE_CANCELLED
    assert rest.get(f"{ORD}/serviceOrder/{order['id']}").body["state"] == "cancelled"
    with pytest.raises(grpc.RpcError) as caught:
        stubs.ordering.CancelServiceOrder(Ord.CancelServiceOrderRequest(id=order["id"]), metadata=ALPHA)
    err = rich_error(caught.value)
    _mef_error(rest.post(f"{ORD}/serviceOrder/{order['id']}/cancel", {}), 409, "conflict", err.reason)


def _spec_json(rest: RestClient, spec: catalog_pb2.ServiceSpecification) -> dict[str, Any]:
    """The contract JSON of a specification, its catalog-relative schema location made a URL."""
    out = json_format.MessageToDict(spec)
    target = out["targetServiceSchema"]
    target["@schemaLocation"] = f"{rest.base_url}{CAT}/{target['@schemaLocation']}"
    return out


def test_a_specifications_schema_location_is_a_url_that_serves_its_schema(rest: RestClient) -> None:
    spec = rest.get(f"{CAT}/serviceSpecification/carrier-ethernet-evc").body
    url = spec["targetServiceSchema"]["@schemaLocation"]
    assert url == f"{rest.base_url}{CAT}/serviceSchema/carrier-ethernet-evc.json"
    served = rest.get(url.removeprefix(rest.base_url))
    assert served.status == 200, served.body
    schema = served.body
    assert schema["$id"] == spec["targetServiceSchema"]["@type"]
    # A relative $ref resolves against the URL, as against the file it came from.
    ref = schema["properties"]["administrativeState"]["$ref"]
    common = rest.get(urljoin(url, ref.split("#")[0]).removeprefix(rest.base_url))
    assert common.status == 200
    assert "AdministrativeState" in common.body["definitions"]
    _mef_error(rest.get(f"{CAT}/serviceSchema/nope.json"), 404, "notFound", "SERVICE_SCHEMA_NOT_FOUND")


def test_catalog_extension_is_the_contract_json(rest: RestClient, stubs: Stubs) -> None:
    specs = stubs.catalog.ListServiceSpecifications(
        catalog_pb2.ListServiceSpecificationsRequest(page_size=1000), metadata=ALPHA
    )
    listed = rest.get(f"{CAT}/serviceSpecification?limit=1000")
    assert listed.body == [_spec_json(rest, s) for s in specs.service_specifications]
    assert listed.headers["X-Total-Count"] == str(specs.total_size)
    first = specs.service_specifications[0]
    assert rest.get(f"{CAT}/serviceSpecification/{first.id}").body == _spec_json(rest, first)
    policy = stubs.catalog.GetServicePolicy(
        catalog_pb2.GetServicePolicyRequest(service_specification_id=first.id), metadata=ALPHA
    ).service_policy
    assert rest.get(f"{CAT}/servicePolicy/{first.id}").body == json_format.MessageToDict(policy)
    policies = stubs.catalog.ListServicePolicies(
        catalog_pb2.ListServicePoliciesRequest(page_size=1000), metadata=ALPHA
    ).service_policies
    assert rest.get(f"{CAT}/servicePolicy?limit=1000").body == [
        json_format.MessageToDict(p) for p in policies
    ]
    _mef_error(rest.get(f"{CAT}/servicePolicy?state=x"), 400, "invalidQuery", "INVALID_FILTER")
    _mef_error(
        rest.get(f"{CAT}/serviceSpecification/nope"), 404, "notFound", "SERVICE_SPECIFICATION_NOT_FOUND"
    )


def test_buyers_see_only_their_own_resources_over_rest(server: ServerProcess) -> None:
    beta = RestClient(server.rest_url, "sp-beta")
    ids = [s["id"] for s in beta.get(f"{INV}/service?limit=1000").body]
    assert ids
    assert all(i.startswith("beta-") for i in ids)
    assert beta.get(f"{INV}/service/alpha-uni-1").status == 404


def test_x_request_id_makes_order_creation_idempotent_as_request_id_does(rest: RestClient) -> None:
    service = rest.get(f"{INV}/service/alpha-ovc-1-ep-1").body
    body = _modify_body(service, **{"/".join(CIR): 140})
    body["requestedStartDate"] = "2099-01-01T00:00:00Z"  # stays acknowledged: nothing else changes it
    key = {"X-Request-Id": "rest-idem-1"}
    first = rest.post(f"{ORD}/serviceOrder", body, key)
    again = rest.post(f"{ORD}/serviceOrder", body, key)
    assert (first.status, again.status) == (201, 201)
    assert again.body["id"] == first.body["id"]
    body["externalId"] = "SOMETHING-ELSE"
    _mef_error(rest.post(f"{ORD}/serviceOrder", body, key), 409, "conflict", "REQUEST_ID_REUSED")
    assert rest.post(f"{ORD}/serviceOrder/{first.body['id']}/cancel", {}).status == 200
