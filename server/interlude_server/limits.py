"""Overload flags of `interlude-server`: connection limits, keepalive, connection age, and the
bounds on in-flight work past which calls are shed (see api.overload).

They live apart from config.py (as auth.settings does) because they form one concern that
two places read: the gRPC server's channel arguments (`grpc_options`) and the admission of
every RPC and REST request (`Limits.max_inflight_rpcs`, `Limits.max_streams`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields

from interlude_server.core.text import is_decimal

# Not the customary 100: with 100, grpc-core refused some new calls (RST_STREAM
# REFUSED_STREAM, seen as UNAVAILABLE by the client) of one client that kept at most 64 in
# flight on a loaded server, so writes failed that no bound asked to refuse. The server-wide
# bounds (--max-inflight-rpcs, --max-streams) are what shed load, with a clear reason.
DEFAULT_MAX_CONCURRENT_STREAMS = 1000
DEFAULT_KEEPALIVE_TIME = 60.0
DEFAULT_KEEPALIVE_TIMEOUT = 20.0
DEFAULT_MIN_PING_INTERVAL = 10.0
DEFAULT_MAX_CONNECTION_AGE = 1800.0
DEFAULT_MAX_CONNECTION_AGE_GRACE = 60.0
DEFAULT_MAX_INFLIGHT_RPCS = 1000
DEFAULT_MAX_STREAMS = 10_000
DEFAULT_OVERLOAD_RETRY_AFTER = 1.0


@dataclass(frozen=True)
class Limits:
    """How much one connection, and the whole server, may ask of the server at once.

    Times are in seconds; `max_connection_age` 0 means connections never age out."""

    max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS
    keepalive_time: float = DEFAULT_KEEPALIVE_TIME
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    keepalive_permit_without_calls: bool = True
    keepalive_min_ping_interval: float = DEFAULT_MIN_PING_INTERVAL
    max_connection_age: float = DEFAULT_MAX_CONNECTION_AGE
    max_connection_age_grace: float = DEFAULT_MAX_CONNECTION_AGE_GRACE
    max_inflight_rpcs: int = DEFAULT_MAX_INFLIGHT_RPCS
    max_streams: int = DEFAULT_MAX_STREAMS
    overload_retry_after: float = DEFAULT_OVERLOAD_RETRY_AFTER


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def grpc_options(limits: Limits) -> list[tuple[str, int]]:
    """The grpc.aio server channel arguments that enforce `limits` per connection."""
    options = [
        # HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: calls beyond it wait on the client's side.
        ("grpc.max_concurrent_streams", limits.max_concurrent_streams),
        # The server pings a quiet connection; no ack within the timeout closes it, ending
        # the calls of a client that vanished without a FIN (its streams are freed).
        ("grpc.keepalive_time_ms", _ms(limits.keepalive_time)),
        ("grpc.keepalive_timeout_ms", _ms(limits.keepalive_timeout)),
        # The policy for the client's own pings: a client pinging faster gets GOAWAY.
        ("grpc.keepalive_permit_without_calls", int(limits.keepalive_permit_without_calls)),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", _ms(limits.keepalive_min_ping_interval)),
    ]
    if limits.max_connection_age > 0:
        # GOAWAY after the age (grpc adds +-10% jitter); calls still open after the grace are
        # cut with UNAVAILABLE, and streams resume from their last token on a new connection.
        options.append(("grpc.max_connection_age_ms", _ms(limits.max_connection_age)))
        options.append(("grpc.max_connection_age_grace_ms", _ms(limits.max_connection_age_grace)))
    return options


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):  # also rejects NaN
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {value!r}")
    return seconds


def _positive_seconds(value: str) -> float:
    seconds = _seconds(value)
    if seconds < 0.001:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0.001, got {value!r}")
    return seconds


def _count(value: str) -> int:
    if not is_decimal(value) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return int(value)


# (flag, Limits field, parser, metavar, help; the default is appended from Limits()).
_FLAGS: tuple[tuple[str, str, Callable[[str], float], str, str], ...] = (
    (
        "--max-concurrent-streams",
        "max_concurrent_streams",
        _count,
        "N",
        "concurrent calls (unary or streaming) per client connection; more wait on the client's "
        "side (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS)",
    ),
    (
        "--keepalive-time",
        "keepalive_time",
        _positive_seconds,
        "SECONDS",
        "ping a connection quiet for this long",
    ),
    (
        "--keepalive-timeout",
        "keepalive_timeout",
        _positive_seconds,
        "SECONDS",
        "close a connection whose ping is not acknowledged in time",
    ),
    (
        "--keepalive-min-ping-interval",
        "keepalive_min_ping_interval",
        _positive_seconds,
        "SECONDS",
        "a client pinging more often than this is sent GOAWAY (too_many_pings)",
    ),
    (
        "--max-connection-age",
        "max_connection_age",
        _seconds,
        "SECONDS",
        "send GOAWAY to a connection this old, so clients reconnect and rebalance; 0 = never",
    ),
    (
        "--max-connection-age-grace",
        "max_connection_age_grace",
        _seconds,
        "SECONDS",
        "after GOAWAY, how long open calls may go on before they are cut (UNAVAILABLE; streams "
        "resume from their token)",
    ),
    (
        "--max-inflight-rpcs",
        "max_inflight_rpcs",
        _count,
        "N",
        "unary calls (gRPC and REST together) served at once; beyond, RESOURCE_EXHAUSTED "
        "OVERLOADED (REST 429) with a retry delay",
    ),
    (
        "--max-streams",
        "max_streams",
        _count,
        "N",
        "long-lived streams open at once, all connections together; beyond, RESOURCE_EXHAUSTED "
        "OVERLOADED with a retry delay",
    ),
    (
        "--overload-retry-after",
        "overload_retry_after",
        _positive_seconds,
        "SECONDS",
        "the retry delay a shed call carries (RetryInfo; REST Retry-After, rounded up)",
    ),
)


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("overload (see README: Reliability)")
    defaults = Limits()
    for flag, name, kind, metavar, text in _FLAGS:
        default = getattr(defaults, name)
        group.add_argument(
            flag, dest=name, type=kind, default=default, metavar=metavar, help=f"{text} (default {default:g})"
        )
    group.add_argument(
        "--keepalive-permit-without-calls",
        action=argparse.BooleanOptionalAction,
        default=defaults.keepalive_permit_without_calls,
        help="accept client keepalive pings on a connection with no call open (default yes)",
    )


def limits_from_args(ns: argparse.Namespace) -> Limits:
    return Limits(**{f.name: getattr(ns, f.name) for f in fields(Limits)})
