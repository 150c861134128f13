"""Request building and paging without a server: what the clients send and how pagers fetch."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from interlude_client import builders
from interlude_client.cli import exits
from interlude_client.cli.orders import parse_assignments
from interlude_client.paging import Pager
from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2


def test_configuration_update_nests_attributes_and_names_each_path() -> None:
    request = builders.configuration_update(
        "svc-1",
        {
            "bw.cir.amount": 200,
            "bw.cir.unit": "Mbps",
            "service_configuration.attributes.vlan": 7,
        },
    )
    assert request.service.id == "svc-1"
    assert list(request.update_mask.paths) == [
        "service_configuration.attributes.bw.cir.amount",
        "service_configuration.attributes.bw.cir.unit",
        "service_configuration.attributes.vlan",
    ]
    attributes = json_format.MessageToDict(request.service.service_configuration.attributes)
    assert attributes == {"bw": {"cir": {"amount": 200, "unit": "Mbps"}}, "vlan": 7}


def test_cli_assignments_parse_json_values_and_refuse_a_missing_equals_sign() -> None:
    assert parse_assignments(["a=1", "b=true", "c=text", 'd={"x": [1]}', "e="]) == {
        "a": 1,
        "b": True,
        "c": "text",
        "d": {"x": [1]},
        "e": "",
    }
    with pytest.raises(exits.UsageError, match="PATH=VALUE"):
        parse_assignments(["novalue"])


def _pages(count: int, size: int) -> tuple[list[str], list[inventory_pb2.ListServicesResponse]]:
    fetched: list[str] = []
    pages = [
        inventory_pb2.ListServicesResponse(
            services=[inventory_pb2.Service(id=f"s{p}-{i}") for i in range(size)],
            next_page_token=f"t{p + 1}" if p + 1 < count else "",
            total_size=count * size,
        )
        for p in range(count)
    ]
    return fetched, pages


def test_a_pager_fetches_lazily_follows_tokens_and_stops_at_its_limit() -> None:
    fetched, pages = _pages(4, 3)

    def fetch(token: str) -> inventory_pb2.ListServicesResponse:
        fetched.append(token)
        return pages[int(token[1:]) if token else 0]

    pager = Pager(fetch, lambda r: r.services)
    assert fetched == []  # nothing until iterated
    assert [s.id for s in pager] == [f"s{p}-{i}" for p in range(4) for i in range(3)]
    assert fetched == ["", "t1", "t2", "t3"]
    assert pager.total_size == 12
    fetched.clear()
    assert [s.id for s in Pager(fetch, lambda r: r.services, limit=4)] == ["s0-0", "s0-1", "s0-2", "s1-0"]
    assert fetched == ["", "t1"]  # the third page is never asked for
    assert list(Pager(fetch, lambda r: r.services, limit=0)) == []
