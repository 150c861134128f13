"""Basic validation of PM requests: every violation at once, named by request field path.

What needs the store (does the profile or service exist?) is checked by the
servicer; what needs the Partner (can it measure this?) happens after the job
is acknowledged, as MEF describes.
"""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.errors import Errors
from interlude_server.domain.performance import schedule as cron
from interlude_server.domain.performance.model import UNIT_SECONDS, duration_seconds

Pm = performance_pb2
MISSING = "missingProperty"
MAX_PRIORITY = 10
MAX_ADHOC_INTERVALS = 2000  # per monitored object of an ad-hoc report
REFUSED_OUTPUT = (Pm.PERFORMANCE_OUTPUT_FORMAT_XML, Pm.PERFORMANCE_OUTPUT_FORMAT_AVRO)


def check_formats(errors: Errors, where: str, output: int, result: int) -> None:
    """The output formats this Partner produces: JSON (inline or as a file) and CSV (as a
    file, `result_format` ATTACHMENT); XML and Avro are refused, never accepted and ignored."""
    if output in REFUSED_OUTPUT:
        errors.add(f"{where}.output_format", "xml and avro are not produced by this Partner; use json or csv")
    elif output == Pm.PERFORMANCE_OUTPUT_FORMAT_CSV and result == Pm.PERFORMANCE_RESULT_FORMAT_PAYLOAD:
        errors.add(
            f"{where}.output_format",
            "csv is delivered as a file: use result_format attachment, or output_format json",
        )


def _duration(errors: Errors, where: str, owner: Any, name: str, required: bool) -> None:
    if not owner.HasField(name):
        if required:
            errors.add(where, "required", MISSING)
        return
    value: Pm.TimeDuration = getattr(owner, name)
    if value.value <= 0:
        errors.add(f"{where}.value", "must be a positive number of units")
    if value.units not in UNIT_SECONDS:
        errors.add(f"{where}.units", "required", MISSING)


def _settings(
    errors: Errors, where: str, value: Pm.PerformanceProfile | Pm.PerformanceProfileValue, partial: bool
) -> None:
    """The settings shared by a profile and an inline profile value; `partial` for modifications."""
    need = not partial
    if need and not value.job_type:
        errors.add(f"{where}.job_type", "required", MISSING)
    if need and not value.output_format:
        errors.add(f"{where}.output_format", "required", MISSING)
    if need and not value.result_format:
        errors.add(f"{where}.result_format", "required", MISSING)
    _duration(errors, f"{where}.granularity", value, "granularity", need)
    _duration(errors, f"{where}.reporting_period", value, "reporting_period", need)
    if value.HasField("granularity") and value.HasField("reporting_period"):
        granularity, period = duration_seconds(value.granularity), duration_seconds(value.reporting_period)
        if granularity and period and period < granularity:
            errors.add(f"{where}.reporting_period", "must not be shorter than the granularity")
    if value.HasField("job_priority") and not 1 <= value.job_priority <= MAX_PRIORITY:
        errors.add(f"{where}.job_priority", f"must be between 1 and {MAX_PRIORITY}")
    check_formats(errors, where, value.output_format, value.result_format)
    config = value.service_specific_configuration
    if (need or value.HasField("service_specific_configuration")) and not config.type:
        errors.add(f"{where}.service_specific_configuration.type", "the @type is required", MISSING)


def check_profile(profile: Pm.PerformanceProfile, where: str = "performance_profile") -> None:
    errors = Errors()
    if not profile.lifecycle_status:
        errors.add(f"{where}.lifecycle_status", "required", MISSING)
    _settings(errors, where, profile, partial=False)
    errors.raise_if_any("the profile is not valid")


def _monitored_object(errors: Errors, where: str, ref: Pm.MonitoredObjectRef) -> None:
    kind = ref.WhichOneof("ref")
    if kind is None:
        errors.add(where, "name a service, an ordered pair of end points or an entity", MISSING)
    elif kind == "service" and not ref.service.id:
        errors.add(f"{where}.service.id", "required", MISSING)
    elif kind == "service_from_to":
        pair = ref.service_from_to
        if not pair.service_from.id:
            errors.add(f"{where}.service_from_to.service_from.id", "required", MISSING)
        if not pair.service_to.id:
            errors.add(f"{where}.service_from_to.service_to.id", "required", MISSING)
        if pair.service_from.id and pair.service_from.id == pair.service_to.id:
            errors.add(f"{where}.service_from_to.service_to.id", "must differ from service_from.id")
    elif kind == "entity" and (not ref.entity.id or not ref.entity.referred_type):
        errors.add(f"{where}.entity", "id and referred_type are required", MISSING)


def _schedule(errors: Errors, where: str, schedule: Pm.ScheduleDefinition) -> None:
    if (
        schedule.HasField("schedule_definition_start_time")
        and schedule.HasField("schedule_definition_end_time")
        and schedule.schedule_definition_end_time.ToNanoseconds()
        <= schedule.schedule_definition_start_time.ToNanoseconds()
    ):
        errors.add(f"{where}.schedule_definition_end_time", "must be later than the start time")
    if schedule.HasField("execution_duration"):
        _duration(errors, f"{where}.execution_duration", schedule, "execution_duration", True)
    if schedule.HasField("recurring_schedule"):
        cron.check(errors, f"{where}.recurring_schedule", schedule.recurring_schedule)


def check_job(job: Pm.PerformanceJob, where: str = "performance_job") -> None:
    errors = Errors()
    kind = job.WhichOneof("performance_profile")
    if kind is None:
        errors.add(f"{where}.performance_profile_ref", "give a profile reference or a value", MISSING)
    elif kind == "performance_profile_ref" and not job.performance_profile_ref.id:
        errors.add(f"{where}.performance_profile_ref.id", "required", MISSING)
    elif kind == "performance_profile_value":
        _settings(errors, f"{where}.performance_profile_value", job.performance_profile_value, False)
    _monitored_object(errors, f"{where}.monitored_object", job.monitored_object)
    _schedule(errors, f"{where}.schedule_definition", job.schedule_definition)
    errors.raise_if_any("the job is not valid")


def check_modification(modification: Pm.PerformanceJobModification, where: str = "modification") -> None:
    errors = Errors()
    if not modification.ListFields():
        errors.add(where, "name at least one change", MISSING)
    value = modification.performance_profile_value
    if value.job_type:
        errors.add(f"{where}.performance_profile_value.job_type", "the job type cannot change")
    _settings(errors, f"{where}.performance_profile_value", value, partial=True)
    _schedule(errors, f"{where}.schedule_definition", modification.schedule_definition)
    errors.raise_if_any("the modification is not valid")


def check_report(report: Pm.PerformanceReport, now_ns: int, where: str = "performance_report") -> None:
    """An ad-hoc report request: its subjects (one kind), time frame (past, start before end),
    granularity, formats and configuration `@type`."""
    errors = Errors()
    if not report.monitored_object:
        errors.add(f"{where}.monitored_object", "name at least one monitored object", MISSING)
    for i, ref in enumerate(report.monitored_object):
        _monitored_object(errors, f"{where}.monitored_object[{i}]", ref)
    if len({ref.WhichOneof("ref") for ref in report.monitored_object}) > 1:
        errors.add(f"{where}.monitored_object", "all monitored objects must be of one kind")
    frame, at = report.reporting_timeframe, f"{where}.reporting_timeframe"
    start, end = frame.reporting_start_date.ToNanoseconds(), frame.reporting_end_date.ToNanoseconds()
    if not frame.HasField("reporting_start_date") or not frame.HasField("reporting_end_date"):
        errors.add(at, "reporting_start_date and reporting_end_date are required", MISSING)
    elif end <= start:
        errors.add(f"{at}.reporting_end_date", "must be later than reporting_start_date")
    elif end > now_ns:
        errors.add(f"{at}.reporting_end_date", "must not be in the future: reports cover measured time")
    _duration(errors, f"{where}.granularity", report, "granularity", True)
    bins = (end - start) / max(duration_seconds(report.granularity) * 1e9, 1)
    if report.HasField("granularity") and bins > MAX_ADHOC_INTERVALS:
        errors.add(f"{at}", f"covers {int(bins)} intervals of the granularity; at most {MAX_ADHOC_INTERVALS}")
    for name in ("output_format", "result_format"):
        if not getattr(report, name):
            errors.add(f"{where}.{name}", "required", MISSING)
    check_formats(errors, where, report.output_format, report.result_format)
    if not report.service_specific_configuration.type:
        errors.add(f"{where}.service_specific_configuration.type", "the @type is required", MISSING)
    errors.raise_if_any("the report request is not valid")
