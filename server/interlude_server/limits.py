"""Overload flags of `interlude-server`: connection limits, keepalive, connection age, and the
bounds on in-flight work past which calls are shed (see api.overload).

They live apart from config.py (as auth.settings does) because they form one concern that
two places read: the gRPC server's channel arguments (`grpc_options`) and the admission of
every RPC and REST request (`Limits.max_inflight_rpcs`, `Limits.max_streams`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

DEFAULT_MAX_CONCURRENT_STREAMS = 100
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
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return int(value)


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("overload (see README: Reliability)")
    d = Limits()
    group.add_argument(
        "--max-concurrent-streams",
        type=_count,
        default=d.max_concurrent_streams,
        metavar="N",
        help="concurrent calls (unary or streaming) per client connection; more wait on the "
        f"client's side (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS, default {d.max_concurrent_streams})",
    )
    group.add_argument(
        "--keepalive-time",
        type=_positive_seconds,
        default=d.keepalive_time,
        metavar="SECONDS",
        help=f"ping a connection quiet for this long (default {d.keepalive_time:g})",
    )
    group.add_argument(
        "--keepalive-timeout",
        type=_positive_seconds,
        default=d.keepalive_timeout,
        metavar="SECONDS",
        help=f"close a connection whose ping is not acknowledged in time (default {d.keepalive_timeout:g})",
    )
    group.add_argument(
        "--keepalive-permit-without-calls",
        action=argparse.BooleanOptionalAction,
        default=d.keepalive_permit_without_calls,
        help="accept client keepalive pings on a connection with no call open (default yes)",
    )
    group.add_argument(
        "--keepalive-min-ping-interval",
        type=_positive_seconds,
        default=d.keepalive_min_ping_interval,
        metavar="SECONDS",
        help="a client pinging more often than this is sent GOAWAY (too_many_pings) "
        f"(default {d.keepalive_min_ping_interval:g})",
    )
    group.add_argument(
        "--max-connection-age",
        type=_seconds,
        default=d.max_connection_age,
        metavar="SECONDS",
        help="send GOAWAY to a connection this old, so clients reconnect and rebalance; "
        f"0 = never (default {d.max_connection_age:g})",
    )
    group.add_argument(
        "--max-connection-age-grace",
        type=_seconds,
        default=d.max_connection_age_grace,
        metavar="SECONDS",
        help="after GOAWAY, how long open calls may go on before they are cut (UNAVAILABLE; "
        f"streams resume from their token) (default {d.max_connection_age_grace:g})",
    )
    group.add_argument(
        "--max-inflight-rpcs",
        type=_count,
        default=d.max_inflight_rpcs,
        metavar="N",
        help="unary calls (gRPC and REST together) served at once; beyond, RESOURCE_EXHAUSTED "
        f"OVERLOADED (REST 429) with a retry delay (default {d.max_inflight_rpcs})",
    )
    group.add_argument(
        "--max-streams",
        type=_count,
        default=d.max_streams,
        metavar="N",
        help="long-lived streams open at once, all connections together; beyond, RESOURCE_EXHAUSTED "
        f"OVERLOADED with a retry delay (default {d.max_streams})",
    )
    group.add_argument(
        "--overload-retry-after",
        type=_positive_seconds,
        default=d.overload_retry_after,
        metavar="SECONDS",
        help="the retry delay a shed call carries (RetryInfo; REST Retry-After, rounded up) "
        f"(default {d.overload_retry_after:g})",
    )


def limits_from_args(ns: argparse.Namespace) -> Limits:
    return Limits(
        max_concurrent_streams=ns.max_concurrent_streams,
        keepalive_time=ns.keepalive_time,
        keepalive_timeout=ns.keepalive_timeout,
        keepalive_permit_without_calls=ns.keepalive_permit_without_calls,
        keepalive_min_ping_interval=ns.keepalive_min_ping_interval,
        max_connection_age=ns.max_connection_age,
        max_connection_age_grace=ns.max_connection_age_grace,
        max_inflight_rpcs=ns.max_inflight_rpcs,
        max_streams=ns.max_streams,
        overload_retry_after=ns.overload_retry_after,
    )
