"""README claims about gRPC errors that no other test covered, against a real server.

- `INVALID_FIELD_MASK` (README REST error table: 400 `invalidQuery`): a read mask naming a
  field the resource lacks is `INVALID_ARGUMENT` with that reason and a BadRequest naming
  `read_mask`, on Get and on List.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf import field_mask_pb2

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2
from tests.support.helpers import ALPHA, Stubs, rich_error


def test_a_read_mask_naming_no_field_is_invalid_field_mask(stubs: Stubs) -> None:
    mask = field_mask_pb2.FieldMask(paths=["id", "no_such_field"])
    calls: list[Callable[[], object]] = [
        lambda: stubs.inventory.GetService(
            inventory_pb2.GetServiceRequest(id="alpha-uni-1", read_mask=mask), metadata=ALPHA
        ),
        lambda: stubs.inventory.ListServices(
            inventory_pb2.ListServicesRequest(read_mask=mask), metadata=ALPHA
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        err = rich_error(caught.value)
        assert err.code == grpc.StatusCode.INVALID_ARGUMENT
        assert err.reason == "INVALID_FIELD_MASK"
        assert set(err.violations) == {"read_mask"}
