"""Inventory end to end: list, get, filter and page through the demo inventory; buyer isolation."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2
from tests.support.helpers import ALPHA, BETA, UNI, Stubs, rich_error
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.stores("sqlite", "postgresql")

ALPHA_IDS = {
    "alpha-uni-1", "alpha-uni-2", "alpha-uni-3", "alpha-enni-1", "alpha-enni-2",
    "alpha-ovc-1", "alpha-ovc-1-ep-1", "alpha-ovc-1-ep-2",
    "alpha-evc-1", "alpha-evc-1-ep-1", "alpha-evc-1-ep-2",
    "alpha-ip-uni-1", "alpha-ip-uni-2", "alpha-ipvc-1", "alpha-ipvc-1-ep-1", "alpha-ipvc-1-ep-2",
}  # fmt: skip


def _list(
    stubs: Stubs, metadata: tuple[tuple[str, str], ...] = ALPHA, **kwargs: object
) -> list[inventory_pb2.Service]:
    request = inventory_pb2.ListServicesRequest(**kwargs)  # type: ignore[arg-type]
    services: list[inventory_pb2.Service] = []
    while True:
        page = stubs.inventory.ListServices(request, metadata=metadata)
        services.extend(page.services)
        if not page.next_page_token:
            return services
        request.page_token = page.next_page_token


def test_paging_visits_every_service_of_the_buyer_once_in_stable_order(stubs: Stubs) -> None:
    first = stubs.inventory.ListServices(inventory_pb2.ListServicesRequest(page_size=3), metadata=ALPHA)
    assert len(first.services) == 3
    assert first.total_size >= len(ALPHA_IDS)
    services = _list(stubs, page_size=3)
    ids = [s.id for s in services]
    assert len(ids) == len(set(ids)) == first.total_size
    assert set(ids) >= ALPHA_IDS
    assert ids == sorted(ids)
    assert all(s.buyer_id == "sp-alpha" for s in services)


def test_get_returns_lifecycle_administrative_and_operational_state(stubs: Stubs) -> None:
    uni = stubs.inventory.GetService(
        inventory_pb2.GetServiceRequest(id="alpha-uni-3"), metadata=ALPHA
    ).service
    assert uni.state == common_pb2.SERVICE_STATE_ACTIVE
    assert uni.administrative_state == common_pb2.ADMINISTRATIVE_STATE_UNLOCKED
    assert uni.operational_state == common_pb2.OPERATIONAL_STATE_DISABLED
    assert uni.service_configuration.type == UNI
    assert uni.etag


def test_read_mask_returns_only_the_named_fields(stubs: Stubs) -> None:
    mask = field_mask_pb2.FieldMask(paths=["id", "operational_state"])
    uni = stubs.inventory.GetService(
        inventory_pb2.GetServiceRequest(id="alpha-uni-1", read_mask=mask), metadata=ALPHA
    ).service
    assert uni.id == "alpha-uni-1"
    assert uni.operational_state == common_pb2.OPERATIONAL_STATE_ENABLED
    assert not uni.HasField("service_configuration")
    assert uni.state == common_pb2.SERVICE_STATE_UNSPECIFIED


def test_filters_select_by_type_state_relation_and_date(stubs: Stubs) -> None:
    unis = _list(stubs, filter=inventory_pb2.ServiceFilter(service_configuration_type=[UNI]))
    assert {s.id for s in unis} == {"alpha-uni-1", "alpha-uni-2", "alpha-uni-3"}
    attached = _list(stubs, filter=inventory_pb2.ServiceFilter(related_service_id="alpha-uni-1"))
    assert "alpha-ovc-1-ep-1" in {s.id for s in attached}
    disabled = _list(
        stubs, filter=inventory_pb2.ServiceFilter(operational_state=[common_pb2.OPERATIONAL_STATE_DISABLED])
    )
    assert "alpha-uni-3" in {s.id for s in disabled}
    assert "alpha-uni-1" not in {s.id for s in disabled}
    future = timestamp_pb2.Timestamp(seconds=4102444800)  # 2100-01-01
    assert (
        _list(stubs, filter=inventory_pb2.ServiceFilter(service_date=common_pb2.TimeRange(after=future)))
        == []
    )
    everything = _list(
        stubs, filter=inventory_pb2.ServiceFilter(service_date=common_pb2.TimeRange(before=future))
    )
    assert {s.id for s in everything} >= ALPHA_IDS


ALPHA_INTERFACES = {
    "alpha-uni-1", "alpha-uni-2", "alpha-uni-3", "alpha-enni-1", "alpha-enni-2",
    "alpha-ip-uni-1", "alpha-ip-uni-2",
}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (inventory_pb2.ServiceFilter(geographic_site_id="site-nyc-01"), {"alpha-uni-1", "alpha-ip-uni-1"}),
        # beta-enni-1 is at the same site: another buyer's service is never matched.
        (inventory_pb2.ServiceFilter(geographic_site_id="pop-chi-350cermak"), {"alpha-enni-2"}),
        (inventory_pb2.ServiceFilter(geographic_site_id="geo-addr-phl-1701-jfk"), set()),  # an address id
        (inventory_pb2.ServiceFilter(geographic_address_id="geo-addr-phl-1701-jfk"), {"alpha-uni-3"}),
        (inventory_pb2.ServiceFilter(geographic_address_id="site-nyc-01"), set()),  # a site id
        (inventory_pb2.ServiceFilter(geographic_address_id="geo-addr-dal-2323-bryan"), set()),  # beta's
        (
            inventory_pb2.ServiceFilter(start_mode=[inventory_pb2.START_MODE_MANUALLY_BY_PROVIDER]),
            ALPHA_INTERFACES,
        ),
        (
            inventory_pb2.ServiceFilter(
                start_mode=[inventory_pb2.START_MODE_AUTOMATICALLY_BY_MANAGED_ENVIRONMENT]
            ),
            {"alpha-ovc-1", "alpha-evc-1", "alpha-ipvc-1"},
        ),
        (inventory_pb2.ServiceFilter(start_mode=[inventory_pb2.START_MODE_MANUALLY_BY_CUSTOMER]), set()),
        (
            inventory_pb2.ServiceFilter(
                geographic_site_id="site-bos-02",
                start_mode=[inventory_pb2.START_MODE_MANUALLY_BY_PROVIDER, inventory_pb2.START_MODE_ANY],
                service_configuration_type=[UNI],
            ),
            {"alpha-uni-2"},
        ),
    ],
)
def test_filters_select_by_geographic_site_address_and_start_mode(
    stubs: Stubs, spec: inventory_pb2.ServiceFilter, expected: set[str]
) -> None:
    services = _list(stubs, filter=spec, page_size=2)
    assert {s.id for s in services} == expected
    first = stubs.inventory.ListServices(
        inventory_pb2.ListServicesRequest(filter=spec, page_size=1), metadata=ALPHA
    )
    assert first.total_size == len(expected)
    for s in services:
        if spec.start_mode:
            assert s.start_mode in spec.start_mode
        if spec.geographic_site_id:
            assert ("GeographicSiteRef", spec.geographic_site_id) in {(p.type, p.id) for p in s.place}
        if spec.geographic_address_id:
            assert ("GeographicAddressRef", spec.geographic_address_id) in {(p.type, p.id) for p in s.place}


def test_a_start_mode_filter_names_a_start_mode(stubs: Stubs) -> None:
    unknown = inventory_pb2.StartMode.ValueType(42)  # an open enum carries numbers it does not name
    for modes in ([inventory_pb2.START_MODE_UNSPECIFIED], [inventory_pb2.START_MODE_ANY, unknown]):
        request = inventory_pb2.ListServicesRequest(filter=inventory_pb2.ServiceFilter(start_mode=modes))
        with pytest.raises(grpc.RpcError) as raised:
            stubs.inventory.ListServices(request, metadata=ALPHA)
        error = rich_error(raised.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert set(error.violations) == {"filter.start_mode"}


def test_every_bad_list_argument_is_reported_at_once(stubs: Stubs) -> None:
    later = timestamp_pb2.Timestamp(seconds=2000)
    earlier = timestamp_pb2.Timestamp(seconds=1000)
    request = inventory_pb2.ListServicesRequest(
        order_by="colour",
        filter=inventory_pb2.ServiceFilter(
            service_order_item_id="1", start_date=common_pb2.TimeRange(after=later, before=earlier)
        ),
    )
    with pytest.raises(grpc.RpcError) as raised:
        stubs.inventory.ListServices(request, metadata=ALPHA)
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.violations) == {"order_by", "filter.service_order_item_id", "filter.start_date.before"}


def test_a_tampered_page_token_is_refused(stubs: Stubs) -> None:
    page = stubs.inventory.ListServices(inventory_pb2.ListServicesRequest(page_size=2), metadata=ALPHA)
    other_filter = inventory_pb2.ServiceFilter(service_configuration_type=[UNI])
    for token in ("not-a-token", page.next_page_token):
        with pytest.raises(grpc.RpcError) as raised:
            stubs.inventory.ListServices(
                inventory_pb2.ListServicesRequest(page_token=token, filter=other_filter), metadata=ALPHA
            )
        assert rich_error(raised.value).reason == "INVALID_PAGE_TOKEN"


def test_another_buyers_service_does_not_exist_for_you(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id="alpha-uni-1"), metadata=BETA)
    error = rich_error(raised.value)
    with pytest.raises(grpc.RpcError) as unknown:
        stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id="no-such-service"), metadata=BETA)
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "SERVICE_NOT_FOUND"
    assert error.message.replace("alpha-uni-1", "X") == rich_error(unknown.value).message.replace(
        "no-such-service", "X"
    )
    beta = {s.id for s in _list(stubs, metadata=BETA)}
    assert beta
    assert not beta & ALPHA_IDS
    assert all(i.startswith("beta-") for i in beta)


def test_calls_without_a_buyer_act_and_are_logged_as_the_default_buyer(
    stubs: Stubs, demo_server: ServerProcess
) -> None:
    rid = "req-default-buyer"
    uni = stubs.inventory.GetService(
        inventory_pb2.GetServiceRequest(id="alpha-uni-1"), metadata=(("x-request-id", rid),)
    ).service
    assert uni.buyer_id == "sp-alpha"
    lines = [json.loads(line) for line in demo_server.logs().splitlines() if rid in line]
    finished = [entry for entry in lines if entry["event"] == "rpc.finished"]
    assert [(e["buyer"], e["code"]) for e in finished] == [("sp-alpha", "OK")]


def test_a_huge_unknown_id_is_not_found_with_a_small_trailer(stubs: Stubs) -> None:
    # F14: the 6,000-character id echoed in message, ErrorInfo and ResourceInfo made the trailer
    # exceed gRPC's 16 KiB metadata limit; the client saw RESOURCE_EXHAUSTED.
    huge = "z" * 6000
    with pytest.raises(grpc.RpcError) as raised:
        stubs.inventory.GetService(inventory_pb2.GetServiceRequest(id=huge), metadata=ALPHA)
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "SERVICE_NOT_FOUND")
    assert "zzz" in error.message
    assert "6002 characters" in error.message
    assert len(error.message) < 512
    call: Any = raised.value
    size = 3 * len(error.message.encode())  # grpc-message, percent-encoded at worst
    for key, value in call.trailing_metadata() or ():
        size += len(key) + (len(value) * 4 // 3 + 4 if isinstance(value, bytes) else len(value))
    assert size < 8 * 1024
