"""State machines as tables: (from-state, action) → to-state.

The same tables drive validation (an action not in the table for the current
state is refused with the state named) and the README's state diagrams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2
from interlude_server.core.errors import InvalidState
from interlude_server.core.mef import ProtoEnum, mef_name

Ord = ordering_pb2
Com = common_pb2


# One row of a table: the states an action leaves from, the action, the state it leads to.
Row = tuple[Iterable[int], str, int]


@dataclass(frozen=True)
class StateMachine:
    """A named transition table over one contract enum."""

    name: str
    enum: ProtoEnum
    transitions: Mapping[tuple[int, str], int]
    terminal: frozenset[int]

    @classmethod
    def of(cls, name: str, enum: ProtoEnum, rows: Iterable[Row], terminal: Iterable[int]) -> StateMachine:
        """The machine of a table; its rows keep their order, which is the order of the docs."""
        transitions = {(s, action): target for sources, action, target in rows for s in sources}
        return cls(name, enum, transitions, frozenset(terminal))

    def next(self, state: int, action: str) -> int:
        """The state after `action`, or InvalidState naming the current state."""
        try:
            return self.transitions[(state, action)]
        except KeyError:
            current = self.state_name(state)
            allowed = sorted(a for (s, a) in self.transitions if s == state)
            raise InvalidState(
                f"cannot {action} a {self.name} that is {current}"
                + (f"; allowed now: {', '.join(allowed)}" if allowed else ""),
                current,
            ) from None

    def check(self, state: int, action: str) -> None:
        """Refuse `action` now (InvalidState naming the current state) unless the table allows it."""
        self.next(state, action)

    def can(self, state: int, action: str) -> bool:
        return (state, action) in self.transitions

    def state_name(self, state: int) -> str:
        """`state` in MEF spelling, e.g. `inProgress`."""
        return mef_name(self.enum, state)

    def rows(self) -> Iterable[tuple[str, str, str]]:
        """(from, action, to) in MEF spelling, for docs."""
        for (state, action), target in self.transitions.items():
            yield self.state_name(state), action, self.state_name(target)


_CANCELLABLE_ORDER = (
    Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED,
    Ord.SERVICE_ORDER_STATE_IN_PROGRESS,
    Ord.SERVICE_ORDER_STATE_PENDING,
    Ord.SERVICE_ORDER_STATE_HELD,
)

ORDER = StateMachine.of(
    "service order",
    Ord.ServiceOrderState,
    [
        ([Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED], "reject", Ord.SERVICE_ORDER_STATE_REJECTED),
        ([Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED], "start", Ord.SERVICE_ORDER_STATE_IN_PROGRESS),
        # MEF aggregation: the order is pending if at least one item is pending, else held if
        # at least one is held, else in progress (domain/ordering/waiting.py).
        (
            [Ord.SERVICE_ORDER_STATE_IN_PROGRESS, Ord.SERVICE_ORDER_STATE_HELD],
            "awaitAction",
            Ord.SERVICE_ORDER_STATE_PENDING,
        ),
        (
            [Ord.SERVICE_ORDER_STATE_PENDING, Ord.SERVICE_ORDER_STATE_HELD],
            "resume",
            Ord.SERVICE_ORDER_STATE_IN_PROGRESS,
        ),
        (
            [Ord.SERVICE_ORDER_STATE_IN_PROGRESS, Ord.SERVICE_ORDER_STATE_PENDING],
            "hold",
            Ord.SERVICE_ORDER_STATE_HELD,
        ),
        ([Ord.SERVICE_ORDER_STATE_IN_PROGRESS], "complete", Ord.SERVICE_ORDER_STATE_COMPLETED),
        ([Ord.SERVICE_ORDER_STATE_IN_PROGRESS], "fail", Ord.SERVICE_ORDER_STATE_FAILED),
        ([Ord.SERVICE_ORDER_STATE_IN_PROGRESS], "completePartially", Ord.SERVICE_ORDER_STATE_PARTIAL),
        (_CANCELLABLE_ORDER, "cancel", Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION),
        (
            [Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION],
            "acceptCancellation",
            Ord.SERVICE_ORDER_STATE_PENDING_CANCELLATION,
        ),
        ([Ord.SERVICE_ORDER_STATE_PENDING_CANCELLATION], "cancelled", Ord.SERVICE_ORDER_STATE_CANCELLED),
        # Items that finished while the cancellation was assessed make the order partial.
        (
            [Ord.SERVICE_ORDER_STATE_PENDING_CANCELLATION],
            "completePartially",
            Ord.SERVICE_ORDER_STATE_PARTIAL,
        ),
    ],
    {
        Ord.SERVICE_ORDER_STATE_REJECTED,
        Ord.SERVICE_ORDER_STATE_COMPLETED,
        Ord.SERVICE_ORDER_STATE_FAILED,
        Ord.SERVICE_ORDER_STATE_PARTIAL,
        Ord.SERVICE_ORDER_STATE_CANCELLED,
    },
)

_WAITING_ITEM = (Ord.SERVICE_ORDER_ITEM_STATE_PENDING, Ord.SERVICE_ORDER_ITEM_STATE_HELD)

ITEM = StateMachine.of(
    "service order item",
    Ord.ServiceOrderItemState,
    [
        ([Ord.SERVICE_ORDER_ITEM_STATE_ACKNOWLEDGED], "reject", Ord.SERVICE_ORDER_ITEM_STATE_REJECTED),
        ([Ord.SERVICE_ORDER_ITEM_STATE_ACKNOWLEDGED], "start", Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS),
        ([Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS], "complete", Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED),
        ([Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS], "fail", Ord.SERVICE_ORDER_ITEM_STATE_FAILED),
        ([Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS], "awaitAction", Ord.SERVICE_ORDER_ITEM_STATE_PENDING),
        ([Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS], "hold", Ord.SERVICE_ORDER_ITEM_STATE_HELD),
        (_WAITING_ITEM, "resume", Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS),
        # MEF: a pending or held item "can lead into automatic failed" after the agreed time.
        (_WAITING_ITEM, "expire", Ord.SERVICE_ORDER_ITEM_STATE_FAILED),
        (
            [
                Ord.SERVICE_ORDER_ITEM_STATE_ACKNOWLEDGED,
                Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS,
                *_WAITING_ITEM,
            ],
            "cancel",
            Ord.SERVICE_ORDER_ITEM_STATE_CANCELLED,
        ),
    ],
    {
        Ord.SERVICE_ORDER_ITEM_STATE_REJECTED,
        Ord.SERVICE_ORDER_ITEM_STATE_COMPLETED,
        Ord.SERVICE_ORDER_ITEM_STATE_FAILED,
        Ord.SERVICE_ORDER_ITEM_STATE_CANCELLED,
    },
)

_LIVE = (
    Com.SERVICE_STATE_FEASIBILITY_CHECKED,
    Com.SERVICE_STATE_DESIGNED,
    Com.SERVICE_STATE_RESERVED,
    Com.SERVICE_STATE_INACTIVE,
    Com.SERVICE_STATE_ACTIVE,
)

# MEF 99 §6.6: which lifecycle state a `modify` item may request from which
# current state. Staying in the same state is always allowed (a pure
# configuration change); `delete` retires only terminated services.
SERVICE = StateMachine.of(
    "service",
    Com.ServiceState,
    [
        (
            [Com.SERVICE_STATE_FEASIBILITY_CHECKED, Com.SERVICE_STATE_RESERVED],
            "designService",
            Com.SERVICE_STATE_DESIGNED,
        ),
        (
            [Com.SERVICE_STATE_FEASIBILITY_CHECKED, Com.SERVICE_STATE_DESIGNED],
            "reserveService",
            Com.SERVICE_STATE_RESERVED,
        ),
        (
            [
                Com.SERVICE_STATE_FEASIBILITY_CHECKED,
                Com.SERVICE_STATE_DESIGNED,
                Com.SERVICE_STATE_RESERVED,
            ],
            "provisionService",
            Com.SERVICE_STATE_INACTIVE,
        ),
        (
            [
                Com.SERVICE_STATE_FEASIBILITY_CHECKED,
                Com.SERVICE_STATE_DESIGNED,
                Com.SERVICE_STATE_RESERVED,
                Com.SERVICE_STATE_INACTIVE,
            ],
            "activateService",
            Com.SERVICE_STATE_ACTIVE,
        ),
        ([Com.SERVICE_STATE_ACTIVE], "deactivate", Com.SERVICE_STATE_INACTIVE),
        (
            [Com.SERVICE_STATE_INACTIVE, Com.SERVICE_STATE_ACTIVE],
            "terminateService",
            Com.SERVICE_STATE_TERMINATED,
        ),
        ([Com.SERVICE_STATE_TERMINATED], "retireService", Com.SERVICE_STATE_TERMINATED),
        *[([s], "modify", s) for s in _LIVE],
    ],
    {Com.SERVICE_STATE_TERMINATED},
)

# States an `add` item may ask a new service to reach (any but terminated).
ADD_TARGETS = frozenset(_LIVE)


def service_modify_allowed(current: int, requested: int) -> bool:
    """Whether a `modify` item may move a service from `current` to `requested`."""
    return any(
        SERVICE.transitions.get((current, action)) == requested
        for (state, action) in SERVICE.transitions
        if state == current and action != "retireService"
    )
