"""MEF `/hub` on each API: register, inspect and remove a buyer's callback registrations.

A registration (`EventSubscriptionInput`: `callback`, `query`) is stored with
a durable cursor at the newest event of the log, so it receives every event
committed after its 201. Extensions (documented in the README): the optional
`signingSecret` (HMAC-SHA256 signature header on each delivery) and
`authorization` (sent as the `Authorization` header to the listener), both
write-only; `GET /hub/{id}` adds `deliveryStatus`.

Every operation is scoped to the caller's buyer (the admitted principal's), and
a callback must pass the CallbackPolicy (the SSRF guard) both when it is
registered and before each worker delivers to it.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Protocol

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.auth.callbacks import CallbackPolicy
from interlude_server.core import clock
from interlude_server.core.errors import InvalidArgument, NotFound, Violation
from interlude_server.domain.sft.fault import FM_EVENTS
from interlude_server.rest import mapping as m
from interlude_server.rest.alarms.mapping import ALARM_EVENTS, ALARM_NOTIFICATION_BASE
from interlude_server.rest.fm.mapping import FM_NOTIFICATION_BASE
from interlude_server.rest.performance.events import PM_EVENTS, PM_NOTIFICATION_BASE
from interlude_server.store.interface.store import HubSubscription, Store, Tx

E = events_pb2
API_EVENTS: dict[str, tuple[int, ...]] = {
    "serviceInventory": (
        E.EVENT_TYPE_SERVICE_CREATE,
        E.EVENT_TYPE_SERVICE_ATTRIBUTE_VALUE_CHANGE,
        E.EVENT_TYPE_SERVICE_STATE_CHANGE,
        E.EVENT_TYPE_SERVICE_DELETE,
    ),
    "serviceOrdering": (
        E.EVENT_TYPE_SERVICE_ORDER_CREATE,
        E.EVENT_TYPE_SERVICE_ORDER_STATE_CHANGE,
        E.EVENT_TYPE_SERVICE_ORDER_ITEM_STATE_CHANGE,
        E.EVENT_TYPE_SERVICE_ORDER_INFORMATION_REQUIRED,
    ),
    "serviceFunctionTesting": tuple(
        range(E.EVENT_TYPE_TEST_PROFILE_CREATE, E.EVENT_TYPE_TEST_RESULT_CREATE + 1)
    ),
    "performanceMonitoring": PM_EVENTS,
    "faultManagement": FM_EVENTS,
    "alarmManagement": ALARM_EVENTS,
}
# Where the buyer's listener API lives below its callback (the notification API of each API).
NOTIFICATION_BASE = {
    "serviceInventory": "/mefApi/interlude/serviceInventoryNotification/v2",
    "serviceOrdering": "/mefApi/interlude/serviceOrderingNotification/v1",
    "serviceFunctionTesting": "/mefApi/interlude/serviceFunctionTestingNotification/v3",
    "performanceMonitoring": PM_NOTIFICATION_BASE,
    "faultManagement": FM_NOTIFICATION_BASE,
    "alarmManagement": ALARM_NOTIFICATION_BASE,
}
_KEYS = ("callback", "query", "signingSecret", "authorization")


class Deliveries(Protocol):
    """What the hub needs from the delivery side."""

    def start(self, sub: HubSubscription) -> None: ...

    async def forget(self, sub_id: str) -> None: ...


def event_types(query: str, api: str) -> tuple[int, ...]:
    """The event types a hub `query` selects: `eventType=a,b` or `eventType=a&eventType=b`
    (spaces around names tolerated); empty selects every type of the API (returned as ())."""
    by_name = {m.EVENT_TYPE[t]: t for t in API_EVENTS[api]}
    chosen: list[int] = []
    problems: list[str] = []
    for part in query.split("&"):
        if not part.strip():
            continue
        name, sep, values = part.partition("=")
        if name.strip() != "eventType" or not sep:
            problems.append(f"{part.strip()!r}: only eventType=... is supported")
            continue
        for value in (v.strip() for v in values.split(",")):
            if value in by_name:
                chosen.append(by_name[value])
            elif value:
                problems.append(f"{value!r} is not an event type of this API ({', '.join(by_name)})")
    if problems:
        raise InvalidArgument(
            "the hub query is not valid", [Violation("/query", p, "invalidValue") for p in problems]
        )
    return tuple(dict.fromkeys(chosen))


def _string(data: dict[str, Any], key: str, violations: list[Violation]) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        violations.append(Violation(f"/{key}", "must be a string", "invalidFormat"))
        return ""
    return value


def _check_body(data: Any, policy: CallbackPolicy) -> dict[str, str]:
    violations: list[Violation] = []
    if not isinstance(data, dict):
        raise InvalidArgument(
            "the body must be an object", [Violation("/", "must be an object", "invalidFormat")]
        )
    for key in data:
        if key not in _KEYS:
            violations.append(
                Violation(f"/{key}", "not a property of EventSubscriptionInput", "unexpectedProperty")
            )
    values = {key: _string(data, key, violations) for key in _KEYS}
    if "callback" not in data:
        violations.append(Violation("/callback", "required", "missingProperty"))
    elif problem := policy.problem(values["callback"]):
        violations.append(Violation("/callback", problem, "invalidValue"))
    if violations:
        raise InvalidArgument("the hub registration is not valid", violations)
    return values


def subscription_json(sub: HubSubscription, *, status: bool = False) -> dict[str, Any]:
    """A MEF `EventSubscription`; with `status`, plus the `deliveryStatus` extension."""
    out: dict[str, Any] = {"id": sub.id, "callback": sub.callback, "query": sub.query}
    if status:
        out["deliveryStatus"] = {
            "state": sub.state,
            "deliveredThroughSequence": sub.cursor,
            "failedAttempts": sub.attempts,
            "lastError": sub.last_error,
        }
    return out


class HubApi:
    """The `/hub` operations for every API, scoped to the calling buyer."""

    def __init__(self, store: Store, deliveries: Deliveries, policy: CallbackPolicy | None = None) -> None:
        self.store = store
        self.deliveries = deliveries
        self.policy = policy or CallbackPolicy()

    async def register(self, api: str, buyer: str, base_url: str, data: Any) -> dict[str, Any]:
        values = _check_body(data, self.policy)
        types = event_types(values["query"], api)
        draft = HubSubscription(
            id=uuid.uuid4().hex,
            buyer_id=buyer,
            api=api,
            callback=values["callback"],
            query=values["query"],
            event_types=types,
            base_url=base_url,
            secret=values["signingSecret"],
            authorization=values["authorization"],
            cursor=0,
            created=clock.now().ToJsonString(),
        )

        def insert(tx: Tx) -> HubSubscription:
            # The cursor is taken in the same transaction: every later commit is delivered.
            sub = dataclasses.replace(draft, cursor=tx.last_event_seq())
            tx.put_hub_subscription(sub)
            return sub

        sub = await self.store.write(insert)
        self.deliveries.start(sub)
        return subscription_json(sub)

    async def _get(self, api: str, buyer: str, sub_id: str) -> HubSubscription:
        sub = await self.store.get_hub_subscription(buyer, sub_id)
        if sub is None or sub.api != api:
            raise NotFound("EventSubscription", sub_id, "HUB_SUBSCRIPTION_NOT_FOUND")
        return sub

    async def retrieve(self, api: str, buyer: str, sub_id: str) -> dict[str, Any]:
        return subscription_json(await self._get(api, buyer, sub_id), status=True)

    async def unregister(self, api: str, buyer: str, sub_id: str) -> None:
        await self._get(api, buyer, sub_id)
        await self.deliveries.forget(sub_id)
        await self.store.write(lambda tx: tx.delete_hub_subscription(buyer, sub_id))
