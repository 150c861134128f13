"""The southbound messages to and from what the server's components use: order item
outcomes, test steps and their configuration. Both sides use these (server and worker)."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from interlude_grpc.interlude.network.v1 import network_pb2
from interlude_grpc.mef.lso.interlude.v1 import performance_pb2, service_test_pb2
from interlude_server.domain.ordering.fulfilment import ItemOutcome
from interlude_server.domain.ordering.waits import Wait
from interlude_server.domain.performance.model import metrics_for
from interlude_server.domain.sft.catalog import BY_TYPE, Resolved
from interlude_server.domain.sft.plan import Metric, Step
from interlude_server.partner.performance.measure import objectives

Net = network_pb2
# How a waiting outcome travels: PENDING and HELD name the MEF item state, INFORMATION_REQUIRED
# is a pending item that asks the buyer for the listed values (domain.ordering.waits.Wait).
_STATES = {Net.APPLY_OUTCOME_PENDING: "pending", Net.APPLY_OUTCOME_HELD: "held"}


def outcome_of(result: network_pb2.ApplyItemResult) -> ItemOutcome:
    """The ItemOutcome of a worker's answer."""
    state = result.operational_state if result.HasField("operational_state") else None
    if result.outcome == Net.APPLY_OUTCOME_COMPLETED:
        return ItemOutcome(ok=True, reason=result.reason, operational_state=state)
    resume = result.resume_after_seconds if result.HasField("resume_after_seconds") else None
    if result.outcome in _STATES:
        wait = Wait(_STATES[result.outcome], result.reason, resume)  # type: ignore[arg-type]
        return ItemOutcome(ok=False, reason=result.reason, operational_state=state, wait=wait)
    if result.outcome == Net.APPLY_OUTCOME_INFORMATION_REQUIRED:
        wanted = tuple(result.information_required)
        wait = Wait("pending", result.reason or "the network needs information", None, wanted)
        return ItemOutcome(ok=False, reason=wait.reason, operational_state=state, wait=wait)
    return ItemOutcome(
        ok=False, reason=result.reason or "the network failed the item", operational_state=state
    )


def result_of(request_id: str, outcome: ItemOutcome) -> network_pb2.ApplyItemResult:
    """A worker's answer for an ItemOutcome."""
    result = Net.ApplyItemResult(
        request_id=request_id,
        outcome=Net.APPLY_OUTCOME_COMPLETED if outcome.ok else Net.APPLY_OUTCOME_FAILED,
        reason=outcome.reason,
    )
    wait = outcome.wait
    if wait is not None:
        result.reason = wait.reason
        if wait.information:
            result.outcome = Net.APPLY_OUTCOME_INFORMATION_REQUIRED
            result.information_required.extend(wait.information)
        else:
            result.outcome = Net.APPLY_OUTCOME_HELD if wait.state == "held" else Net.APPLY_OUTCOME_PENDING
        if wait.resume_in is not None:
            result.resume_after_seconds = wait.resume_in
    if outcome.operational_state is not None:
        result.operational_state = outcome.operational_state  # type: ignore[assignment]
    return result


def step_message(step: Step) -> network_pb2.TestStep:
    """A plan's step as the contract describes it."""
    out = Net.TestStep(name=step.name, cos_name=step.cos_name)
    if step.details:
        out.details.update(step.details)
    for metric in step.metrics:
        m = out.metrics.add(
            name=metric.name,
            unit=metric.unit,
            nominal=metric.nominal,
            spread=metric.spread,
            direction=metric.direction,
            below_only=metric.below_only,
        )
        if metric.threshold is not None:
            m.threshold.value, m.threshold.comparison = metric.threshold  # type: ignore[assignment]
    return out


def step_of(message: network_pb2.TestStep) -> Step:
    """The plan's step a RunTestStep describes."""
    metrics = tuple(
        Metric(
            m.name,
            m.unit,
            m.nominal,
            m.spread,
            m.direction,
            (m.threshold.value, m.threshold.comparison) if m.HasField("threshold") else None,
            m.below_only,
        )
        for m in message.metrics
    )
    details = json_format.MessageToDict(message.details) if message.HasField("details") else {}
    return Step(message.name, metrics, details, message.cos_name)


def configuration_of(resolved: Resolved) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(resolved.values)
    return out


def resolved_of(job: service_test_pb2.TestJob, configuration: struct_pb2.Struct) -> Resolved:
    """The resolved configuration a RunTestStep carries (numbers come back as floats)."""
    return Resolved(BY_TYPE[job.test_type], json_format.MessageToDict(configuration))


def performance_metrics(
    settings: performance_pb2.PerformanceProfileValue,
) -> list[network_pb2.PerformanceMetric]:
    """What a TakeMeasurements asks for: the metrics of the settings' configuration type, each
    with the SLS objective in force (the buyer's `slsObjectives`, else the default)."""
    targets = objectives(settings)
    return [
        Net.PerformanceMetric(
            name=m.name,
            unit=m.unit,
            typical=m.typical,
            spread=m.spread,
            sls_objective=targets.get(m.name, m.objective),
            higher_is_better=m.higher_is_better,
        )
        for m in metrics_for(settings.service_specific_configuration.type)
    ]
