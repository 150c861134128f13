"""Plain facts about PM resources: durations, subjects, metrics and the settings a job runs with."""

from __future__ import annotations

from dataclasses import dataclass

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2

Pm = performance_pb2

# MEF TimeDuration units in seconds; months and years have no fixed length, so
# the engine uses their usual lengths (30 and 365 days) to pace bins.
UNIT_SECONDS: dict[int, float] = {
    Pm.TIME_DURATION_UNITS_NS: 1e-9,
    Pm.TIME_DURATION_UNITS_US: 1e-6,
    Pm.TIME_DURATION_UNITS_MS: 1e-3,
    Pm.TIME_DURATION_UNITS_SEC: 1.0,
    Pm.TIME_DURATION_UNITS_MIN: 60.0,
    Pm.TIME_DURATION_UNITS_HOUR: 3600.0,
    Pm.TIME_DURATION_UNITS_DAY: 86400.0,
    Pm.TIME_DURATION_UNITS_WEEK: 7 * 86400.0,
    Pm.TIME_DURATION_UNITS_MONTH: 30 * 86400.0,
    Pm.TIME_DURATION_UNITS_YEAR: 365 * 86400.0,
}

CE_CONFIG = "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-configuration:v0.0.1:all"
IP_CONFIG = "urn:mef:lso:spec:legato:ip-performance-monitoring-configuration:v0.0.1:all"
CE_RESULT = "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-results:v0.0.1:all"
IP_RESULT = "urn:mef:lso:spec:legato:ip-performance-monitoring-results:v0.0.1:all"


@dataclass(frozen=True)
class Metric:
    """A metric the simulator measures: its MEF name, unit, typical value and SLS objective.

    `higher_is_better` flips the breach test (availability must stay above its objective)."""

    name: str
    unit: str
    typical: float
    spread: float
    objective: float
    higher_is_better: bool = False


CE_METRICS = (
    Metric("oneWayFrameDelay", "ms", 4.0, 1.0, 10.0),
    Metric("interFrameDelayVariation", "ms", 0.8, 0.3, 3.0),
    Metric("frameLossRatio", "%", 0.01, 0.01, 0.1),
    Metric("availability", "%", 99.995, 0.004, 99.9, higher_is_better=True),
)
IP_METRICS = (
    Metric("oneWayPacketDelay", "ms", 6.0, 1.5, 15.0),
    Metric("packetLossRatio", "%", 0.02, 0.015, 0.2),
    Metric("jitter", "ms", 1.0, 0.4, 5.0),
)


def duration_seconds(duration: performance_pb2.TimeDuration) -> float:
    """Seconds in a TimeDuration (0 for an unset or invalid one)."""
    return max(0, duration.value) * UNIT_SECONDS.get(duration.units, 0.0)


def subject_ids(ref: performance_pb2.MonitoredObjectRef) -> list[str]:
    """The service ids a subject involves: the service, or both ends of an ordered pair."""
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return [ref.service.id]
    if kind == "service_from_to":
        return [ref.service_from_to.service_from.id, ref.service_from_to.service_to.id]
    return []


def entity_id(ref: performance_pb2.MonitoredObjectRef) -> str:
    return ref.entity.id if ref.WhichOneof("ref") == "entity" else ""


def metrics_for(config_type: str) -> tuple[Metric, ...]:
    """What a job measures, by the `@type` of its service-specific configuration."""
    return IP_METRICS if ":ip-" in config_type else CE_METRICS


def result_type(config_type: str) -> str:
    return IP_RESULT if ":ip-" in config_type else CE_RESULT


def settings_of(
    job: performance_pb2.PerformanceJob, profile: performance_pb2.PerformanceProfile | None
) -> performance_pb2.PerformanceProfileValue:
    """The settings a job runs with: its inline value, or those of its profile."""
    if job.HasField("performance_profile_value"):
        return job.performance_profile_value
    value = Pm.PerformanceProfileValue()
    if profile is not None:
        value.job_type = profile.job_type
        value.output_format = profile.output_format
        value.result_format = profile.result_format
        value.granularity.CopyFrom(profile.granularity)
        value.reporting_period.CopyFrom(profile.reporting_period)
        if profile.HasField("job_priority"):
            value.job_priority = profile.job_priority
        value.service_specific_configuration.CopyFrom(profile.service_specific_configuration)
    return value
