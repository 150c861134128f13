"""`interlude-server`: parse flags, open the store, serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import structlog

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
from interlude_server.events.hub import (
    EventHub,
    MeasurementHub,
    Wakeups,
    close_all,
    reload_tail,
    route_commits,
)
from interlude_server.events.retention import run_retention
from interlude_server.observability.logging import configure_logging
from interlude_server.observability.runtime import freeze_startup_objects
from interlude_server.partner.ordering.processor import OrderProcessor
from interlude_server.partner.ordering.simulator import FaultRule, SimulatedPartner, load_faults
from interlude_server.partner.performance.engine import PmEngine, SimClock
from interlude_server.partner.sft.runner import SftRunner
from interlude_server.partner.sft.simulator import SftFaultRule, SimulatedTester, load_test_faults
from interlude_server.rest.hub.delivery import Dispatcher, delivery_settings
from interlude_server.runtime.grpc_server import RunningServer, ServerSecurity, start_server
from interlude_server.runtime.node import SharedNode
from interlude_server.runtime.ready import write_ready_file
from interlude_server.runtime.supervisor import Supervisor
from interlude_server.seed.loader import SeedError, load_seed
from interlude_server.store.interface.store import Store
from interlude_server.store.sqlite.store import SqliteStore

if TYPE_CHECKING:  # imported when the REST adapter runs: aiohttp is a third of a server's start-up
    from interlude_server.runtime.rest_server import InProcessRest

_log = structlog.get_logger("interlude_server")


def open_store(config: Config) -> Store:
    """The store `--db` names: a SQLite file, or a PostgreSQL database (imported only then)."""
    if config.db_path is not None:
        return SqliteStore(config.db_path, max_bytes=config.db_max_bytes)
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


async def serve(
    config: Config,
    faults: list[FaultRule],
    security: ServerSecurity,
    test_faults: list[SftFaultRule] | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; the process exit code."""
    store = open_store(config)
    try:
        await store.open()
    except StorageUnavailable as exc:
        _log.error("store.unavailable", error=str(exc))
        return 1
    retention: asyncio.Task[None] | None = None
    node: SharedNode | None = None
    owner = process_owner()
    try:
        try:
            if config.shared_store:  # processes starting together seed an empty store once
                await with_lease(store, "seed", owner, config.lease_ttl)
            await _seed(config, store)
            if config.shared_store:
                await store.release_lease("seed", owner)
        except SeedError as exc:
            _log.error("seed.invalid", error=str(exc))
            return 2
        except StorageUnavailable as exc:  # serve what the database holds; writes answer the same
            _log.warning("seed.not_loaded", error=str(exc))
        log = await store.event_log_state()
        hub = EventHub(log.last_seq, config.event_subscriber_buffer, config.event_replay_tail)
        reloaded = await reload_tail(hub, log.pruned_through_seq, store.read_log_bodies_after)
        _log.info("events.tail_reloaded", events=reloaded, after_seq=hub.tail_floor)
        measurement_hub = MeasurementHub(
            await store.measurement_log_last_seq(), config.event_subscriber_buffer
        )
        dispatcher = Dispatcher(store, lambda: hub.last_seq, delivery_settings(config))
        processor = OrderProcessor(
            store, SimulatedPartner(config.sim_step_delay, faults), config.sim_step_delay
        )
        wakeups = Wakeups()
        tester = SimulatedTester(config.sim_step_delay, config.sim_seed, test_faults)
        runner = SftRunner(store, tester, config.sim_step_delay, config.sim_seed, wakeups)
        pm_engine = PmEngine(
            store,
            config.sim_seed,
            SimClock(config.sim_time_scale, await store.sim_clock_origin_ns()),
            config.sim_step_delay,
        )
        if config.shared_store:
            node = SharedNode(
                store,
                owner,
                (hub, measurement_hub),
                (processor, runner, pm_engine, dispatcher),
                wakeups,
                lease_ttl=config.lease_ttl,
                follow_interval=config.follow_interval,
                delivers_hub=config.rest_listen is not None,
            )
            await node.start()
        else:  # the only process: publish what each commit appended, without reading it back
            route = route_commits(hub, measurement_hub)

            def committed(items: list[tuple[str, Any]]) -> None:
                route(items)  # first: delivery reads up to hub.last_seq
                dispatcher.notify()

            store.on_commit(committed)
        buyer_of = BuyerResolver(config.default_buyer, dev_header=config.security.auth == "none")
        bindings = [
            inventory_binding(store, buyer_of),
            catalog_binding(store, buyer_of),
            ordering_binding(store, buyer_of, processor),
            events_binding(store, hub, buyer_of, log.log_id),
            service_test_binding(store, buyer_of, runner, wakeups, log.log_id),
            performance_binding(store, buyer_of, pm_engine, measurement_hub, log.log_id),
        ]
        limits = config.limits
        # One bound for gRPC and REST together: both end in the same servicers and store.
        limiter = LoadLimiter(limits.max_inflight_rpcs, limits.max_streams, limits.overload_retry_after)
        try:
            running = await start_server(
                config.grpc_listen,
                bindings,
                config.default_buyer,
                security,
                limits,
                limiter,
                reuse_port=config.worker_index is not None,
            )
        except RuntimeError as exc:
            _log.error("server.bind_failed", address=config.grpc_listen.address, error=str(exc))
            return 1
        rest: InProcessRest | None = None
        if config.rest_listen is not None:
            from interlude_server.runtime.rest_server import start_in_process

            try:
                gate = security.gate
                authenticator = (
                    gate.authenticator
                    if gate is not None
                    else Authenticator("none", default_buyer=config.default_buyer)
                )
                rest = await start_in_process(config, store, dispatcher, bindings, authenticator, limiter)
            except OSError as exc:
                _log.error("server.bind_failed", address=config.rest_listen.address, error=str(exc))
                await running.stop(0)
                return 1
        retention = asyncio.create_task(
            run_retention(
                store,
                config.event_retention_hours * 3600,
                config.event_retention_count,
                config.event_prune_interval,
            )
        )
        if node is None:
            resumed = await processor.start()
            tests_resumed = await runner.start()
            jobs_resumed = await pm_engine.start()
        else:  # resumed by whichever process holds each lease (cluster/leases.py)
            resumed = tests_resumed = jobs_resumed = 0
        _log.debug("runtime.gc_frozen", objects=freeze_startup_objects())
        await _wait_for_signal(config, running, resumed, rest, tests_resumed, jobs_resumed)
        if node is not None:
            await node.halt()

        def draining() -> None:
            close_all(hub, measurement_hub)
            wakeups.close()

        if rest is not None:
            await rest.stop(config.shutdown_grace)
        await running.stop(config.shutdown_grace, on_draining=draining)
        await processor.stop()
        await runner.stop()
        await pm_engine.stop()
    finally:
        if node is not None:
            await node.close()
        if retention is not None:
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention
        await store.close()
    if config.ready_file is not None:
        config.ready_file.unlink(missing_ok=True)
    _log.info("server.stopped")
    return 0


async def _wait_for_signal(
    config: Config,
    running: RunningServer,
    resumed: int,
    rest: InProcessRest | None,
    tests_resumed: int = 0,
    jobs_resumed: int = 0,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    address = running.listen.address
    rest_address = rest.server.listen.address if rest is not None else "off"
    if config.ready_file is not None:
        # First line: the gRPC address; then `rest=HOST:PORT` when the REST adapter runs.
        write_ready_file(config.ready_file, address + ("" if rest is None else f"\nrest={rest_address}"))
    _log.info(
        "server.started",
        address=address,
        auth=config.security.auth,
        tls="mtls" if config.security.tls and config.security.tls.client_ca else bool(config.security.tls),
        rest_address=rest_address,
        pid=os.getpid(),
        db=str(config.db_path) if config.db_path is not None else redacted_db_url(config.db_url),
        shared_store=config.shared_store,
        orders_resumed=resumed,
        test_jobs_resumed=tests_resumed,
        pm_jobs_resumed=jobs_resumed,
        services=len(running.reflected_services),
    )
    await stop.wait()
    _log.info("server.stopping", grace_s=config.shutdown_grace)


def main(argv: list[str] | None = None) -> int:
    """Console entry point of `interlude-server`."""
    args = sys.argv[1:] if argv is None else argv
    config = parse_args(args)
    worker: dict[str, object] = (
        {} if config.worker_index is None else {"worker": config.worker_index, "pid": os.getpid()}
    )
    configure_logging(config.log_format, config.log_level, worker)
    if config.db_path is not None:
        config.db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        faults = load_faults(config.sim_faults) if config.sim_faults else []
        test_faults = load_test_faults(config.sim_faults) if config.sim_faults else []
    except ValueError as exc:
        _log.error("sim_faults.invalid", error=str(exc))
        return 2
    try:
        security = server_security(config)
    except (ValueError, OSError) as exc:
        _log.error("security.invalid", error=str(exc))
        return 2
    if config.workers > 1:
        return Supervisor(config, args).run()
    return asyncio.run(serve(config, faults, security, test_faults))


if __name__ == "__main__":
    sys.exit(main())
