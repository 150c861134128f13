"""Resume tokens: opaque to clients; "continue right after sequence N of log L"."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass

from interlude_server.core.errors import InvalidArgument, ResumeTokenExpired, Violation


@dataclass(frozen=True)
class ResumePoint:
    """A position in one event log: everything up to and including `seq` was seen."""

    log_id: str
    seq: int


def encode(point: ResumePoint) -> str:
    # The bytes of json.dumps({"l": log_id, "s": seq}, separators=(",", ":")), built without
    # a dict and a JSON encoder: every event and heartbeat sent carries a fresh token.
    raw = f'{_log_field(point.log_id)}"s":{int(point.seq)}}}'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@functools.lru_cache(maxsize=64)
def _log_field(log_id: str) -> str:
    return '{"l":' + json.dumps(log_id) + ","


def decode(token: str, field: str = "resume_token") -> ResumePoint:
    """The point a token names; INVALID_RESUME_TOKEN if it is not one of ours."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        point = ResumePoint(str(data["l"]), int(data["s"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(
            "resume_token is malformed; use a token this server sent",
            [Violation(field, "not a resume token of this server")],
            reason="INVALID_RESUME_TOKEN",
        ) from exc
    if point.seq < 0:
        raise InvalidArgument(
            "resume_token is malformed",
            [Violation(field, "negative position")],
            reason="INVALID_RESUME_TOKEN",
        )
    return point


def resume_after(token: str, log_id: str, last_seq: int, pruned_through_seq: int, resync: str) -> int:
    """The sequence a stream resumes after: RESUME_TOKEN_EXPIRED if the log moved on (another
    log, or the items after the token were pruned), INVALID_RESUME_TOKEN if it is not ours."""
    point = decode(token)
    if point.log_id != log_id or point.seq < pruned_through_seq:
        raise ResumeTokenExpired(f"the items after this resume token are no longer kept; {resync}")
    if point.seq > last_seq:
        raise InvalidArgument(
            "resume_token points past the end of the log",
            [Violation("resume_token", "not a token of this server")],
            reason="INVALID_RESUME_TOKEN",
        )
    return point.seq
