"""`interlude-server`: parse flags, open the store, serve until SIGTERM/SIGINT.

`serve` runs one process's `Server` through its steps, each logging what it did:
assemble (seed, event hubs, background workers, servicers) -> start (gRPC, then REST,
retention, resumed work) -> wait (ready file, `server.started`, the signal) -> stop
(leases, REST, gRPC drain, workers) -> close (whatever start-up took, however far it got).
A step that cannot go on logs why and ends the process with its exit code (StartFailed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from interlude_server.api.alarms import alarm_binding
from interlude_server.api.binding import ServiceBinding
from interlude_server.api.catalog import catalog_binding
from interlude_server.api.events import events_binding
from interlude_server.api.inventory import inventory_binding
from interlude_server.api.ordering import ordering_binding
from interlude_server.api.overload import LoadLimiter
from interlude_server.api.performance import performance_binding
from interlude_server.api.principal import AuthGate, BuyerResolver
from interlude_server.api.service_testing import service_test_binding
from interlude_server.api.tls import server_credentials
from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.settings import build_authenticator
from interlude_server.cluster.leases import process_owner, with_lease
from interlude_server.config import Config, parse_args, redacted_db_url
from interlude_server.core.errors import StorageUnavailable
from interlude_server.domain.schemas import validation as schemas
from interlude_server.events.hub import (
    EventHub,
    Hub,
    MeasurementHub,
    Wakeups,
    close_all,
    reload_tail,
    route_commits,
)
from interlude_server.events.retention import run_retention
from interlude_server.observability import otel
from interlude_server.observability.logging import configure_logging
from interlude_server.observability.metrics import Metrics
from interlude_server.observability.runtime import freeze_startup_objects, space_young_collections
from interlude_server.partner.backend import PartnerBackend, SftBackend
from interlude_server.partner.network.observer import NetworkObserver
from interlude_server.partner.network.scenario import ScenarioPlayer, load_scenario
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.partner.ordering.simulator import FaultRule, SimulatedPartner, load_faults
from interlude_server.partner.performance.engine import PmEngine, SimClock
from interlude_server.partner.remote.backends import RemoteMeter, RemotePartner, RemoteTester
from interlude_server.partner.remote.broker import NetworkBroker
from interlude_server.partner.remote.reports import ObservedReports
from interlude_server.partner.sft.runner import SftRunner
from interlude_server.partner.sft.simulator import SftFaultRule, SimulatedTester, load_test_faults
from interlude_server.rest.hub.delivery import Dispatcher, delivery_settings
from interlude_server.rest.readiness import Readiness
from interlude_server.runtime.grpc_server import RunningServer, ServerSecurity, start_server
from interlude_server.runtime.network_server import NetworkListener, start_network
from interlude_server.runtime.node import SharedNode
from interlude_server.runtime.ready import write_ready_file
from interlude_server.runtime.supervisor import Supervisor
from interlude_server.seed.loader import SeedError, load_seed
from interlude_server.store.interface.store import Store
from interlude_server.store.sql.store import SqlStore
from interlude_server.store.sqlite.store import SchemaVersionError, SqliteStore

if TYPE_CHECKING:  # imported when the REST adapter runs: aiohttp is a third of a server's start-up
    from interlude_server.runtime.metrics_server import MetricsServer
    from interlude_server.runtime.rest_server import InProcessRest

_log = structlog.get_logger("interlude_server")


def open_store(config: Config) -> Store:
    """The store `--db` names: a SQLite file, or a PostgreSQL database (imported only then)."""
    if config.db_path is not None:
        return SqliteStore(
            config.db_path, max_bytes=config.db_max_bytes, mmap_bytes=config.sqlite_mmap_mb * 2**20
        )
    from interlude_server.store.postgres.store import PgStore

    return PgStore(config.db_url)


async def _seed(config: Config, store: Store) -> None:
    if config.seed.kind == "none":
        return
    source = config.seed.path if config.seed.path is not None else "demo"
    summary = await load_seed(store, source)
    _log.info("seed.loaded", source=str(source), summary=str(summary))


def server_security(config: Config) -> ServerSecurity:
    """Read the TLS, key and mapping files; raises ValueError or OSError naming the bad file."""
    settings = config.security
    authenticator = build_authenticator(settings, config.default_buyer)
    return ServerSecurity(
        credentials=server_credentials(settings.tls) if settings.tls is not None else None,
        gate=AuthGate(authenticator),
        max_message_bytes=settings.max_message_bytes,
    )


class StartFailed(Exception):
    """A step of start-up could not go on (it logged why); `code` is the process exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Parts:
    """What `Server.assemble` builds: the event hubs, the background workers, the servicers."""

    log_id: str
    hub: EventHub
    measurement_hub: MeasurementHub
    wakeups: Wakeups
    dispatcher: Dispatcher
    processor: OrderProcessor
    runner: SftRunner
    pm_engine: PmEngine
    bindings: list[ServiceBinding] = field(default_factory=list)
    broker: NetworkBroker | None = None  # with --network-listen: the attached network workers


@dataclass(frozen=True)
class Started:
    """What `Server.start` started: the gRPC server, the REST adapter (if any), and how many
    unfinished orders, test jobs and PM jobs this process resumed; the metrics endpoint (if any)."""

    running: RunningServer
    rest: InProcessRest | None
    resumed: int
    tests_resumed: int
    jobs_resumed: int
    metrics: MetricsServer | None = None
    network: NetworkListener | None = None


class Server:
    """One interlude-server process over an open store: assemble -> start -> wait -> stop, and
    `close` whatever happened. A step that cannot go on logs why and raises StartFailed."""

    def __init__(self, config: Config, store: Store, security: ServerSecurity) -> None:
        self.config = config
        self.store = store
        self.security = security
        self.owner = process_owner()
        self.node: SharedNode | None = None  # with a shared store, once assembled
        self.retention: asyncio.Task[None] | None = None  # once started
        self.scenario: asyncio.Task[None] | None = None  # with --sim-scenario, once started
        # One bound for gRPC and REST together: both end in the same servicers and store.
        limits = config.limits
        self.limiter = LoadLimiter(limits.max_inflight_rpcs, limits.max_streams, limits.overload_retry_after)
        # Kept only when served: an unmeasured server pays nothing per call.
        self.metrics = Metrics() if config.metrics_listen is not None else None
        if self.metrics is not None:
            store.observe_groups(self.metrics.store_group)
        # REST /readyz: ready once started with the store open, not ready from the stop signal on.
        self.readiness = Readiness(lambda: store.is_open)

    async def assemble(self, faults: list[FaultRule], test_faults: list[SftFaultRule] | None) -> Parts:
        """Seed the store, build the hubs and workers, wire commits to them, build the servicers."""
        await self._seed()
        parts = await self._parts(faults, test_faults)
        await self._wire(parts)
        parts.bindings = self._bindings(parts)
        return parts

    async def _seed(self) -> None:
        """Load `--seed` into an empty store (processes starting together on a shared store
        seed it once, under a lease)."""
        config, store = self.config, self.store
        try:
            if config.shared_store:
                await with_lease(store, "seed", self.owner, config.lease_ttl)
            await _seed(config, store)
            if config.shared_store:
                await store.release_lease("seed", self.owner)
        except SeedError as exc:
            _log.error("seed.invalid", error=str(exc))
            raise StartFailed(2) from exc
        except StorageUnavailable as exc:  # serve what the database holds; writes answer the same
            _log.warning("seed.not_loaded", error=str(exc))

    async def _parts(self, faults: list[FaultRule], test_faults: list[SftFaultRule] | None) -> Parts:
        """The event hubs (the replay tail reloaded from the log) and the background workers."""
        config, store = self.config, self.store
        log = await store.event_log_state()
        hub = EventHub(log.last_seq, config.event_subscriber_buffer, config.event_replay_tail)
        reloaded = await reload_tail(hub, log.pruned_through_seq, store.read_log_bodies_after)
        _log.info("events.tail_reloaded", events=reloaded, after_seq=hub.tail_floor)
        measurement_hub = MeasurementHub(
            await store.measurement_log_last_seq(), config.event_subscriber_buffer
        )
        delivered = self.metrics.delivery() if self.metrics is not None else None
        dispatcher = Dispatcher(store, lambda: hub.last_seq, delivery_settings(config), delivered)
        reports = ObservedReports(NetworkObserver(store))  # committed like a scenario's
        broker = NetworkBroker(config.network_timeout, reports) if config.network_listen else None
        remote = broker if config.partner == "remote" else None
        partner: PartnerBackend = (
            SimulatedPartner(config.sim_step_delay, faults) if remote is None else RemotePartner(remote)
        )
        processor = OrderProcessor(store, partner, config.sim_step_delay, config.order_wait_timeout)
        wakeups = Wakeups()
        tester: SftBackend = (
            SimulatedTester(config.sim_step_delay, config.sim_seed, test_faults)
            if remote is None
            else RemoteTester(remote)
        )
        runner = SftRunner(store, tester, config.sim_step_delay, config.sim_seed, wakeups)
        pm_engine = PmEngine(
            store,
            config.sim_seed,
            SimClock(config.sim_time_scale, await store.sim_clock_origin_ns()),
            config.sim_step_delay,
            None if remote is None else RemoteMeter(remote),
        )
        parts = Parts(log.log_id, hub, measurement_hub, wakeups, dispatcher, processor, runner, pm_engine)
        parts.broker = broker
        return parts

    async def _wire(self, parts: Parts) -> None:
        """Feed the hubs and wake the workers on each commit: from the shared log (SharedNode,
        which also runs the background work under leases), or, in the only process, from what
        each commit appended, without reading it back."""
        config = self.config
        if config.shared_store:
            self.node = SharedNode(
                self.store,
                self.owner,
                (parts.hub, parts.measurement_hub),
                (parts.processor, parts.runner, parts.pm_engine, parts.dispatcher),
                parts.wakeups,
                lease_ttl=config.lease_ttl,
                follow_interval=config.follow_interval,
                delivers_hub=config.rest_listen is not None,
            )
            await self.node.start()
            return
        route, dispatcher = route_commits(parts.hub, parts.measurement_hub), parts.dispatcher

        def committed(items: list[tuple[str, Any]]) -> None:
            route(items)  # first: delivery reads up to hub.last_seq
            dispatcher.notify()

        self.store.on_commit(committed)

    def _bindings(self, parts: Parts) -> list[ServiceBinding]:
        store, log_id = self.store, parts.log_id
        buyer_of = BuyerResolver(self.config.default_buyer, dev_header=self.config.security.auth == "none")
        return [
            inventory_binding(store, buyer_of),
            catalog_binding(store, buyer_of),
            ordering_binding(store, buyer_of, parts.processor),
            events_binding(store, parts.hub, buyer_of, log_id),
            service_test_binding(store, buyer_of, parts.runner, parts.wakeups, log_id),
            performance_binding(store, buyer_of, parts.pm_engine, parts.measurement_hub, log_id),
            alarm_binding(store, buyer_of),
        ]

    async def start(self, parts: Parts) -> Started:
        """Listen (gRPC, then REST), start retention and resume unfinished work."""
        config = self.config
        try:
            running = await start_server(
                config.grpc_listen,
                parts.bindings,
                config.default_buyer,
                self.security,
                config.limits,
                self.limiter,
                reuse_port=config.worker_index is not None,
                metrics=self.metrics,
                access=config.access,
            )
        except RuntimeError as exc:
            _log.error("server.bind_failed", address=config.grpc_listen.address, error=str(exc))
            raise StartFailed(1) from exc
        rest = await self._start_rest(parts, running) if config.rest_listen is not None else None
        metrics = await self._start_metrics(parts, running, rest) if self.metrics is not None else None
        network = await self._start_network(parts.broker, running) if parts.broker is not None else None
        self.retention = asyncio.create_task(
            run_retention(
                self.store,
                config.event_retention_hours * 3600,
                config.event_retention_count,
                config.event_prune_interval,
            )
        )
        if self.node is None:
            resumed = (
                await parts.processor.start(),
                await parts.runner.start(),
                await parts.pm_engine.start(),
            )
        else:  # resumed by whichever process holds each lease (cluster/leases.py)
            resumed = (0, 0, 0)
        if config.sim_scenario is not None:
            self.scenario = asyncio.create_task(self._play_scenario(config.sim_scenario))
        _log.debug("runtime.gc_tuned", frozen=freeze_startup_objects(), thresholds=space_young_collections())
        self.readiness.serving()
        return Started(running, rest, *resumed, metrics=metrics, network=network)

    async def _start_network(self, broker: NetworkBroker, running: RunningServer) -> NetworkListener:
        """The southbound listener; if it cannot listen, the gRPC server stops at once."""
        config = self.config
        assert config.network_listen is not None
        try:
            network = await start_network(config.network_listen, broker, config.security.tls)
        except RuntimeError as exc:
            _log.error("server.bind_failed", address=config.network_listen.address, error=str(exc))
            await running.stop(0)
            raise StartFailed(1) from exc
        _log.info("network.serving", address=network.listen.address, partner=config.partner)
        return network

    async def _play_scenario(self, path: Path) -> None:
        """Play the network scenario (partner/network/scenario.py) on the simulated clock."""
        origin = await self.store.sim_clock_origin_ns()
        player = ScenarioPlayer(
            NetworkObserver(self.store), load_scenario(path), origin, self.config.sim_time_scale
        )
        await player.run()

    async def _start_metrics(
        self, parts: Parts, running: RunningServer, rest: InProcessRest | None
    ) -> MetricsServer:
        """The /metrics endpoint; if it cannot listen, the servers started so far stop at once."""
        from interlude_server.runtime.metrics_server import MetricsEndpoint, start_metrics

        config = self.config
        assert config.metrics_listen is not None
        assert self.metrics is not None
        hubs: dict[str, Hub[Any, Any]] = {"events": parts.hub, "measurements": parts.measurement_hub}
        endpoint = MetricsEndpoint(self.metrics, self.store, hubs)
        try:
            return await start_metrics(
                config.metrics_listen, endpoint, reuse_port=config.worker_index is not None
            )
        except OSError as exc:
            _log.error("server.bind_failed", address=config.metrics_listen.address, error=str(exc))
            if rest is not None:
                await rest.stop(0)
            await running.stop(0)
            raise StartFailed(1) from exc

    async def _start_rest(self, parts: Parts, running: RunningServer) -> InProcessRest:
        """The REST adapter, admitting as the gRPC server does; if it cannot listen, the gRPC
        server stops at once."""
        from interlude_server.runtime.rest_server import start_in_process

        config = self.config
        assert config.rest_listen is not None
        gate = self.security.gate
        authenticator = (
            gate.authenticator
            if gate is not None
            else Authenticator("none", default_buyer=config.default_buyer)
        )
        try:
            return await start_in_process(
                config,
                self.store,
                parts.dispatcher,
                parts.bindings,
                authenticator,
                self.limiter,
                self.metrics,
                self.readiness,
            )
        except OSError as exc:
            _log.error("server.bind_failed", address=config.rest_listen.address, error=str(exc))
            await running.stop(0)
            raise StartFailed(1) from exc

    async def wait(self, started: Started) -> None:
        """Until SIGTERM or SIGINT; the ready file is written and `server.started` logged once
        the signal handlers are in place."""
        config, running, rest = self.config, started.running, started.rest
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        address = running.listen.address
        rest_address = rest.server.listen.address if rest is not None else "off"
        metrics = started.metrics
        if config.ready_file is not None:
            # First line: the gRPC address; then `rest=HOST:PORT` when the REST adapter runs and
            # `metrics=HOST:PORT` when /metrics is served, `network=HOST:PORT` with --network-listen.
            lines = [address] + ([] if rest is None else [f"rest={rest_address}"])
            lines += [] if metrics is None else [f"metrics={metrics.listen.address}"]
            lines += [] if started.network is None else [f"network={started.network.listen.address}"]
            write_ready_file(config.ready_file, "\n".join(lines))
        if metrics is not None:
            _log.info("metrics.serving", url=metrics.url, workers=max(config.workers, 1))
        security = config.security
        _log.info(
            "server.started",
            address=address,
            auth=security.auth,
            tls="mtls" if security.tls and security.tls.client_ca else bool(security.tls),
            rest_address=rest_address,
            metrics_url=metrics.url if metrics is not None else "off",
            access_log=config.access.mode,
            read_cache=_cache_capacity(self.store),
            pid=os.getpid(),
            db=str(config.db_path) if config.db_path is not None else redacted_db_url(config.db_url),
            shared_store=config.shared_store,
            orders_resumed=started.resumed,
            test_jobs_resumed=started.tests_resumed,
            pm_jobs_resumed=started.jobs_resumed,
            services=len(running.reflected_services),
        )
        await stop.wait()
        _log.info("server.stopping", grace_s=config.shutdown_grace)

    async def stop(self, parts: Parts, started: Started) -> None:
        """Graceful shutdown: REST /readyz says not ready and new REST requests are refused (503
        SHUTTING_DOWN), give up the leases, report NOT_SERVING and end the streams, drain
        in-flight RPCs for up to the grace (REST requests in flight go on meanwhile), stop the
        REST server and hub delivery, then the workers."""
        grace = self.config.shutdown_grace
        self.readiness.draining()
        if self.node is not None:
            await self.node.halt()

        def draining() -> None:
            close_all(parts.hub, parts.measurement_hub)
            parts.wakeups.close()

        await started.running.stop(grace, on_draining=draining)
        if started.network is not None:
            await started.network.stop(grace)
        if started.rest is not None:
            await started.rest.stop(grace)
        await parts.processor.stop()
        await parts.runner.stop()
        await parts.pm_engine.stop()
        if started.metrics is not None:  # last: a scrape sees the drain
            await started.metrics.stop()

    async def close(self) -> None:
        """Release what start-up took, however far it got: the node, retention, the store."""
        if self.node is not None:
            await self.node.close()
        if self.scenario is not None:
            self.scenario.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.scenario
        if self.retention is not None:
            self.retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.retention
        await self.store.close()


def _cache_capacity(store: Store) -> int:
    """The services the store's read cache holds at most (0: no cache)."""
    cache = store.service_cache if isinstance(store, SqlStore) else None
    return 0 if cache is None else cache.capacity


async def _opened(store: Store) -> bool:
    """Open the store; if it cannot be opened, log `store.unavailable` with the cause on one
    line (the traceback of an unforeseen failure only at debug level) and say so."""
    try:
        await store.open()
    except (StorageUnavailable, SchemaVersionError) as exc:
        _log.error("store.unavailable", error=" ".join(str(exc).split()))
        return False
    except Exception as exc:  # any other failure to open: the operator still gets one line
        _log.debug("store.open_failed", exc_info=exc)
        _log.error("store.unavailable", error=" ".join(f"{type(exc).__name__}: {exc}".split()))
        return False
    return True


async def serve(
    config: Config,
    faults: list[FaultRule],
    security: ServerSecurity,
    test_faults: list[SftFaultRule] | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; the process exit code."""
    store = open_store(config)
    if not await _opened(store):
        await store.close()
        return 1
    if isinstance(store, SqlStore):  # off when shared on PostgreSQL: store.sql.cache says why
        store.cache_services(config.read_cache, shared=config.shared_store)
    server = Server(config, store, security)
    try:
        parts = await server.assemble(faults, test_faults)
        started = await server.start(parts)
        await server.wait(started)
        await server.stop(parts, started)
    except StartFailed as failed:
        return failed.code
    finally:
        await server.close()
    if config.ready_file is not None:
        config.ready_file.unlink(missing_ok=True)
    _log.info("server.stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point of `interlude-server`."""
    args = sys.argv[1:] if argv is None else argv
    config = parse_args(args)
    worker: dict[str, object] = (
        {} if config.worker_index is None else {"worker": config.worker_index, "pid": os.getpid()}
    )
    configure_logging(config.log_format, config.log_level, worker)
    try:
        faults = load_faults(config.sim_faults) if config.sim_faults else []
        test_faults = load_test_faults(config.sim_faults) if config.sim_faults else []
    except ValueError as exc:
        _log.error("sim_faults.invalid", error=str(exc))
        return 2
    try:
        if config.sim_scenario is not None:
            load_scenario(config.sim_scenario)
    except ValueError as exc:
        _log.error("sim_scenario.invalid", error=str(exc))
        return 2
    try:
        for urn, why in schemas.use(config.schema_dir).unusable.items():
            _log.warning("schema.unusable", type=urn, error=why)
    except schemas.SchemaError as exc:
        _log.error("schema_dir.invalid", error=str(exc))
        return 2
    try:
        security = server_security(config)
    except (ValueError, OSError) as exc:
        _log.error("security.invalid", error=str(exc))
        return 2
    if config.workers > 1:
        return Supervisor(config, args).run()
    spans = otel.setup(config.otel_endpoint)
    try:
        return asyncio.run(serve(config, faults, security, test_faults))
    finally:
        if spans is not None:
            spans.shutdown()


if __name__ == "__main__":
    sys.exit(main())
