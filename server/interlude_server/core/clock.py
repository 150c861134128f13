"""The time, as the contract's Timestamp."""

from __future__ import annotations

import time

from google.protobuf import timestamp_pb2


def now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(time.time_ns())
    return ts
