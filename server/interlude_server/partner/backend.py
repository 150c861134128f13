"""The interfaces between order processing, test execution and the Partner's network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf import timestamp_pb2

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


# -- what the network reports (F15): the Partner network talks back ------------------------
# The southbound contract maps its wire messages onto exactly these; the in-process simulator
# (partner/network/scenario.py) builds them too. Both go through partner/network/observer.py.


@dataclass(frozen=True)
class StateReport:
    """The network observed a service, or one component of it, go up or down.

    `operational_state` is common_pb2.OperationalState ENABLED or DISABLED; `reason` says why
    in words the buyer sees (e.g. "loss of signal"); `observed_time` is when the network saw
    it (a report observed no later than the last one recorded for the same object is stale
    and ignored). `component_id` "" means the service as a whole.
    """

    buyer_id: str
    service_id: str
    component_id: str
    operational_state: int
    reason: str
    observed_time: timestamp_pb2.Timestamp


@dataclass(frozen=True)
class AlarmReport:
    """The network raised, changed or cleared one of its alarms.

    `alarm_id` is the network's own id of the alarm: a raise, a change and a clear with the
    same id act on one alarm. `action` is "raised", "changed" or "cleared". The enums are
    alarm_pb2's: `alarm_type` (AlarmType), `perceived_severity` (PerceivedSeverity),
    `probable_cause` (ProbableCause); 0 leaves them as they are on a change (a raise
    defaults to communicationsAlarm, indeterminate). `service_id` (required to raise) and
    `component_id` ("" for the service as a whole) name the affected object; `details` is
    free text; `observed_time` as for StateReport.
    """

    buyer_id: str
    alarm_id: str
    action: str
    alarm_type: int
    perceived_severity: int
    probable_cause: int
    specific_problem: str
    service_id: str
    component_id: str
    details: str
    observed_time: timestamp_pb2.Timestamp
