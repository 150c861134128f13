"""The simulated measurements of one interval: deterministic per seed, bounded, plausible.

Each value is a function of (seed, subject, metric, interval start) only, so a
repeated step, a restart or a second server with the same `--sim-seed` gives
the same numbers for the same bin. Most values sit near a typical level; a few
breach the SLS objective, and a few intervals are flagged suspect.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Protocol

from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.keys import timestamp_key
from interlude_server.domain.performance.model import Metric, entity_id, metrics_for, subject_ids
from interlude_server.store.interface.performance import MeasurementBatch

Pm = performance_pb2
BREACH_RATE = 0.04
SUSPECT_RATE = 0.03
SUSPECT_REASONS = ("clock unsynchronised during the interval", "interval incomplete: measurement restarted")


def uniform(seed: int, *parts: object) -> float:
    """A number in [0, 1) determined by the seed and the parts."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int(struct.unpack(">Q", digest)[0]) / 2**64


def objectives(config: Pm.PerformanceProfileValue) -> dict[str, float]:
    """SLS objectives the buyer set in its configuration (`slsObjectives: {metric: value}`)."""
    attributes = config.service_specific_configuration.attributes
    if "slsObjectives" not in attributes:
        return {}
    given = attributes["slsObjectives"]
    if not isinstance(given, struct_pb2.Struct):
        return {}
    return {k: float(v) for k, v in given.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _value(seed: int, subject: str, metric: Metric, target: float, start: int) -> float:
    noise = sum(uniform(seed, subject, metric.name, start, i) for i in range(3)) / 1.5 - 1.0  # ~[-1, 1]
    value = metric.typical + metric.spread * noise
    if uniform(seed, subject, metric.name, start, "breach") < BREACH_RATE:
        excess = 1.2 + uniform(seed, subject, metric.name, start, "size")
        value = target - 0.05 * excess if metric.higher_is_better else target * excess
    upper = 100.0 if metric.unit == "%" else float("inf")
    return round(min(max(value, 0.0), upper), 6)


class MeasurementSource(Protocol):
    """Measures one interval [start, end) of a job: one measurement per metric. It may raise
    (e.g. the network could not measure): the job's worker then retries the interval."""

    async def measure(
        self,
        job: Pm.PerformanceJob,
        settings: Pm.PerformanceProfileValue,
        start: timestamp_pb2.Timestamp,
        end: timestamp_pb2.Timestamp,
    ) -> list[Pm.Measurement]: ...


def batch_of(
    job: Pm.PerformanceJob, start: timestamp_pb2.Timestamp, measurements: Sequence[Pm.Measurement]
) -> MeasurementBatch:
    """The measurements of the job's interval from `start`, as they are recorded together."""
    return MeasurementBatch(
        job_id=job.id,
        service_ids=tuple(subject_ids(job.monitored_object)),
        interval_start_key=timestamp_key(start),
        measurements=tuple(measurements),
    )


def measure(
    seed: int,
    job: Pm.PerformanceJob,
    settings: Pm.PerformanceProfileValue,
    start: timestamp_pb2.Timestamp,
    end: timestamp_pb2.Timestamp,
) -> MeasurementBatch:
    """Every metric of the job's configuration for the interval [start, end)."""
    services = subject_ids(job.monitored_object)
    subject = "/".join(services) or entity_id(job.monitored_object)
    targets = objectives(settings)
    suspect = uniform(seed, subject, start.seconds, "suspect") < SUSPECT_RATE
    reason = SUSPECT_REASONS[int(uniform(seed, subject, start.seconds, "why") * len(SUSPECT_REASONS))]
    measurements = []
    for metric in metrics_for(settings.service_specific_configuration.type):
        target = targets.get(metric.name, metric.objective)
        value = _value(seed, subject, metric, target, start.seconds)
        breached = value < target if metric.higher_is_better else value > target
        measurements.append(
            Pm.Measurement(
                performance_job_id=job.id,
                monitored_object=job.monitored_object,
                metric_name=metric.name,
                value=value,
                unit=metric.unit,
                interval_start_time=start,
                interval_end_time=end,
                suspect=suspect,
                suspect_reason=reason if suspect else "",
                sls_objective=target,
                breached=breached,
            )
        )
    return batch_of(job, start, measurements)


class SimulatedMeter:
    """The in-process MeasurementSource (partner/performance/engine.py): `measure` per seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    async def measure(
        self,
        job: Pm.PerformanceJob,
        settings: Pm.PerformanceProfileValue,
        start: timestamp_pb2.Timestamp,
        end: timestamp_pb2.Timestamp,
    ) -> list[Pm.Measurement]:
        return list(measure(self.seed, job, settings, start, end).measurements)
