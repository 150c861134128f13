"""What every resumable stream shares: heartbeat intervals, heartbeats and resume tokens."""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.domain import clock
from interlude_server.domain.errors import InvalidArgument, Violation
from interlude_server.events import tokens

DEFAULT_HEARTBEAT_S = 30.0
MIN_HEARTBEAT_S = 1.0


def heartbeat_seconds(request: Any) -> float:
    """The request's `heartbeat_interval` in seconds (default 30 s, at least 1 s)."""
    if not request.HasField("heartbeat_interval"):
        return DEFAULT_HEARTBEAT_S
    seconds = float(request.heartbeat_interval.ToNanoseconds()) / 1e9
    if seconds < MIN_HEARTBEAT_S:
        raise InvalidArgument(
            "heartbeat_interval is too short",
            [Violation("heartbeat_interval", f"must be at least {MIN_HEARTBEAT_S:g} s")],
        )
    return seconds


def token(log_id: str, seq: int) -> str:
    """The resume token for "right after item `seq` of log `log_id`"."""
    return tokens.encode(tokens.ResumePoint(log_id, seq))


def heartbeat(log_id: str, seq: int) -> common_pb2.StreamHeartbeat:
    """A heartbeat carrying a fresh resume token and the server time."""
    return common_pb2.StreamHeartbeat(resume_token=token(log_id, seq), server_time=clock.now())


def sync(log_id: str, seq: int) -> common_pb2.StreamSync:
    """The end-of-replay marker, with the token to resume after the replay."""
    return common_pb2.StreamSync(resume_token=token(log_id, seq))
