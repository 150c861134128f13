"""How proto values become indexable SQLite column values."""

from __future__ import annotations

from google.protobuf import message as _message
from google.protobuf import timestamp_pb2

# Seconds from 0001-01-01T00:00:00Z (the earliest valid proto Timestamp) to the epoch.
_EPOCH_OFFSET = 62_135_596_800
_MAX_KEY = 10**21 - 1  # clamps out-of-range (invalid) timestamps so keys keep their width
UNSET = ""


def timestamp_key(ts: timestamp_pb2.Timestamp) -> str:
    """A 21-digit text key that sorts like the instant, with nanosecond precision.

    Integers would overflow int64 past the year 2262 at nanosecond precision;
    fixed-width digits cover the whole proto range (years 1 to 9999) and still
    compare as plain text. The key is never '' so '' can mean "unset".
    """
    value = min(max(0, (ts.seconds + _EPOCH_OFFSET) * 1_000_000_000 + ts.nanos), _MAX_KEY)
    return f"{value:021d}"


def field_key(msg: _message.Message, name: str) -> str:
    """The timestamp key of `msg.<name>`, or '' when the field is unset."""
    if not msg.HasField(name):
        return UNSET
    ts = getattr(msg, name)
    assert isinstance(ts, timestamp_pb2.Timestamp)
    return timestamp_key(ts)


def key_timestamp(key: str) -> timestamp_pb2.Timestamp | None:
    """The instant a timestamp key stands for; None for the unset key."""
    if not key:
        return None
    value = int(key)
    ts = timestamp_pb2.Timestamp()
    ts.seconds, ts.nanos = value // 1_000_000_000 - _EPOCH_OFFSET, value % 1_000_000_000
    return ts
