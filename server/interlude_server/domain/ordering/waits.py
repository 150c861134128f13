"""What an order item waiting in `pending` or `held` carries, and when it wakes.

The Partner backend answers an item with a `Wait` instead of done or failed: the item waits
`pending` (for an action, e.g. information from the buyer) or `held` (an issue on the Partner
side), optionally until a time when the Partner re-checks it. The item records each wait
(`ServiceOrderItemWait`, newest last) and a Partner note a MEF client can read; the order
processor wakes the item at its resume time or fails it at its expiry time (MEF: a pending or
held item "can lead into automatic failed if no action is taken within the agreed timeframe").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2

Ord = ordering_pb2
NOTE_POINTER = "/note"  # what `information_required` names to ask for a free-text note
WAITING = (Ord.SERVICE_ORDER_ITEM_STATE_PENDING, Ord.SERVICE_ORDER_ITEM_STATE_HELD)
RESUMED, ANSWERED, EXPIRED, CANCELLED = "resumed", "answered", "expired", "cancelled"


@dataclass(frozen=True)
class Wait:
    """The backend's "not yet" for an item.

    `state`: `pending` (waiting for an action) or `held` (an issue on the Partner side).
    `resume_in`: seconds after which the Partner re-checks the item (it is applied again and may
    wait again, within the same timeframe); None: it waits for the buyer (or its expiry).
    `information`: what the buyer must supply (pending only), JSON Pointers into the item's
    service configuration in MEF spelling, or `/note` for a free-text note.
    """

    state: Literal["pending", "held"]
    reason: str
    resume_in: float | None = None
    information: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """What makes this wait impossible to record (an empty list when it is fine)."""
        out = []
        if self.state not in ("pending", "held"):
            out.append("state must be pending or held")
        if self.information and self.state != "pending":
            out.append("only a pending item asks for information")
        if any(not p.startswith("/") for p in self.information):
            out.append("information entries are JSON Pointers starting with '/'")
        if self.resume_in is not None and self.resume_in < 0:
            out.append("resume_in must not be negative")
        return out


def current(item: ordering_pb2.ServiceOrderItem) -> ordering_pb2.ServiceOrderItemWait | None:
    """The wait the item is in now, or None."""
    if item.state in WAITING and item.wait and not item.wait[-1].HasField("end_time"):
        return item.wait[-1]
    return None


def end(item: ordering_pb2.ServiceOrderItem, now: timestamp_pb2.Timestamp, resolution: str) -> None:
    """Close the item's current wait (if any) as `resolution`."""
    wait = current(item)
    if wait is not None:
        wait.end_time.CopyFrom(now)
        wait.resolution = resolution


def expiry(
    item: ordering_pb2.ServiceOrderItem, now: timestamp_pb2.Timestamp, timeout: float
) -> timestamp_pb2.Timestamp:
    """When a wait that begins now fails: `timeout` from now, unless the item comes from a wait
    the Partner itself ended (a re-check), whose timeframe it keeps."""
    if item.wait and item.wait[-1].resolution == RESUMED:
        return item.wait[-1].expiry_time
    return at(now, timeout)


def at(now: timestamp_pb2.Timestamp, seconds: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(now.ToNanoseconds() + int(seconds * 1e9))
    return out


def next_wake(order: ordering_pb2.ServiceOrder) -> timestamp_pb2.Timestamp | None:
    """The earliest resume or expiry time among the order's waiting items; None if none waits."""
    times = []
    for item in order.service_order_item:
        wait = current(item)
        if wait is not None:
            times.append(wait.expiry_time)
            if wait.HasField("resume_time"):
                times.append(wait.resume_time)
    return min(times, key=lambda t: t.ToNanoseconds()) if times else None


def record(
    wait: Wait, now: timestamp_pb2.Timestamp, expires: timestamp_pb2.Timestamp
) -> ordering_pb2.ServiceOrderItemWait:
    """The stored form of `wait`, begun at `now`."""
    out = Ord.ServiceOrderItemWait(
        state=Ord.SERVICE_ORDER_ITEM_STATE_PENDING
        if wait.state == "pending"
        else Ord.SERVICE_ORDER_ITEM_STATE_HELD,
        reason=wait.reason,
        information_required=list(wait.information),
        start_time=now,
        expiry_time=expires,
    )
    if wait.resume_in is not None:
        out.resume_time.CopyFrom(at(now, wait.resume_in))
    return out


def note(
    item: ordering_pb2.ServiceOrderItem, text: str, now: timestamp_pb2.Timestamp, *, author: str
) -> None:
    """Append a note to the item (the Partner's when `author` is `partner`, else the buyer's)."""
    source = common_pb2.NOTE_SOURCE_SOF if author == "partner" else common_pb2.NOTE_SOURCE_BUS
    item.note.add(id=f"note-{len(item.note) + 1}", author=author, date=now, source=source, text=text)


def describe(wait: ordering_pb2.ServiceOrderItemWait) -> str:
    """The Partner's note for a wait: why, what it asks and until when."""
    text = f"{'pending' if wait.state == Ord.SERVICE_ORDER_ITEM_STATE_PENDING else 'held'}: {wait.reason}"
    if wait.information_required:
        text += f"; information required: {', '.join(wait.information_required)}"
    if wait.HasField("resume_time"):
        text += f"; expected to resume at {wait.resume_time.ToJsonString()}"
    return text + f"; fails if still waiting at {wait.expiry_time.ToJsonString()}"
