"""observability.metrics in one process: what each observer records, under which labels,
and the scrape's text (with what the store held by state, in MEF spellings)."""

from __future__ import annotations

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2, service_test_pb2
from interlude_server.observability.metrics import Metrics, multiprocess_dir


@pytest.fixture
def metrics() -> Metrics:
    assert multiprocess_dir() is None  # the tests' own process keeps its metrics in memory
    return Metrics()


def _samples(metrics: Metrics, work: dict[str, dict[int, int]] | None = None) -> dict[tuple[str, str], float]:
    """name and sorted labels -> value, of one render."""
    text = metrics.render(work or {}).decode()
    return {
        (s.name, ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_an_rpc_meter_counts_each_call_by_code_with_its_duration(metrics: Metrics) -> None:
    meter = metrics.rpc("/mef.lso.interlude.v1.ServiceInventoryService/GetService", streaming=False)
    meter.finished(None, 0.002)  # grpc.aio leaves a successful call's code unset
    meter.finished(grpc.StatusCode.OK, 0.004)
    meter.finished(grpc.StatusCode.NOT_FOUND, 0.001)
    got = _samples(metrics)
    labels = "code={},method=GetService,service=mef.lso.interlude.v1.ServiceInventoryService"
    assert got[("interlude_grpc_requests_total", labels.format("OK"))] == 2
    assert got[("interlude_grpc_requests_total", labels.format("NOT_FOUND"))] == 1
    assert got[("interlude_grpc_request_duration_seconds_sum", labels.format("OK"))] == pytest.approx(0.006)
    assert ("interlude_grpc_stream_duration_seconds_count", labels.format("OK")) not in got


def test_a_stream_is_open_until_it_finishes_and_is_timed_apart_from_unary_calls(metrics: Metrics) -> None:
    meter = metrics.rpc("/mef.lso.interlude.v1.EventService/StreamEvents", streaming=True)
    meter.opened()
    meter.opened()
    active = (
        "interlude_grpc_active_streams",
        "method=StreamEvents,service=mef.lso.interlude.v1.EventService",
    )
    assert _samples(metrics)[active] == 2
    meter.finished(grpc.StatusCode.CANCELLED, 30.0)
    got = _samples(metrics)
    assert got[active] == 1
    ended = "code=CANCELLED,method=StreamEvents,service=mef.lso.interlude.v1.EventService"
    assert got[("interlude_grpc_stream_duration_seconds_count", ended)] == 1
    assert ("interlude_grpc_request_duration_seconds_count", ended) not in got


def test_labels_a_caller_chooses_are_bounded(metrics: Metrics) -> None:
    metrics.rpc(None, streaming=False).finished(grpc.StatusCode.UNIMPLEMENTED, 0.0)
    rest = metrics.rest()
    rest.finished("BREW", "", 404, 0.001)
    rest.finished("GET", "", 404, 0.001)
    got = _samples(metrics)
    assert got[("interlude_grpc_requests_total", "code=UNIMPLEMENTED,method=unknown,service=unknown")] == 1
    assert got[("interlude_rest_requests_total", "method=OTHER,route=unmatched,status=404")] == 1
    assert got[("interlude_rest_requests_total", "method=GET,route=unmatched,status=404")] == 1


def test_the_scrape_carries_the_stores_counts_by_state_in_mef_spelling(metrics: Metrics) -> None:
    work: dict[str, dict[int, int]] = {
        "orders": {ordering_pb2.SERVICE_ORDER_STATE_IN_PROGRESS: 3},
        "test_jobs": {service_test_pb2.TEST_JOB_STATE_SCHEDULED: 1},
    }
    got = _samples(metrics, work)
    assert got[("interlude_orders", "state=inProgress")] == 3
    assert got[("interlude_test_jobs", "state=scheduled")] == 1
    assert not [key for key in got if key[0] == "interlude_pm_jobs"]


def test_hub_store_and_log_observations_reach_the_scrape(metrics: Metrics) -> None:
    delivery = metrics.delivery()
    delivery.delivered(0.5)
    delivery.delivered(-1.0)  # a clock step back counts as no lag, not a negative one
    delivery.retried()
    delivery.dead_lettered()
    metrics.store_group(8, 0.003)
    metrics.log_position("events", 42, 7)
    got = _samples(metrics)
    assert got[("interlude_hub_delivery_lag_seconds_count", "")] == 2
    assert got[("interlude_hub_delivery_lag_seconds_sum", "")] == 0.5
    assert got[("interlude_hub_delivery_retries_total", "")] == 1
    assert got[("interlude_hub_dead_letters_total", "")] == 1
    assert got[("interlude_store_commit_batch_size_sum", "")] == 8
    assert got[("interlude_log_head_sequence", "log=events")] == 42
    assert got[("interlude_subscription_lag_max", "log=events")] == 7
    assert got[("process_resident_memory_bytes", "")] > 0
