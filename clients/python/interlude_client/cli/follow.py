"""Following one resource (a PM job task, an ad-hoc report) to its end from its events.

The same scheme as `InterludeClient.follow_order`: the event stream (filtered on the
resource) is opened first; at its sync marker the resource is read as it is now, so no
later change is missed; then each event's copy of the resource is a new state. Each new
state is printed (a line, or one JSON object per line with `-o json`) until `done` says
the last one is final.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf import duration_pb2
from google.protobuf.message import Message

from interlude_client.cli.context import Context
from interlude_grpc.mef.lso.interlude.v1 import events_pb2

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Followed(Generic[M]):
    """What to follow: the resource's id and kind, the Event payload field that carries
    it, how to read it now, whether a state is final, and its printed line."""

    resource_id: str
    resource_type: events_pb2.ResourceType.ValueType
    payload: str
    read: Callable[[], M]
    done: Callable[[M], bool]
    line: Callable[[M], str]


def _request(followed: Followed[M]) -> events_pb2.StreamEventsRequest:
    return events_pb2.StreamEventsRequest(
        filter=events_pb2.EventFilter(
            resource_ids=[followed.resource_id], resource_types=[followed.resource_type]
        ),
        heartbeat_interval=duration_pb2.Duration(seconds=5),
    )


def follow_resource(ctx: Context, followed: Followed[M]) -> M:
    """Print each new state of the resource until it is final; the final state."""
    last: M | None = None
    synced = False
    with closing(ctx.connected().stream_events(_request(followed))) as stream:
        for response in stream:
            state: M | None = None
            if response.HasField("sync") and not synced:
                synced = True
                state = followed.read()
            elif synced and response.HasField("event"):  # about this resource: the filter says so
                event = response.event
                has = event.WhichOneof("payload") == followed.payload
                state = getattr(event, followed.payload) if has else followed.read()
            if state is None or state == last:
                continue
            last = state
            ctx.output.item(state, followed.line(state))
            if followed.done(state):
                return state
    raise AssertionError("an event stream does not end on its own")  # pragma: no cover
