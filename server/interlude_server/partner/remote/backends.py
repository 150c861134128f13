"""The Partner's network behind the southbound contract: a PartnerBackend, a SftBackend and
a MeasurementSource whose work is done by attached network workers (broker.py).

Order items are patient (they wait for a worker without limit, so an item stays in
progress until a worker attaches), test steps and measurements are bounded (see broker.py).
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from interlude_grpc.interlude.network.v1 import network_pb2
from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2, performance_pb2, service_test_pb2
from interlude_server.domain.ordering.fulfilment import ItemOutcome
from interlude_server.domain.sft.catalog import Resolved
from interlude_server.domain.sft.plan import Step
from interlude_server.observability import tracing
from interlude_server.partner.backend import StepOutcome
from interlude_server.partner.remote import wire
from interlude_server.partner.remote.broker import NetworkBroker, NoWorkerAnswered

Net = network_pb2
Pm = performance_pb2


class RemotePartner:
    """A PartnerBackend: each item is applied by a worker with the ordering capability."""

    def __init__(self, broker: NetworkBroker) -> None:
        self.broker = broker

    async def apply(
        self, buyer_id: str, order: ordering_pb2.ServiceOrder, item: ordering_pb2.ServiceOrderItem
    ) -> ItemOutcome:
        trace = tracing.current()
        headers = trace.outgoing() if trace is not None else {}

        def build(request_id: str) -> network_pb2.AttachResponse:
            return Net.AttachResponse(
                apply_item=Net.ApplyItem(
                    request_id=request_id,
                    buyer_id=buyer_id,
                    order=order,
                    item_id=item.id,
                    traceparent=headers.get(tracing.TRACEPARENT, ""),
                    tracestate=headers.get(tracing.TRACESTATE, ""),
                )
            )

        try:
            answer = await self.broker.call("apply_item", build, patient=True)
        except NoWorkerAnswered as exc:
            return ItemOutcome(ok=False, reason=str(exc))
        return wire.outcome_of(answer.apply_item_result)


class RemoteTester:
    """A SftBackend: each step is run by a worker with the testing capability; a step no
    worker answers in time ends the run with TEST_HEAD_UNAVAILABLE."""

    def __init__(self, broker: NetworkBroker) -> None:
        self.broker = broker

    async def run_step(
        self,
        job: service_test_pb2.TestJob,
        resolved: Resolved,
        run_number: int,
        step_index: int,
        step: Step,
    ) -> StepOutcome:
        def build(request_id: str) -> network_pb2.AttachResponse:
            return Net.AttachResponse(
                run_test_step=Net.RunTestStep(
                    request_id=request_id,
                    job=job,
                    run_number=run_number,
                    step_index=step_index,
                    step=wire.step_message(step),
                    configuration=wire.configuration_of(resolved),
                )
            )

        try:
            answer = await self.broker.call("run_test_step", build, patient=False)
        except NoWorkerAnswered as exc:
            return StepOutcome(error_code="TEST_HEAD_UNAVAILABLE", reason=f"{step.name}: {exc}")
        result = answer.test_step_result
        if result.error_code:
            return StepOutcome(error_code=result.error_code, reason=result.reason)
        return StepOutcome(list(result.measurements))


class RemoteMeter:
    """A MeasurementSource: each interval is measured by a worker with the measurements
    capability. Raises NoWorkerAnswered or MeasurementFailed; the PM engine retries the
    interval after a pause."""

    def __init__(self, broker: NetworkBroker) -> None:
        self.broker = broker

    async def measure(
        self,
        job: Pm.PerformanceJob,
        settings: Pm.PerformanceProfileValue,
        start: timestamp_pb2.Timestamp,
        end: timestamp_pb2.Timestamp,
    ) -> list[Pm.Measurement]:
        def build(request_id: str) -> network_pb2.AttachResponse:
            return Net.AttachResponse(
                take_measurements=Net.TakeMeasurements(
                    request_id=request_id,
                    job=job,
                    settings=settings,
                    interval_start_time=start,
                    interval_end_time=end,
                    metrics=wire.performance_metrics(settings),
                )
            )

        result = (await self.broker.call("take_measurements", build, patient=False)).measurement_result
        if result.error:
            raise MeasurementFailed(result.error)
        return list(result.measurements)


class MeasurementFailed(Exception):
    """The worker could not measure the interval (its reason)."""
