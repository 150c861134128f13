"""ServiceCatalogService served in-process over a real channel, on a demo-seeded SQLite store.

Specifications are public to every buyer; policies are the calling buyer's
own; paging is stable and refuses tokens it did not issue; errors carry the
contract's ErrorInfo reasons.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import grpc
import pytest
import pytest_asyncio
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2  # type: ignore[import-untyped,unused-ignore]
from grpc_status import rpc_status

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, catalog_pb2_grpc
from interlude_server.api.catalog import catalog_binding
from interlude_server.api.paging import encode_token, fingerprint
from interlude_server.api.principal import BuyerResolver
from interlude_server.config import Listen
from interlude_server.runtime.grpc_server import start_server
from tests.support.stores import demo_store

pytestmark = pytest.mark.asyncio(loop_scope="module")

if TYPE_CHECKING:  # the async stub class exists only in the type stubs
    Stub: TypeAlias = catalog_pb2_grpc.ServiceCatalogServiceAsyncStub
Metadata = Sequence[tuple[str, str]]

ALPHA: Metadata = (("x-interlude-buyer", "sp-alpha"),)
BETA: Metadata = (("x-interlude-buyer", "sp-beta"),)
GAMMA: Metadata = (("x-interlude-buyer", "sp-gamma"),)
SPECIFICATIONS = [
    "carrier-ethernet-enni-service",
    "carrier-ethernet-evc",
    "carrier-ethernet-evc-end-point",
    "carrier-ethernet-operator-uni",
    "carrier-ethernet-ovc",
    "carrier-ethernet-ovc-end-point",
    "ip-uni",
    "ipvc",
    "ipvc-end-point",
]
OVC_END_POINT = "urn:mef:lso:spec:legato:carrier-ethernet-ovc-end-point:v0.0.1:all"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def catalog(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stub]:
    """A stub for the catalog servicer, served on 127.0.0.1 over a demo-seeded store."""
    async with demo_store(Path(tmp_path_factory.mktemp("catalog")) / "x.db") as store:
        running = await start_server(Listen("127.0.0.1", 0), [catalog_binding(store, BuyerResolver())])
        try:
            async with grpc.aio.insecure_channel(running.listen.address) as channel:
                yield catalog_pb2_grpc.ServiceCatalogServiceStub(channel)
        finally:
            await running.stop(0)


def details(error: grpc.aio.AioRpcError) -> list[Message]:
    """The google.rpc detail messages of a failed call (ErrorInfo first)."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    kinds = (
        error_details_pb2.ErrorInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.ResourceInfo,
        error_details_pb2.PreconditionFailure,
    )
    unpacked: list[Message] = []
    for packed in status.details:
        for kind in kinds:
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                unpacked.append(message)
    return unpacked


def reason(error: grpc.aio.AioRpcError) -> str:
    info = details(error)[0]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    return str(info.reason)


def bad_fields(error: grpc.aio.AioRpcError) -> list[str]:
    return [
        v.field
        for d in details(error)
        if isinstance(d, error_details_pb2.BadRequest)
        for v in d.field_violations
    ]


async def all_policies(catalog: Stub, metadata: Metadata, page_size: int) -> list[catalog_pb2.ServicePolicy]:
    policies: list[catalog_pb2.ServicePolicy] = []
    token = ""
    while True:
        page = await catalog.ListServicePolicies(
            catalog_pb2.ListServicePoliciesRequest(page_size=page_size, page_token=token), metadata=metadata
        )
        policies.extend(page.service_policies)
        token = page.next_page_token
        if not token:
            return policies


async def test_get_specification_returns_its_schema_type_category_and_characteristics(catalog: Stub) -> None:
    response = await catalog.GetServiceSpecification(
        catalog_pb2.GetServiceSpecificationRequest(id="carrier-ethernet-ovc-end-point")
    )

    spec = response.service_specification
    assert spec.id == "carrier-ethernet-ovc-end-point"
    assert spec.target_service_schema.type == OVC_END_POINT
    assert spec.category == "Carrier Ethernet"
    assert spec.lifecycle_status == catalog_pb2.SERVICE_SPECIFICATION_LIFECYCLE_STATUS_ACTIVE
    assert not spec.is_service_interface
    paths = [c.path for c in spec.service_spec_characteristic]
    assert "/ingressBandwidthProfilePerOvcEndPoint/cir/irValue" in paths


async def test_list_specifications_returns_every_seeded_type_and_flags_the_interfaces(catalog: Stub) -> None:
    response = await catalog.ListServiceSpecifications(catalog_pb2.ListServiceSpecificationsRequest())

    assert [s.id for s in response.service_specifications] == SPECIFICATIONS
    assert (response.total_size, response.next_page_token) == (9, "")
    interfaces = {s.id for s in response.service_specifications if s.is_service_interface}
    assert interfaces == {"carrier-ethernet-operator-uni", "carrier-ethernet-enni-service", "ip-uni"}


async def test_list_specifications_filters_by_category_and_by_configuration_type(catalog: Stub) -> None:
    ip = await catalog.ListServiceSpecifications(
        catalog_pb2.ListServiceSpecificationsRequest(
            filter=catalog_pb2.ServiceSpecificationFilter(category="IP")
        )
    )
    by_type = await catalog.ListServiceSpecifications(
        catalog_pb2.ListServiceSpecificationsRequest(
            filter=catalog_pb2.ServiceSpecificationFilter(service_configuration_type=[OVC_END_POINT])
        )
    )

    assert [s.id for s in ip.service_specifications] == ["ip-uni", "ipvc", "ipvc-end-point"]
    assert ip.total_size == 3
    assert [s.id for s in by_type.service_specifications] == ["carrier-ethernet-ovc-end-point"]


async def test_paging_specifications_two_at_a_time_visits_each_exactly_once(catalog: Stub) -> None:
    seen: list[str] = []
    token, pages = "", 0
    while True:
        page = await catalog.ListServiceSpecifications(
            catalog_pb2.ListServiceSpecificationsRequest(page_size=2, page_token=token)
        )
        pages += 1
        assert len(page.service_specifications) <= 2
        assert page.total_size == 9
        seen.extend(s.id for s in page.service_specifications)
        token = page.next_page_token
        if not token:
            break

    assert seen == SPECIFICATIONS
    assert pages == 5


async def _second_page_token(catalog: Stub) -> str:
    first = await catalog.ListServiceSpecifications(catalog_pb2.ListServiceSpecificationsRequest(page_size=2))
    assert first.next_page_token
    return first.next_page_token


@pytest.mark.parametrize("tampering", ["flipped", "garbage", "other filter", "forged key"])
async def test_a_tampered_page_token_is_invalid_argument_with_reason_invalid_page_token(
    catalog: Stub, tampering: str
) -> None:
    token = await _second_page_token(catalog)
    request = catalog_pb2.ListServiceSpecificationsRequest(page_size=2)
    if tampering == "flipped":
        request.page_token = token[:4] + ("A" if token[4] != "A" else "B") + token[5:]
    elif tampering == "garbage":
        request.page_token = "not-a-token!"
    elif tampering == "other filter":
        request.page_token = token
        request.filter.category = "IP"
    else:  # a well-formed token for the right query whose position is not an id
        request.page_token = encode_token(fingerprint(catalog_pb2.ServiceSpecificationFilter()), (7,))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.ListServiceSpecifications(request)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(raised.value) == "INVALID_PAGE_TOKEN"
    assert bad_fields(raised.value) == ["page_token"]


async def test_unknown_specification_is_not_found_with_reason_service_specification_not_found(
    catalog: Stub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServiceSpecification(catalog_pb2.GetServiceSpecificationRequest(id="carrier-pigeon"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    info, resource = details(raised.value)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("SERVICE_SPECIFICATION_NOT_FOUND", "mef.lso.interlude")
    assert isinstance(resource, error_details_pb2.ResourceInfo)
    assert (resource.resource_type, resource.resource_name) == ("ServiceSpecification", "carrier-pigeon")


async def test_get_specification_without_an_id_is_invalid_argument_naming_the_id_field(catalog: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServiceSpecification(catalog_pb2.GetServiceSpecificationRequest())

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(raised.value) == "INVALID_REQUEST"
    assert bad_fields(raised.value) == ["id"]


async def test_a_negative_page_size_is_invalid_argument(catalog: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.ListServicePolicies(catalog_pb2.ListServicePoliciesRequest(page_size=-1))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(raised.value) == ["page_size"]


@pytest.mark.parametrize("metadata", [ALPHA, ()], ids=["explicit sp-alpha", "default buyer"])
async def test_alpha_policy_for_ovc_end_points_bounds_cir_to_10_to_1000_mbps(
    catalog: Stub, metadata: Metadata
) -> None:
    response = await catalog.GetServicePolicy(
        catalog_pb2.GetServicePolicyRequest(service_specification_id="carrier-ethernet-ovc-end-point"),
        metadata=metadata,
    )

    policy = response.service_policy
    assert (policy.buyer_id, policy.service_configuration_type, policy.etag) == (
        "sp-alpha",
        OVC_END_POINT,
        "1",
    )
    rules = {r.path: r for r in policy.characteristic_policy}
    cir = rules["/ingressBandwidthProfilePerOvcEndPoint/cir/irValue"]
    assert cir.changeability == catalog_pb2.CHANGEABILITY_DYNAMIC
    assert (cir.range.min, cir.range.max, cir.unit_of_measure) == (10, 1000, "Mbps")
    assert cir.default_value.number_value == 100
    assert rules["/ceVlanIdList"].changeability == catalog_pb2.CHANGEABILITY_CUSTOMIZABLE
    assert policy.administrative_state_changeable


async def test_alpha_may_connect_its_unis_and_only_its_first_enni_by_ovc(catalog: Stub) -> None:
    response = await catalog.GetServicePolicy(
        catalog_pb2.GetServicePolicyRequest(service_specification_id="carrier-ethernet-ovc"), metadata=ALPHA
    )

    (rule,) = response.service_policy.connectivity_rule
    assert rule.end_point_type == OVC_END_POINT
    assert list(rule.allowed_interface_ids) == ["alpha-uni-1", "alpha-uni-2", "alpha-uni-3", "alpha-enni-1"]
    assert (rule.min_end_points, rule.max_end_points) == (2, 2)


async def test_beta_sees_only_its_own_policies_and_never_alphas_ids(catalog: Stub) -> None:
    policies = await all_policies(catalog, BETA, page_size=4)

    assert sorted(p.service_specification_id for p in policies) == SPECIFICATIONS
    assert {p.buyer_id for p in policies} == {"sp-beta"}
    mentioned = [i for p in policies for r in p.connectivity_rule for i in r.allowed_interface_ids]
    assert mentioned == ["beta-uni-1", "beta-uni-2", "beta-enni-1"]
    assert not any("alpha" in str(p) for p in policies)
    single = await catalog.GetServicePolicy(
        catalog_pb2.GetServicePolicyRequest(service_specification_id="carrier-ethernet-ovc"), metadata=BETA
    )
    assert single.service_policy.buyer_id == "sp-beta"


async def test_policies_filter_by_configuration_type(catalog: Stub) -> None:
    response = await catalog.ListServicePolicies(
        catalog_pb2.ListServicePoliciesRequest(
            filter=catalog_pb2.ServicePolicyFilter(service_configuration_type=[OVC_END_POINT])
        ),
        metadata=BETA,
    )

    assert [p.service_specification_id for p in response.service_policies] == [
        "carrier-ethernet-ovc-end-point"
    ]
    assert response.total_size == 1


async def test_a_buyer_without_policies_gets_not_found_and_an_empty_list(catalog: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServicePolicy(
            catalog_pb2.GetServicePolicyRequest(service_specification_id="carrier-ethernet-ovc"),
            metadata=GAMMA,
        )
    listed = await catalog.ListServicePolicies(catalog_pb2.ListServicePoliciesRequest(), metadata=GAMMA)

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(raised.value) == "SERVICE_SPECIFICATION_NOT_FOUND"
    assert (list(listed.service_policies), listed.total_size) == ([], 0)


async def test_a_policy_for_an_unknown_specification_is_not_found(catalog: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServicePolicy(
            catalog_pb2.GetServicePolicyRequest(service_specification_id="carrier-pigeon"), metadata=ALPHA
        )

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(raised.value) == "SERVICE_SPECIFICATION_NOT_FOUND"


async def test_a_policy_without_a_specification_id_is_invalid_argument(catalog: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServicePolicy(catalog_pb2.GetServicePolicyRequest(), metadata=ALPHA)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(raised.value) == ["service_specification_id"]


async def test_one_buyers_policy_page_token_is_refused_for_another(catalog: Stub) -> None:
    alpha_page = await catalog.ListServicePolicies(
        catalog_pb2.ListServicePoliciesRequest(page_size=2), metadata=ALPHA
    )
    assert alpha_page.next_page_token

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.ListServicePolicies(
            catalog_pb2.ListServicePoliciesRequest(page_size=2, page_token=alpha_page.next_page_token),
            metadata=BETA,
        )

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(raised.value) == "INVALID_PAGE_TOKEN"


def _refs(node: object) -> list[str]:
    """Every `$ref` in a schema document."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_every_specification_names_where_its_schema_is_and_that_schema_is_served(catalog: Stub) -> None:
    specs = (
        await catalog.ListServiceSpecifications(catalog_pb2.ListServiceSpecificationsRequest(page_size=100))
    ).service_specifications
    assert sorted(s.id for s in specs) == SPECIFICATIONS
    for spec in specs:
        location = spec.target_service_schema.schema_location
        assert location == f"serviceSchema/{spec.id}.json"
        served = await catalog.GetServiceSchema(catalog_pb2.GetServiceSchemaRequest(location=location))
        assert served.location == location
        assert json_format.MessageToDict(served.schema)["$id"] == spec.target_service_schema.type
    one = await catalog.GetServiceSpecification(catalog_pb2.GetServiceSpecificationRequest(id=specs[0].id))
    assert (
        one.service_specification.target_service_schema.schema_location == f"serviceSchema/{specs[0].id}.json"
    )


async def test_relative_refs_of_a_served_schema_resolve_to_served_documents(catalog: Stub) -> None:
    location = "serviceSchema/carrier-ethernet-evc.json"
    schema = json_format.MessageToDict(
        (await catalog.GetServiceSchema(catalog_pb2.GetServiceSchemaRequest(location=location))).schema
    )
    external = sorted({ref.split("#")[0] for ref in _refs(schema) if not ref.startswith("#")})
    assert external, "the EVC schema refers to the common definitions"
    for target in external:
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(location), target))
        document = await catalog.GetServiceSchema(catalog_pb2.GetServiceSchemaRequest(location=resolved))
        assert json_format.MessageToDict(document.schema)["definitions"]


@pytest.mark.parametrize(
    "location", ["serviceSchema/nope.json", "serviceSchema/../validation.py", "/etc/passwd"]
)
async def test_a_schema_location_nothing_is_served_at_is_not_found(catalog: Stub, location: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServiceSchema(catalog_pb2.GetServiceSchemaRequest(location=location))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(raised.value) == "SERVICE_SCHEMA_NOT_FOUND"


async def test_get_schema_without_a_location_is_invalid_argument_naming_it(catalog: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await catalog.GetServiceSchema(catalog_pb2.GetServiceSchemaRequest())
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(raised.value) == ["location"]
