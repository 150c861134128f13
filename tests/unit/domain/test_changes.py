"""Convenience-RPC builders refuse values outside the contract instead of failing inside."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.errors import InvalidArgument
from interlude_server.domain import documents
from interlude_server.domain.ordering import changes, effects


@pytest.mark.parametrize("value", [common_pb2.ADMINISTRATIVE_STATE_UNSPECIFIED, 144, -3])
def test_an_unset_or_unknown_administrative_state_is_invalid_naming_the_field(value: int) -> None:
    # Found by the fuzz suite: an undefined enum number (144) used to end as INTERNAL.
    request = ordering_pb2.SetAdministrativeStateRequest(service_id="svc-1")
    request.administrative_state = value  # type: ignore[assignment]
    with pytest.raises(InvalidArgument) as raised:
        changes.admin_state_order(inventory_pb2.Service(id="svc-1"), request)
    assert [v.field for v in raised.value.violations] == ["administrative_state"]


def test_a_known_administrative_state_builds_a_modify_order() -> None:
    request = ordering_pb2.SetAdministrativeStateRequest(
        service_id="svc-1", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
    )
    order = changes.admin_state_order(inventory_pb2.Service(id="svc-1"), request)
    attributes = json_format.MessageToDict(
        order.service_order_item[0].service.service_configuration.attributes
    )
    assert attributes["administrativeState"] == {"state": "LOCKED"}


def test_mefs_admin_state_spelling_follows_the_administrative_state_the_server_applies() -> None:
    # The demo's OVC/EVC configurations carry MEF's required `adminState` beside
    # `administrativeState`; whatever the server applies, the two never disagree.
    service = inventory_pb2.Service(id="svc-1", state=common_pb2.SERVICE_STATE_ACTIVE)
    documents.set_attributes(
        service.service_configuration,
        {"administrativeState": {"state": "LOCKED"}, "adminState": {"state": "UNLOCKED"}},
    )
    effects._sync_states(service, None)
    config = documents.to_dict(service.service_configuration)
    assert config["adminState"] == config["administrativeState"] == {"state": "LOCKED"}
    assert service.administrative_state == common_pb2.ADMINISTRATIVE_STATE_LOCKED
    without = inventory_pb2.Service(id="svc-2", state=common_pb2.SERVICE_STATE_ACTIVE)
    effects._sync_states(without, None)
    assert "adminState" not in documents.to_dict(without.service_configuration)
