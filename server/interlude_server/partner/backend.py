"""The interfaces between order processing, test execution and the Partner's network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2, service_test_pb2
from interlude_server.domain.ordering.fulfilment import ItemOutcome
from interlude_server.domain.sft.catalog import Resolved
from interlude_server.domain.sft.plan import Step


class PartnerBackend(Protocol):
    """Carries out order items in the Partner network.

    `apply` is called once an item is in progress and returns when the network
    has applied it (ItemOutcome(ok=True), optionally with the operational state
    the network reports) or has failed to (ok=False with a reason the buyer
    sees). It must be idempotent: after a crash the same item may be applied
    again, because the outcome is recorded only after `apply` returns. The item
    carries the full desired service (for modify, the complete configuration).
    While it runs, `observability.tracing.current()` is the call's span in the order's
    W3C trace: a backend out of process sends `current().outgoing()` as its headers.
    """

    async def apply(
        self, buyer_id: str, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
    ) -> ItemOutcome: ...


@dataclass(frozen=True)
class StepOutcome:
    """What the test heads measured in one step, or why they could not (error_code + reason)."""

    measurements: list[service_test_pb2.TestMeasurement] = field(default_factory=list)
    error_code: str = ""
    reason: str = ""


class SftBackend(Protocol):
    """Carries out test steps in the Partner network.

    `run_step` runs step `step_index` of the run's plan and returns its
    measurements (sequence numbers are assigned when they are recorded). It must
    be repeatable: after a suspend, a cancel race or a crash the same step may be
    run again, and the result is recorded only if the job is still at that step.
    """

    async def run_step(
        self,
        job: service_test_pb2.TestJob,
        resolved: Resolved,
        run_number: int,
        step_index: int,
        step: Step,
    ) -> StepOutcome: ...
