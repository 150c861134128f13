"""Configuration of `interlude-server`: flags, INTERLUDE_* environment variables, a TOML file.

Every flag can also be set as `INTERLUDE_<FLAG>` or as a key of the `--config` file
(core/flag_layers.py; precedence flag > env > file > default). Parsing validates everything
that can be checked without side effects; a bad flag, variable or key is an argparse error
(exit 2) that names it and what was expected. `--print-config` prints the result and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from interlude_server.auth.callbacks import CallbackPolicy
from interlude_server.auth.settings import (
    SecuritySettings,
    add_security_arguments,
    is_loopback,
    settings_from_args,
)
from interlude_server.config_flags import (
    add_access_log_arguments,
    add_cluster_arguments,
    add_config_arguments,
    add_otel_flag,
    parse_existing_dir,
    parse_existing_file,
    parse_grace,
    parse_positive_seconds,
    parse_scale,
)
from interlude_server.core import versions
from interlude_server.core.flag_layers import ExplainingParser, Layering, parse_layered, render
from interlude_server.core.text import is_decimal
from interlude_server.limits import Limits, add_limit_arguments, limits_from_args
from interlude_server.observability.access import AccessPolicy

LogFormat = Literal["json", "console"]

DEFAULT_GRPC_LISTEN = "127.0.0.1:50051"
DEFAULT_DB = "sqlite:///./var/interlude.db"
SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
LOG_LEVELS = ("debug", "info", "warning", "error")

# INTERLUDE_* variables that belong to other tools sharing the environment (the `interlude`
# CLI, the test suite, benchmarks): never flags of the server, and no warning for them. Any
# other INTERLUDE_* name that is not a flag gets a one-line warning on stderr (a typo would
# otherwise be silently ignored) but does not stop the server.
FOREIGN_ENV = (
    "INTERLUDE_TARGET",
    "INTERLUDE_BUYER",
    "INTERLUDE_TOKEN",
    "INTERLUDE_CONNECT_TIMEOUT",  # the CLI's
    "INTERLUDE_REFERENCE_DIR",
    "INTERLUDE_KYLIE_OPENAPI",  # .ci/run: MEF's Kylie files for `make conformance`
    "INTERLUDE_TEST_*",
    "INTERLUDE_FUZZ_*",
    "INTERLUDE_CRASH_*",
    "INTERLUDE_IDLE_*",
    "INTERLUDE_BENCH_*",
)
LAYERING = Layering(prefix="INTERLUDE_", cli_only=frozenset({"print_config"}), foreign_env=FOREIGN_ENV)


@dataclass(frozen=True)
class Listen:
    """A HOST:PORT listen address; port 0 asks the OS for a free port."""

    host: str
    port: int

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        """The address in the form grpc expects (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Seed:
    """What to load into an empty store: nothing, the demo data set, or a file."""

    kind: Literal["none", "demo", "file"]
    path: Path | None = None

    def __str__(self) -> str:
        return str(self.path) if self.kind == "file" else self.kind


@dataclass(frozen=True)
class Config:
    """Everything the server needs to start."""

    grpc_listen: Listen
    rest_listen: Listen | None
    db_url: str
    db_path: Path | None  # the SQLite file; None when db_url is a PostgreSQL URL
    seed: Seed
    log_format: LogFormat
    log_level: str
    shutdown_grace: float
    ready_file: Path | None
    default_buyer: str = "sp-alpha"
    sim_step_delay: float = 1.0
    sim_faults: Path | None = None
    order_wait_timeout: float = 604_800.0
    sim_scenario: Path | None = None
    sim_seed: int = 0
    schema_dir: Path | None = None
    event_retention_hours: float = 168.0
    event_retention_count: int = 1_000_000
    event_prune_interval: float = 60.0
    event_subscriber_buffer: int = 10_000
    event_replay_tail: int = 16_384
    read_cache: int = 16_384
    sim_time_scale: float = 1.0
    security: SecuritySettings = field(default_factory=SecuritySettings)
    hub_max_attempts: int = 10
    hub_backoff_initial: float = 1.0
    hub_backoff_max: float = 60.0
    hub_delivery_timeout: float = 10.0
    hub_callback_allow: tuple[str, ...] = ()
    db_max_bytes: int | None = None
    sqlite_mmap_mb: int = 1024
    limits: Limits = field(default_factory=Limits)
    # Which finished calls the access log keeps (--access-log, --access-log-slow-ms).
    access: AccessPolicy = field(default_factory=lambda: AccessPolicy("changes"))
    # Several processes on one store (cluster/): see README "Deployment".
    workers: int = 1
    shared_store: bool = False
    lease_ttl: float = 10.0
    follow_interval: float = 0.025
    worker_index: int | None = None  # set in the processes that `--workers N` starts
    metrics_listen: Listen | None = None  # where /metrics is served; None: no metrics kept
    otel_endpoint: str | None = None  # OTLP spans (observability.otel); None: the environment's
    # The Partner's network: the embedded simulator, or workers attached at network_listen.
    partner: Literal["simulator", "remote"] = "simulator"
    network_listen: Listen | None = None
    network_timeout: float = 30.0


def parse_listen(value: str) -> Listen:
    """Parse HOST:PORT (IPv6 hosts in brackets, e.g. [::1]:50051)."""
    host, sep, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not is_decimal(port_text) or not 0 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT with a port from 0 to 65535 (0 = any free port), got {value!r}"
        )
    return Listen(host, int(port_text))


def parse_rest_listen(value: str) -> Listen | None:
    """Parse an optional listen address (REST, metrics); `off` turns the listener off."""
    if value == "off":
        return None
    return parse_listen(value)


def is_postgres_url(url: str) -> bool:
    """Whether `--db` names a PostgreSQL database (libpq URL) rather than a SQLite file."""
    return url.startswith(POSTGRES_PREFIXES)


def redacted_db_url(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///PATH` URL, or of a plain PATH (no scheme)."""
    plain = "://" not in url and url != ""
    if not plain and (not url.startswith(SQLITE_PREFIX) or len(url) == len(SQLITE_PREFIX)):
        raise argparse.ArgumentTypeError(
            f"expected sqlite:///PATH, a file path or postgresql://USER@HOST/DBNAME, got {url!r}"
        )
    path = url if plain else url[len(SQLITE_PREFIX) :]
    if path == ":memory:":
        raise argparse.ArgumentTypeError("an in-memory database loses every order on exit; give a file path")
    return Path(path)


def parse_seed(value: str) -> Seed:
    """Parse `none`, `demo` or the path of an existing seed file."""
    if value == "none":
        return Seed(kind="none")
    if value == "demo":
        return Seed(kind="demo")
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"expected demo, none or an existing file, got {value!r}")
    return Seed(kind="file", path=path)


def command_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The argument parser of one of the server's commands, with its `--version` flag."""
    parser = ExplainingParser(prog=prog, description=description)
    versions.add_version_flag(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `interlude-server`."""
    parser = command_parser(
        "interlude-server",
        "MEF LSO Interlude Partner-side server (gRPC, and the MEF REST form). Every flag can also "
        "be set as an environment variable INTERLUDE_<FLAG> (--rest-listen: INTERLUDE_REST_LISTEN) "
        "or in the --config file; a flag wins over the environment, which wins over the file.",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--grpc-listen",
        type=parse_listen,
        default=parse_listen(DEFAULT_GRPC_LISTEN),
        metavar="HOST:PORT",
        help=f"gRPC listen address; port 0 picks a free port (default {DEFAULT_GRPC_LISTEN})",
    )
    parser.add_argument(
        "--rest-listen",
        type=parse_rest_listen,
        default=None,
        metavar="HOST:PORT|off",
        help="MEF REST adapter listen address, or off (default off)",
    )
    parser.add_argument(
        "--metrics-listen",
        type=parse_rest_listen,
        default=None,
        metavar="HOST:PORT|off",
        help="serve Prometheus metrics at http://HOST:PORT/metrics, or off (default off); "
        "with --workers N one scrape covers every worker",
    )
    parser.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="URL",
        help=f"sqlite:///PATH (or a plain file path) or postgresql://USER@HOST:PORT/DBNAME "
        f"(default {DEFAULT_DB})",
    )
    parser.add_argument(
        "--db-max-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="largest the database may grow (SQLite max_page_count); past it writes fail with "
        "UNAVAILABLE STORAGE_UNAVAILABLE as on a full disk, reads keep working (default no limit)",
    )
    parser.add_argument(
        "--sqlite-mmap-mb",
        type=int,
        default=1024,
        metavar="MIB",
        help="SQLite only: how much of the database file each read connection maps into memory "
        "(mmap_size) instead of copying pages into its own cache; the pages are the OS page "
        "cache's, shared by every connection and worker; 0: no mapping (default 1024)",
    )
    parser.add_argument(
        "--seed",
        type=parse_seed,
        default=Seed(kind="none"),
        metavar="demo|PATH|none",
        help="data to load into an empty store (default none)",
    )
    parser.add_argument(
        "--schema-dir",
        type=parse_existing_dir,
        default=None,
        metavar="DIR",
        help="check configurations against the JSON Schemas (JSON or YAML, e.g. MEF's published "
        "serviceSchema files) under DIR, keyed by their $id = the configuration @type; types DIR "
        "does not describe keep the server's own schemas (default: the server's own schemas only)",
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=None,
        help="log format (default console when stderr is a terminal, else json)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="default info")
    add_otel_flag(parser)
    add_access_log_arguments(parser)
    parser.add_argument(
        "--shutdown-grace",
        type=parse_grace,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long in-flight RPCs may take to finish (default 10)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="once serving, write the bound HOST:PORT to this file (atomically)",
    )
    parser.add_argument(
        "--default-buyer",
        default="sp-alpha",
        metavar="BUYER",
        help="with --auth none: buyer of calls without x-interlude-buyer metadata (default sp-alpha)",
    )
    parser.add_argument(
        "--sim-step-delay",
        type=parse_grace,
        default=1.0,
        metavar="SECONDS",
        help="Partner simulator: time each order step and item takes (default 1)",
    )
    parser.add_argument(
        "--sim-faults",
        type=parse_existing_file,
        default=None,
        metavar="PATH",
        help='Partner simulator: JSON fault rules {"faults": [{"externalId": "FAIL-*", "reason": "..."}]}',
    )
    parser.add_argument(
        "--order-wait-timeout",
        type=parse_grace,
        default=604_800.0,
        metavar="SECONDS",
        help="an order item pending or held this long fails (default 604800, a week)",
    )
    parser.add_argument(
        "--sim-scenario",
        type=parse_existing_file,
        default=None,
        metavar="PATH",
        help="Partner simulator: JSON network scenario, timed state changes and alarms the "
        'network reports {"steps": [{"at": 2.0, "buyer": "...", "service": "...", "state": "DISABLED"}]}',
    )
    parser.add_argument(
        "--sim-seed",
        type=int,
        default=0,
        metavar="N",
        help="Partner simulator: seed of simulated measurements; same seed, same values (default 0)",
    )
    parser.add_argument(
        "--event-retention-hours",
        type=parse_grace,
        default=168.0,
        metavar="HOURS",
        help="keep events this long for resuming streams (default 168)",
    )
    parser.add_argument(
        "--event-retention-count",
        type=int,
        default=1_000_000,
        metavar="N",
        help="keep at most the newest N events (default 1000000)",
    )
    parser.add_argument(
        "--event-prune-interval",
        type=parse_grace,
        default=60.0,
        metavar="SECONDS",
        help="how often retention runs (default 60)",
    )
    parser.add_argument(
        "--event-replay-tail",
        type=int,
        default=16_384,
        metavar="N",
        help="newest events kept in memory (and reloaded at start) so resumes from them skip the "
        "database; 0: every replay reads it (default 16384)",
    )
    parser.add_argument(
        "--read-cache",
        type=int,
        default=16_384,
        metavar="N",
        help="services kept in memory as stored, for GetService and the REST service read "
        "(about 1-2 KiB each); dropped as their writes commit; 0: every read goes to the "
        "database (default 16384)",
    )
    parser.add_argument(
        "--event-subscriber-buffer",
        type=int,
        default=10_000,
        metavar="N",
        help="events buffered per stream before a slow subscriber is cut off (default 10000)",
    )
    parser.add_argument(
        "--sim-time-scale",
        type=parse_scale,
        default=1.0,
        metavar="FACTOR",
        help="Partner simulator: simulated time runs FACTOR times faster than the wall clock; "
        "900 makes a 15-minute measurement bin arrive every second (default 1)",
    )
    add_security_arguments(parser)
    add_limit_arguments(parser)
    parser.add_argument(
        "--hub-max-attempts",
        type=int,
        default=10,
        metavar="N",
        help="REST hub: failed deliveries of one event before its registration is dead-lettered (default 10)",
    )
    parser.add_argument(
        "--hub-backoff-initial",
        type=parse_grace,
        default=1.0,
        metavar="SECONDS",
        help="REST hub: delay after the first failed delivery; doubles per failure (default 1)",
    )
    parser.add_argument(
        "--hub-backoff-max",
        type=parse_grace,
        default=60.0,
        metavar="SECONDS",
        help="REST hub: longest delay between delivery attempts (default 60)",
    )
    parser.add_argument(
        "--hub-delivery-timeout",
        type=parse_grace,
        default=10.0,
        metavar="SECONDS",
        help="REST hub: how long one delivery may take before it counts as failed (default 10)",
    )
    parser.add_argument(
        "--hub-callback-allow",
        action="append",
        default=[],
        metavar="HOST|*.DOMAIN|CIDR",
        help="REST hub: callbacks may go only to these hosts (repeatable; default: any http(s) host)",
    )
    add_cluster_arguments(parser)
    add_network_arguments(parser)
    return parser


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the Partner's network side runs (README "The southbound contract")."""
    add = parser.add_argument
    add("--partner", choices=("simulator", "remote"), default="simulator",
        help="who carries out orders, test steps and measurements: the embedded simulator, or "
        "network workers attached at --network-listen (default simulator)")  # fmt: skip
    add("--network-listen", type=parse_rest_listen, default=None, metavar="HOST:PORT",
        help="serve the southbound NetworkService to network workers here, or off (default off)")  # fmt: skip
    add("--network-timeout", type=parse_positive_seconds, default=30.0, metavar="SECONDS",
        help="how long a worker may take to answer a request (default 30)")  # fmt: skip


def _at_least(parser: argparse.ArgumentParser, flag: str, value: int, least: int) -> None:
    """Refuse `value` of `flag` below `least` (exits with status 2, naming the flag)."""
    if value < least:
        parser.error(
            f"argument {flag}: " + ("must not be negative" if least == 0 else f"must be at least {least}")
        )


def _checked_db_path(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Path | None:
    """Check the flags argparse cannot check alone (in this order: the first problem is the one
    reported); the SQLite file `--db` names, None for PostgreSQL."""
    _at_least(parser, "--hub-max-attempts", ns.hub_max_attempts, 1)
    try:
        CallbackPolicy(ns.hub_callback_allow)
    except ValueError as exc:
        parser.error(f"argument --hub-callback-allow: {exc}")
    db_path: Path | None = None
    if not is_postgres_url(ns.db):
        try:
            db_path = sqlite_path(ns.db)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument --db: {exc}")
    elif ns.db_max_bytes is not None:
        parser.error("argument --db-max-bytes: applies to SQLite only (PostgreSQL has its own quotas)")
    if ns.db_max_bytes is not None:
        _at_least(parser, "--db-max-bytes", ns.db_max_bytes, 65536)
    _at_least(parser, "--sqlite-mmap-mb", ns.sqlite_mmap_mb, 0)
    _at_least(parser, "--event-retention-count", ns.event_retention_count, 1)
    _at_least(parser, "--workers", ns.workers, 1)
    _at_least(parser, "--event-replay-tail", ns.event_replay_tail, 0)
    _at_least(parser, "--read-cache", ns.read_cache, 0)
    _at_least(parser, "--event-subscriber-buffer", ns.event_subscriber_buffer, 1)
    _check_network(parser, ns)
    return db_path


def _check_network(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> None:
    if ns.partner == "remote" and (ns.network_listen is None or ns.workers > 1 or ns.shared_store):
        parser.error("argument --partner remote: needs --network-listen, runs in one process")
    off_loopback = ns.network_listen is not None and not is_loopback(ns.network_listen.host)
    if off_loopback and ns.tls_client_ca is None and not ns.insecure_allow_remote:
        parser.error("argument --network-listen: off loopback, workers must be authenticated: "
                     "give --tls-cert/--tls-key/--tls-client-ca (or --insecure-allow-remote)")  # fmt: skip


def log_format_of(choice: str | None) -> LogFormat:
    """`--log-format`, or its default: console when stderr is a terminal, else json."""
    if choice is None:
        return "console" if sys.stderr.isatty() else "json"
    return "console" if choice == "console" else "json"


def parse_args(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Parse the command line, the INTERLUDE_* variables of `environ` (default: the process's)
    and the --config file; exits with status 2 and a message on bad input, and with status 0
    after printing the settings when asked to (--print-config)."""
    parser = build_parser()
    layered = parse_layered(
        parser, sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ, LAYERING
    )
    ns = layered.namespace
    if layered.ignored_env and ns.worker_index is None:  # the supervisor has said it already
        sys.stderr.write(
            f"{parser.prog}: warning: ignoring {', '.join(layered.ignored_env)}: not a flag "
            "(see README: Configuration)\n"
        )
    db_path = _checked_db_path(parser, ns)
    hosts = [ns.grpc_listen.host] + ([ns.rest_listen.host] if ns.rest_listen is not None else [])
    security = settings_from_args(parser, ns, hosts)
    # Most fields of Config are flags of the same name (their dest); the others are built here.
    flags = {f.name: getattr(ns, f.name) for f in fields(Config) if hasattr(ns, f.name)}
    built = {
        "db_url": ns.db,
        "db_path": db_path,
        "log_format": log_format_of(ns.log_format),
        "security": security,
        "hub_callback_allow": tuple(ns.hub_callback_allow),
        "limits": limits_from_args(ns),
        "shared_store": ns.shared_store or ns.workers > 1 or ns.worker_index is not None,
        "access": AccessPolicy(ns.access_log, ns.access_log_slow_ms / 1000.0),
    }
    config = Config(**{**flags, **built})
    if ns.print_config:
        sys.stdout.write(render(layered, parser.prog))
        parser.exit(0)
    return config
