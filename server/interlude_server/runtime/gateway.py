"""`interlude-rest-gateway`: the MEF REST form in front of a remote Interlude gRPC server.

Same routes and mapping as the in-process adapter; each REST call becomes one
call through the generated stubs (like grpc-gateway). The hub needs the event
log, so it is served only in-process: here `/hub` answers 501.

The gateway checks no credentials itself: it forwards the caller's
`Authorization` header as `authorization` metadata and the upstream admits or
refuses the call (its 401/403 reach the caller through the same error table).
`--upstream-ca` makes the upstream connection TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import grpc
import structlog

from interlude_server.api.principal import DEFAULT_BUYER
from interlude_server.auth.settings import DEFAULT_MAX_MESSAGE_BYTES
from interlude_server.config import (
    LOG_LEVELS,
    Listen,
    command_parser,
    log_format_of,
    parse_listen,
)
from interlude_server.config_flags import add_otel_flag
from interlude_server.observability import otel
from interlude_server.observability.logging import configure_logging
from interlude_server.rest.admission import Forward
from interlude_server.rest.app import build_app
from interlude_server.rest.backend import GatewayBackend
from interlude_server.rest.readiness import Readiness
from interlude_server.runtime.ready import write_ready_file
from interlude_server.runtime.rest_server import start_rest

_log = structlog.get_logger("interlude_server.rest.gateway")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "interlude-rest-gateway", "MEF LSO Interlude REST form in front of a remote Interlude gRPC server."
    )
    parser.add_argument(
        "--upstream", required=True, type=parse_listen, metavar="HOST:PORT", help="gRPC server"
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=parse_listen("127.0.0.1:8080"),
        metavar="HOST:PORT",
        help="REST listen address; port 0 picks a free port (default 127.0.0.1:8080)",
    )
    parser.add_argument("--default-buyer", default=DEFAULT_BUYER, metavar="BUYER")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per upstream call")
    parser.add_argument(
        "--upstream-ca", type=Path, default=None, metavar="PEM", help="CA of the upstream's TLS certificate"
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="N",
        help=f"largest request body accepted (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument("--ready-file", type=Path, default=None, metavar="PATH")
    parser.add_argument("--log-format", choices=("json", "console"), default=None)
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    add_otel_flag(parser)
    return parser


async def run(ns: argparse.Namespace) -> int:
    upstream: Listen = ns.upstream
    listen: Listen = ns.listen
    ready: Path | None = ns.ready_file
    credentials = None
    if ns.upstream_ca is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates=ns.upstream_ca.read_bytes())
    backend = GatewayBackend(upstream.address, ns.timeout, credentials)
    readiness = Readiness()  # the gateway's own: it does not ask the upstream
    app = build_app(backend, None, Forward(ns.default_buyer), ns.max_message_bytes, readiness=readiness)
    try:
        server = await start_rest(listen, app)
    except OSError as exc:
        _log.error("gateway.bind_failed", address=listen.address, error=str(exc))
        await backend.close()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    readiness.serving()
    if ready is not None:
        write_ready_file(ready, server.listen.address)
    _log.info("gateway.started", address=server.listen.address, upstream=upstream.address)
    await stop.wait()
    readiness.draining()
    await server.stop()
    await backend.close()
    _log.info("gateway.stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    configure_logging(log_format_of(ns.log_format), ns.log_level)
    spans = otel.setup(ns.otel_endpoint)
    try:
        code = asyncio.run(run(ns))
    finally:
        if spans is not None:
            spans.shutdown()
    if ns.ready_file is not None:
        ns.ready_file.unlink(missing_ok=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
