"""Prometheus metrics: what every layer records, and the text a scrape of `/metrics` answers.

A `Metrics` is made once per process by the runtime when `--metrics-listen` is given; the
layers receive the observer they need (none when metrics are off, so an unmeasured server
pays nothing): the RPC interceptor an `RpcMeter` per method, the REST middleware the
`RestMetrics`, the store's group-commit writer `store_group`, hub delivery the
`DeliveryMetrics`. Label children are bound on first use and kept, so a call costs a dict
lookup, a counter increment and a histogram observation (prometheus-client's own locks).

Two modes, chosen by prometheus-client itself at import: one process keeps its values in
memory (a private registry, with the process, platform and GC collectors); the processes
of `--workers N` each write theirs to files in PROMETHEUS_MULTIPROC_DIR (set by the
supervisor to a fresh directory per run), and the worker that answers a scrape sums every
worker's files (MultiProcessCollector). Gauges say how workers combine: streams and log
positions are per live worker (`livesum`, `livemax`); process metrics are per worker
(`liveall`, a `pid` label), mirrored by `sample_process` since custom collectors do not
cross processes. What the store holds (orders, PM jobs and test jobs by state) is read at
scrape time (`render`), so it is right after a restart and whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

import grpc
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2, performance_pb2, service_test_pb2
from interlude_server.core.mef import ProtoEnum, mef_name

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STREAM_BUCKETS = (1.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)
DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)

UNKNOWN = "unknown"  # the service and method of a call to no method we serve (bounded labels)
UNMATCHED = "unmatched"  # the route of a REST request that matched none
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The store's counts read at scrape time: table -> (metric, help, the state enum of its rows).
WORK: dict[str, tuple[str, str, ProtoEnum]] = {
    "orders": ("interlude_orders", "Service orders by state", ordering_pb2.ServiceOrderState),
    "pm_jobs": ("interlude_pm_jobs", "Performance jobs by state", performance_pb2.PerformanceJobState),
    "test_jobs": (
        "interlude_test_jobs",
        "Unfinished test jobs by state (finished ones are not counted)",
        service_test_pb2.TestJobState,
    ),
}
WorkCounts = Mapping[str, Mapping[int, int]]  # table (a key of WORK) -> state -> rows

Mode = Literal["livesum", "livemax", "liveall"]


def multiprocess_dir() -> str | None:
    """The directory of `--workers N` metrics, if this process writes its metrics there."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class RpcMeter:
    """The metrics of one gRPC method: calls and their duration by code; open streams."""

    __slots__ = ("_active", "_by_code", "_calls", "_durations", "_labels")

    def __init__(self, metrics: Metrics, service: str, method: str, streaming: bool) -> None:
        self._labels = (service, method)
        self._calls = metrics.grpc_calls
        self._durations = metrics.grpc_stream_durations if streaming else metrics.grpc_durations
        self._active = metrics.grpc_active_streams.labels(service, method) if streaming else None
        self._by_code: dict[grpc.StatusCode | None, tuple[Counter, Histogram]] = {}

    def opened(self) -> None:
        """A response stream began (pair with `finished`)."""
        if self._active is not None:
            self._active.inc()

    def finished(self, code: grpc.StatusCode | None, seconds: float) -> None:
        """The call ended with `code` (None: OK, as grpc.aio leaves it) after `seconds`."""
        children = self._by_code.get(code)
        if children is None:
            name = grpc.StatusCode.OK.name if code is None else code.name
            children = self._by_code[code] = (
                self._calls.labels(*self._labels, name),
                self._durations.labels(*self._labels, name),
            )
        children[0].inc()
        children[1].observe(seconds)
        if self._active is not None:
            self._active.dec()


class RestMetrics:
    """REST requests and their duration by HTTP method, route template and status."""

    def __init__(self, metrics: Metrics) -> None:
        self._calls = metrics.rest_calls
        self._durations = metrics.rest_durations
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request ended; `route` is its template ("" when it matched none)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            # Labels a client could vary at will (an unknown method, a path) are bounded.
            labels = (method if method in HTTP_METHODS else "OTHER", route or UNMATCHED, str(status))
            children = self._children[key] = (
                self._calls.labels(*labels),
                self._durations.labels(*labels),
            )
        children[0].inc()
        children[1].observe(seconds)


class DeliveryMetrics:
    """REST hub callbacks: how late each accepted delivery was, retries and dead letters."""

    def __init__(self, metrics: Metrics) -> None:
        self.lag = metrics.hub_delivery_lag
        self.retries = metrics.hub_retries
        self.dead_letters = metrics.hub_dead_letters

    def delivered(self, lag_seconds: float) -> None:
        self.lag.observe(max(0.0, lag_seconds))

    def retried(self) -> None:
        self.retries.inc()

    def dead_lettered(self) -> None:
        self.dead_letters.inc()


class Metrics:
    """Every metric of one server process, and the scrape's text (`render`)."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        # One process: a private registry (nothing global, so tests may make several).
        # Workers: values live in files; the scrape reads them all, never a registry.
        own = None if self.multiprocess else CollectorRegistry()
        self._own = own
        service_method = ("service", "method")
        self.grpc_calls = Counter(
            "interlude_grpc_requests", "gRPC calls finished", (*service_method, "code"), registry=own
        )
        self.grpc_durations = Histogram(
            "interlude_grpc_request_duration_seconds",
            "Duration of unary gRPC calls",
            (*service_method, "code"),
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.grpc_stream_durations = Histogram(
            "interlude_grpc_stream_duration_seconds",
            "Duration of gRPC response streams, counted when they end",
            (*service_method, "code"),
            buckets=STREAM_BUCKETS,
            registry=own,
        )
        self.grpc_active_streams = self._gauge(
            "interlude_grpc_active_streams", "Open gRPC response streams", service_method, "livesum"
        )
        rest = ("method", "route", "status")
        self.rest_calls = Counter("interlude_rest_requests", "REST requests finished", rest, registry=own)
        self.rest_durations = Histogram(
            "interlude_rest_request_duration_seconds",
            "Duration of REST requests",
            rest,
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self._log_gauges()
        self._hub_and_store(own)
        self._process = self._process_metrics(own)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...], mode: Mode) -> Gauge:
        return Gauge(name, doc, labels, registry=self._own, multiprocess_mode=mode)

    def _log_gauges(self) -> None:
        self.log_head = self._gauge(
            "interlude_log_head_sequence",
            "Newest sequence of a durable log (events, measurements) this process has seen",
            ("log",),
            "livemax",
        )
        self.subscription_lag = self._gauge(
            "interlude_subscription_lag_max",
            "Items the slowest live subscription of a log has yet to send (0: all caught up)",
            ("log",),
            "livemax",
        )

    def _hub_and_store(self, own: CollectorRegistry | None) -> None:
        self.hub_delivery_lag = Histogram(
            "interlude_hub_delivery_lag_seconds",
            "From an event's time to its REST hub callback's acceptance",
            buckets=DELIVERY_BUCKETS,
            registry=own,
        )
        self.hub_retries = Counter(
            "interlude_hub_delivery_retries", "Failed REST hub callbacks that will be retried", registry=own
        )
        self.hub_dead_letters = Counter(
            "interlude_hub_dead_letters", "REST hub registrations dead-lettered", registry=own
        )
        self.store_commit = Histogram(
            "interlude_store_commit_seconds",
            "Duration of a group commit (BEGIN to durable COMMIT)",
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.store_batch = Histogram(
            "interlude_store_commit_batch_size",
            "Writes committed together in one group",
            buckets=BATCH_BUCKETS,
            registry=own,
        )

    def _process_metrics(self, own: CollectorRegistry | None) -> ProcessMirror | None:
        if own is not None:
            ProcessCollector(registry=own)
            PlatformCollector(registry=own)
            GCCollector(registry=own)
            return None
        return ProcessMirror()

    # -- observers for the layers ---------------------------------------------------

    def rpc(self, full_method: str | None, streaming: bool) -> RpcMeter:
        """The meter of `/package.Service/Method` (None: a method no service has)."""
        service, _, method = (full_method or "").lstrip("/").rpartition("/")
        if full_method is None or not service:
            service = method = UNKNOWN
        return RpcMeter(self, service, method, streaming)

    def rest(self) -> RestMetrics:
        return RestMetrics(self)

    def delivery(self) -> DeliveryMetrics:
        return DeliveryMetrics(self)

    def store_group(self, writes: int, seconds: float) -> None:
        """A group commit of `writes` writes took `seconds` (called on the writer thread)."""
        self.store_commit.observe(seconds)
        self.store_batch.observe(writes)

    def log_position(self, log: str, head: int, slowest_lag: int) -> None:
        """Where log `log` stands in this process: its head and its slowest subscription."""
        self.log_head.labels(log).set(head)
        self.subscription_lag.labels(log).set(slowest_lag)

    def sample_process(self) -> None:
        """Workers: copy this process's CPU, memory and descriptors to its metric files."""
        if self._process is not None:
            self._process.sample()

    # -- the scrape -------------------------------------------------------------------

    def render(self, work: WorkCounts) -> bytes:
        """The exposition text: every metric (all workers' with `--workers N`) and `work`."""
        if self._own is not None:
            base = self._own
        else:
            from prometheus_client import multiprocess

            base = CollectorRegistry()
            multiprocess.MultiProcessCollector(base)  # type: ignore[no-untyped-call]
            PlatformCollector(registry=base)
        snapshot = CollectorRegistry()
        snapshot.register(_WorkCollector(work))
        return generate_latest(base) + generate_latest(snapshot)


class _WorkCollector:
    """What the store held at scrape time, as gauges by state."""

    def __init__(self, work: WorkCounts) -> None:
        self.work = work

    def collect(self) -> list[GaugeMetricFamily]:
        families = []
        for table, (name, doc, enum) in WORK.items():
            family = GaugeMetricFamily(name, doc, labels=("state",))
            for state, rows in sorted(self.work.get(table, {}).items()):
                family.add_metric((mef_name(enum, state),), rows)
            families.append(family)
        return families


class ProcessMirror:
    """prometheus-client's process metrics, written per worker (custom collectors do not
    cross processes): memory and descriptors as `liveall` gauges (a `pid` label each), CPU
    time as a counter summed over every worker the run had."""

    GAUGES = (
        ("process_resident_memory_bytes", "Resident memory size in bytes."),
        ("process_virtual_memory_bytes", "Virtual memory size in bytes."),
        ("process_open_fds", "Number of open file descriptors."),
        ("process_start_time_seconds", "Start time of the process since unix epoch in seconds."),
    )

    def __init__(self) -> None:
        self._source = ProcessCollector(registry=None)
        self._gauges = {
            name: Gauge(name, doc, registry=None, multiprocess_mode="liveall") for name, doc in self.GAUGES
        }
        self._cpu = Counter(
            "process_cpu_seconds", "Total user and system CPU time spent in seconds.", registry=None
        )
        self._cpu_seen = 0.0

    def sample(self) -> None:
        for family in self._source.collect():
            for sample in family.samples:
                if sample.name == "process_cpu_seconds_total":
                    self._cpu.inc(max(0.0, sample.value - self._cpu_seen))
                    self._cpu_seen = max(self._cpu_seen, sample.value)
                elif (gauge := self._gauges.get(sample.name)) is not None:
                    gauge.set(sample.value)
