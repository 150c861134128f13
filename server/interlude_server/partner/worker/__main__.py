"""`python -m interlude_server.partner.worker --server HOST:PORT`: the simulators behind the
southbound contract (README "The southbound contract")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
from pathlib import Path

import grpc

from interlude_grpc.interlude.network.v1 import network_pb2
from interlude_server.core import versions
from interlude_server.observability.logging import configure_logging
from interlude_server.partner.ordering.simulator import SimulatedPartner, load_faults
from interlude_server.partner.performance.measure import SimulatedMeter
from interlude_server.partner.sft.simulator import SimulatedTester, load_test_faults
from interlude_server.partner.worker.session import Simulators, Worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interlude-network-sim",
        description="Attach the Partner network simulator to an interlude-server's --network-listen.",
    )
    versions.add_version_flag(parser, network_pb2.DESCRIPTOR.package)
    add = parser.add_argument
    add("--server", required=True, metavar="HOST:PORT", help="the server's --network-listen address")
    add("--name", default=f"sim@{socket.gethostname()}", help="the worker's name in the server's logs")
    add(
        "--sim-faults",
        type=Path,
        default=None,
        metavar="FILE",
        help="fault rules, as the server's --sim-faults",
    )
    add(
        "--sim-step-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="time per item and step (default 1)",
    )
    add("--sim-seed", type=int, default=0, metavar="N", help="seed of simulated measurements (default 0)")
    add("--tls-ca", type=Path, default=None, metavar="PEM", help="CA of the server's certificate: use TLS")
    add("--tls-cert", type=Path, default=None, metavar="PEM", help="the worker's certificate (mTLS)")
    add("--tls-key", type=Path, default=None, metavar="PEM", help="the worker's private key (mTLS)")
    add(
        "--reconnect-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="pause before reattaching (default 1)",
    )
    add("--log-format", choices=("json", "console"), default="console")
    return parser


def _credentials(ns: argparse.Namespace) -> grpc.ChannelCredentials | None:
    if ns.tls_ca is None:
        return None
    key = ns.tls_key.read_bytes() if ns.tls_key is not None else None
    cert = ns.tls_cert.read_bytes() if ns.tls_cert is not None else None
    return grpc.ssl_channel_credentials(ns.tls_ca.read_bytes(), key, cert)


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    configure_logging(ns.log_format, "info", {})
    try:
        faults = load_faults(ns.sim_faults) if ns.sim_faults else []
        test_faults = load_test_faults(ns.sim_faults) if ns.sim_faults else []
        credentials = _credentials(ns)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"interlude-network-sim: {exc}\n")
        return 2
    sims = Simulators(
        SimulatedPartner(ns.sim_step_delay, faults),
        SimulatedTester(ns.sim_step_delay, ns.sim_seed, test_faults),
        SimulatedMeter(ns.sim_seed),
    )
    worker = Worker(ns.server, ns.name, sims, credentials)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker.run(ns.reconnect_delay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
