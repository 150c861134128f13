"""The embedded Partner simulator: applies items after a delay, fails the ones it is told to."""

from __future__ import annotations

import asyncio
import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.domain.ordering.fulfilment import ItemOutcome

_ACTIONS = {
    "add": ordering_pb2.SERVICE_ACTION_ADD,
    "modify": ordering_pb2.SERVICE_ACTION_MODIFY,
    "delete": ordering_pb2.SERVICE_ACTION_DELETE,
}


@dataclass(frozen=True)
class FaultRule:
    """Fail items of orders whose external id matches `external_id` (a glob), optionally only
    items of one action and one service configuration @type, with `reason`."""

    external_id: str
    reason: str
    action: str = ""
    service_configuration_type: str = ""

    def matches(self, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem) -> bool:
        return (
            fnmatch.fnmatchcase(order.external_id, self.external_id)
            and (not self.action or _ACTIONS[self.action] == item.action)
            and (
                not self.service_configuration_type
                or self.service_configuration_type == item.service.service_configuration.type
            )
        )


def load_faults(path: Path) -> list[FaultRule]:
    """Read fault rules: `{"faults": [{"externalId": "FAIL-*", "reason": "...", "action": "add",
    "serviceConfigurationType": "urn:..."}]}`. Raises ValueError naming every bad entry."""
    data = json.loads(path.read_text())
    rules, problems = [], []
    for index, entry in enumerate(data.get("faults", []) if isinstance(data, dict) else []):
        if not isinstance(entry, dict) or not entry.get("externalId") or not entry.get("reason"):
            problems.append(f"faults[{index}]: externalId and reason are required")
        elif entry.get("action", "") not in ("", *_ACTIONS):
            problems.append(f"faults[{index}].action: must be add, modify or delete")
        else:
            rules.append(
                FaultRule(
                    entry["externalId"],
                    entry["reason"],
                    entry.get("action", ""),
                    entry.get("serviceConfigurationType", ""),
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
                return ItemOutcome(ok=False, reason=rule.reason)
        return ItemOutcome(ok=True)
