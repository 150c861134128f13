"""The overload flags parse, refuse bad values, and become the gRPC server's channel arguments."""

from __future__ import annotations

import pytest

from interlude_server.config import parse_args
from interlude_server.limits import Limits, grpc_options


def test_the_defaults_bound_everything_and_age_connections_out() -> None:
    options = dict(grpc_options(parse_args([]).limits))
    assert options == {
        "grpc.max_concurrent_streams": 1000,
        "grpc.keepalive_time_ms": 60_000,
        "grpc.keepalive_timeout_ms": 20_000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.http2.min_recv_ping_interval_without_data_ms": 10_000,
        "grpc.max_connection_age_ms": 1_800_000,
        "grpc.max_connection_age_grace_ms": 60_000,
    }
    limits = parse_args([]).limits
    assert (limits.max_inflight_rpcs, limits.max_streams, limits.overload_retry_after) == (1000, 10_000, 1.0)


def test_every_flag_reaches_its_setting() -> None:
    limits = parse_args(
        [
            *("--max-concurrent-streams", "7", "--keepalive-time", "1.5", "--keepalive-timeout", "2"),
            *("--no-keepalive-permit-without-calls", "--keepalive-min-ping-interval", "3"),
            *("--max-connection-age", "0", "--max-inflight-rpcs", "9", "--max-streams", "11"),
            *("--overload-retry-after", "0.25"),
        ]
    ).limits
    assert limits == Limits(
        max_concurrent_streams=7,
        keepalive_time=1.5,
        keepalive_timeout=2.0,
        keepalive_permit_without_calls=False,
        keepalive_min_ping_interval=3.0,
        max_connection_age=0.0,
        max_inflight_rpcs=9,
        max_streams=11,
        overload_retry_after=0.25,
    )
    options = dict(grpc_options(limits))
    assert "grpc.max_connection_age_ms" not in options  # 0: connections never age out
    assert options["grpc.keepalive_permit_without_calls"] == 0


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-inflight-rpcs", "0"),
        ("--max-streams", "-1"),
        ("--max-concurrent-streams", "x"),
        ("--keepalive-time", "0"),
        ("--max-connection-age", "nan"),
        ("--overload-retry-after", "-2"),
    ],
)
def test_a_bad_value_is_refused_naming_the_flag(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args([flag, value])
    assert exited.value.code == 2
    assert flag in capsys.readouterr().err
