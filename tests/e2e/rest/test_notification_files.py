"""Every notification the hubs deliver fits the schema MEF's notification file gives its
listener (inventory, ordering and service function testing here; performance monitoring,
fault management and alarms in their own suites: test_pm_whole, test_fm, test_network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, Stubs, wait_for_order
from tests.support.mef_notification_files import MEF_OPENAPI, violations
from tests.support.rest import INV, ORD, SFT, Listener, RestClient
from tests.support.sft import SftClient, job

pytestmark = pytest.mark.skipif(
    not MEF_OPENAPI.is_dir(),
    reason=f"MEF's Kylie files are not at {MEF_OPENAPI} (set INTERLUDE_REFERENCE_DIR)",
)


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


def test_inventory_ordering_and_testing_notifications_fit_mefs_files(
    tmp_path: Path, listener: Listener
) -> None:
    server = launch_demo(tmp_path, "--rest-listen", "127.0.0.1:0")
    try:
        rest = RestClient(server.rest_url)
        for api in (INV, ORD, SFT):
            assert rest.post(f"{api}/hub", {"callback": listener.url}).status == 201
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs.on(channel)
            lock = ordering_pb2.SetAdministrativeStateRequest(
                service_id="alpha-uni-2", administrative_state=common_pb2.ADMINISTRATIVE_STATE_LOCKED
            )
            order = stubs.ordering.SetAdministrativeState(lock, metadata=ALPHA).service_order
            wait_for_order(stubs, order.id)
            tests = SftClient(channel)
            created = tests.create(job("notified", "ip-ping", "alpha-ip-uni-1", "alpha-ip-uni-2"))
            tests.follow(created.id).summaries()
        listener.wait_for(
            lambda bodies: (
                {"serviceStateChangeEvent", "serviceOrderStateChangeEvent", "testJobStateChangeEvent"}
                <= {str(b.get("eventType")) for b in bodies}
            )
        )
    finally:
        assert server.stop() == 0
    checked: set[str] = set()
    problems = []
    for delivery in listener.deliveries():
        schema, found = violations(delivery.path, delivery.body)
        checked.add(schema)
        problems += [f"{delivery.path} ({schema}): {p}" for p in found]
    assert problems == []
    assert {"ServiceStateChangeEvent", "ServiceOrderStateChangeEvent", "TestJobStateChangeEvent"} <= checked
