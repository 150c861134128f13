"""Flag groups and value types of `interlude-server` that need nothing of config.py's own
types (config.py builds the parser from them, with the listen-address and seed flags).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from interlude_server.observability.access import MODES


def parse_grace(value: str) -> float:
    """Parse a non-negative number of seconds."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {value!r}")
    return seconds


def parse_positive_seconds(value: str) -> float:
    """Parse a number of seconds > 0."""
    seconds = parse_grace(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {value!r}")
    return seconds


def parse_scale(value: str) -> float:
    """Parse a positive factor."""
    try:
        factor = float(value)
    except ValueError:
        factor = 0.0
    if not factor > 0 or factor == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return factor


def parse_existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value!r}")
    return path


def parse_existing_dir(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {value!r}")
    return path


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Where else the flags come from (--config), and what they came to (--print-config)."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help='TOML file of flags, keyed by flag name (rest-listen = "127.0.0.1:8080"; repeatable '
        "flags take arrays, switches true/false); also INTERLUDE_CONFIG",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective settings as TOML, each with its source (flag, env, file, "
        "default), secrets masked, and exit",
    )


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of several server processes sharing one store (cluster/)."""
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N server processes sharing the listen ports (SO_REUSEPORT) and the store; "
        "the first process supervises them (default 1)",
    )
    parser.add_argument(
        "--shared-store",
        action="store_true",
        help="other interlude-server processes (replicas) use the same --db: follow the log "
        "across processes and run background work under leases (implied by --workers > 1)",
    )
    parser.add_argument(
        "--lease-ttl",
        type=parse_positive_seconds,
        default=10.0,
        metavar="SECONDS",
        help="shared store: how long a dead process keeps its background work (order processing, "
        "test runs, PM jobs, hub delivery) before another takes it over (default 10)",
    )
    parser.add_argument(
        "--follow-interval",
        type=parse_positive_seconds,
        default=0.025,
        metavar="SECONDS",
        help="shared SQLite store: how often to check for other processes' commits (default 0.025)",
    )
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)


def add_otel_flag(parser: argparse.ArgumentParser) -> None:
    """`--otel-endpoint`, shared by the server and the REST gateway."""
    parser.add_argument(
        "--otel-endpoint",
        default=None,
        metavar="URL",
        help="export OpenTelemetry spans of RPCs, REST requests, order fulfilment and hub "
        "deliveries over OTLP/gRPC to URL (e.g. http://127.0.0.1:4317); needs the otel extra "
        "(default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT if set, else no spans: W3C trace "
        "context is carried either way)",
    )


def add_access_log_arguments(parser: argparse.ArgumentParser) -> None:
    """Which finished calls get an access-log line (observability/access.py)."""
    parser.add_argument(
        "--access-log",
        choices=MODES,
        default="changes",
        help="which finished calls get an rpc.finished / rest.finished line: all, changes (every "
        "call that may change something, every error and every slow call) or errors (errors and "
        "slow calls); metrics count every call either way (default changes)",
    )
    parser.add_argument(
        "--access-log-slow-ms",
        type=parse_grace,
        default=500.0,
        metavar="MS",
        help="a unary call or REST request this slow is logged whatever --access-log says (default 500)",
    )
