"""The embedded Partner simulator: applies items after a delay; fails, holds or pends the ones
its fault rules match."""

from __future__ import annotations

import asyncio
import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.domain.ordering.fulfilment import ItemOutcome
from interlude_server.domain.ordering.waits import Wait

_ACTIONS = {
    "add": ordering_pb2.SERVICE_ACTION_ADD,
    "modify": ordering_pb2.SERVICE_ACTION_MODIFY,
    "delete": ordering_pb2.SERVICE_ACTION_DELETE,
}
OUTCOMES = ("failed", "held", "pending", "informationRequired")


@dataclass(frozen=True)
class FaultRule:
    """What to do with items of orders whose external id matches `external_id` (a glob),
    optionally only items of one action and one service configuration @type.

    `outcome`: `failed` (the item fails with `reason`), `held` or `pending` (the item waits with
    `reason`; after `hold_seconds` the simulator goes on, without it the item waits until it
    expires), `informationRequired` (the item waits pending for the buyer to supply
    `information`). A waiting outcome applies once per item: once the item has waited, the
    simulator carries it out.
    """

    external_id: str
    reason: str
    action: str = ""
    service_configuration_type: str = ""
    outcome: str = "failed"
    hold_seconds: float | None = None
    information: tuple[str, ...] = ()

    def matches(self, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem) -> bool:
        return (
            fnmatch.fnmatchcase(order.external_id, self.external_id)
            and (not self.action or _ACTIONS[self.action] == item.action)
            and (
                not self.service_configuration_type
                or self.service_configuration_type == item.service.service_configuration.type
            )
            and (self.outcome == "failed" or not item.wait)
        )

    def outcome_for(self) -> ItemOutcome:
        if self.outcome == "failed":
            return ItemOutcome(ok=False, reason=self.reason)
        held = self.outcome == "held"
        wait = Wait("held" if held else "pending", self.reason, self.hold_seconds, self.information)
        return ItemOutcome(ok=False, wait=wait)


def _problems(index: int, entry: Any) -> list[str]:
    where = f"faults[{index}]"
    if not isinstance(entry, dict) or not entry.get("externalId") or not entry.get("reason"):
        return [f"{where}: externalId and reason are required"]
    out = []
    if entry.get("action", "") not in ("", *_ACTIONS):
        out.append(f"{where}.action: must be add, modify or delete")
    outcome = entry.get("outcome", "failed")
    if outcome not in OUTCOMES:
        out.append(f"{where}.outcome: must be one of {', '.join(OUTCOMES)}")
    seconds = entry.get("holdSeconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
    ):
        out.append(f"{where}.holdSeconds: must be a number of seconds >= 0")
    if seconds is not None and outcome not in ("held", "pending"):
        out.append(f"{where}.holdSeconds: only for outcome held or pending")
    information = entry.get("information")
    if outcome == "informationRequired":
        if not isinstance(information, list) or not information:
            out.append(f"{where}.information: list what the buyer must supply (JSON Pointers, or /note)")
        elif not all(isinstance(p, str) and p.startswith("/") and p != "/" for p in information):
            out.append(f"{where}.information: each entry is a JSON Pointer such as /a/b, or /note")
    elif information is not None:
        out.append(f"{where}.information: only for outcome informationRequired")
    return out


def load_faults(path: Path) -> list[FaultRule]:
    """Read fault rules: `{"faults": [{"externalId": "FAIL-*", "reason": "...", "action": "add",
    "serviceConfigurationType": "urn:...", "outcome": "failed|held|pending|informationRequired",
    "holdSeconds": 2, "information": ["/pointer", "/note"]}]}`. Raises ValueError naming every bad entry."""
    data = json.loads(path.read_text())
    rules, problems = [], []
    for index, entry in enumerate(data.get("faults", []) if isinstance(data, dict) else []):
        found = _problems(index, entry)
        problems += found
        if not found:
            seconds = entry.get("holdSeconds")
            rules.append(
                FaultRule(
                    entry["externalId"],
                    entry["reason"],
                    entry.get("action", ""),
                    entry.get("serviceConfigurationType", ""),
                    entry.get("outcome", "failed"),
                    float(seconds) if seconds is not None else None,
                    tuple(entry.get("information", ())),
                )
            )
    if problems or not isinstance(data, dict):
        raise ValueError(f"{path}: " + ("; ".join(problems) or 'expected {"faults": [...]}'))
    return rules


class SimulatedPartner:
    """A PartnerBackend that takes `delay` seconds per item and succeeds unless a fault rule matches."""

    def __init__(self, delay: float, faults: list[FaultRule] | None = None) -> None:
        self.delay = delay
        self.faults = faults or []

    async def apply(
        self, buyer_id: str, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
    ) -> ItemOutcome:
        await asyncio.sleep(self.delay)
        for rule in self.faults:
            if rule.matches(order, item):
                return rule.outcome_for()
        return ItemOutcome(ok=True)
