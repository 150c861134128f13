"""`interlude pm`, MEF PM v5's changes and records beyond create/get/list (cli/pm.py has those):
`profiles update`, `jobs modify|cancel` (the tasks they create, followed with --follow),
`tasks list|get`, `tracking list`, `reports create` (ad-hoc) and `reports file`, and the
schedule options (`--cron`, `--start`, `--end`, `--execution-duration`) of jobs.

A task and an ad-hoc report are followed from their events (`cli/follow.py`): each new
state prints as a line (one JSON object per line with `-o json`); the exit code is 0 when
it completed, 1 when it was rejected or failed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TypeAlias

from google.protobuf import timestamp_pb2

from interlude_client.cli import exits
from interlude_client.cli.context import Context, count
from interlude_client.cli.follow import Followed, follow_resource
from interlude_client.cli.orders import read_message
from interlude_client.cli.output import Column, enum_label
from interlude_client.cli.services import add_list_options, enum_value
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, events_pb2, performance_pb2

Pm = performance_pb2
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
CONFIGURATIONS = {
    family: f"urn:mef:lso:spec:legato:{family}-performance-monitoring-configuration:v0.0.1:all"
    for family in ("carrier-ethernet", "ip")
}
FILE_TYPES = {"csv": "text/csv", "json": "application/json"}
_UNITS = {
    "NS": ("ns",),
    "US": ("us",),
    "MS": ("ms",),
    "SEC": ("s", "sec", "second", "seconds"),
    "MIN": ("m", "min", "minute", "minutes"),
    "HOUR": ("h", "hour", "hours"),
    "DAY": ("d", "day", "days"),
    "WEEK": ("w", "week", "weeks"),
    "MONTH": ("month", "months"),
    "YEAR": ("y", "year", "years"),
}
UNITS = {alias: unit for unit, aliases in _UNITS.items() for alias in aliases}
CRON_FIELDS = ("second", "minute", "hour", "day_of_month", "month", "day_of_week")


# --- argument types ---------------------------------------------------------------------


def time_duration(text: str) -> Pm.TimeDuration:
    """An argparse type: a MEF TimeDuration as `15min`, `15 min`, `1 hour`, `2d` (>= 0)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*([A-Za-z]+)\s*", text)
    if match is None or match.group(2).lower() not in UNITS:
        units = ", ".join(sorted({a for a in UNITS if len(a) > 2}))
        raise argparse.ArgumentTypeError(f"want a number and a unit ({units}), got {text!r}")
    value = int(match.group(1))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text.strip()}")
    unit = Pm.TimeDurationUnits.Value("TIME_DURATION_UNITS_" + UNITS[match.group(2).lower()])
    return Pm.TimeDuration(value=value, units=unit)


def rfc3339(text: str) -> timestamp_pb2.Timestamp:
    """An argparse type: an RFC 3339 time (`2026-01-01T00:00:00Z`)."""
    stamp = timestamp_pb2.Timestamp()
    try:
        stamp.FromJsonString(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"want an RFC 3339 time, e.g. 2026-01-01T00:00:00Z, got {text!r}"
        ) from None
    return stamp


def cron(text: str) -> Pm.RecurringSchedule:
    """An argparse type: MEF's six-field cron, `second minute hour day-of-month month day-of-week`."""
    fields = text.split()
    if len(fields) != len(CRON_FIELDS):
        raise argparse.ArgumentTypeError(
            f"want six fields (second minute hour day-of-month month day-of-week), got {text!r}"
        )
    return Pm.RecurringSchedule(**dict(zip(CRON_FIELDS, fields, strict=True)))


def add_schedule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("schedule (MEF scheduleDefinition)")
    group.add_argument(
        "--cron", type=cron, metavar="'S M H DOM MON DOW'", help="recurring: when each execution starts"
    )
    group.add_argument("--start", type=rfc3339, metavar="TIME", help="schedule start (default: at once)")
    group.add_argument("--end", type=rfc3339, metavar="TIME", help="schedule end (default: never)")
    group.add_argument(
        "--execution-duration", type=time_duration, metavar="DURATION", help="length of each execution"
    )


def schedule_from(args: argparse.Namespace, schedule: Pm.ScheduleDefinition) -> bool:
    """Set the schedule options given into `schedule`; whether any was given."""
    given = False
    for option, field_name in (
        ("cron", "recurring_schedule"),
        ("start", "schedule_definition_start_time"),
        ("end", "schedule_definition_end_time"),
        ("execution_duration", "execution_duration"),
    ):
        if getattr(args, option) is not None:
            getattr(schedule, field_name).CopyFrom(getattr(args, option))
            given = True
    return given


# --- tasks ------------------------------------------------------------------------------

TASK_COLUMNS: list[Column] = [
    ("ID", lambda t: t.id),
    ("TYPE", lambda t: enum_label(t, "task_type")),
    ("STATE", lambda t: enum_label(t, "state")),
    ("JOB", lambda t: t.performance_job.id),
    ("REASON", lambda t: t.denied_reason or t.reason),
]
TRACKING_COLUMNS: list[Column] = [
    ("CREATED", lambda r: r.creation_date_time.ToJsonString() if r.creation_date_time.seconds else ""),
    ("TYPE", lambda r: enum_label(r, "related_object_type")),
    ("OBJECT", lambda r: r.related_object_id),
    ("SOURCE", lambda r: enum_label(r, "source")),
    ("DESCRIPTION", lambda r: r.description),
]
_FINAL_TASK = {Pm.PERFORMANCE_JOB_PROCESS_STATE_COMPLETED, Pm.PERFORMANCE_JOB_PROCESS_STATE_REJECTED}
_FINAL_REPORT = {
    Pm.PERFORMANCE_REPORT_STATE_COMPLETED,
    Pm.PERFORMANCE_REPORT_STATE_FAILED,
    Pm.PERFORMANCE_REPORT_STATE_REJECTED,
}


def _task_line(task: Pm.PerformanceJobTask) -> str:
    why = f"  {task.denied_reason}" if task.denied_reason else ""
    text = f"task {task.id}  {enum_label(task, 'task_type')}  {enum_label(task, 'state')}"
    return f"{text}  job {task.performance_job.id}{why}"


def follow_task(ctx: Context, task: Pm.PerformanceJobTask) -> int:
    """Print the task's states until it is completed (exit 0) or rejected (exit 1)."""
    final = follow_resource(
        ctx,
        Followed(
            task.id,
            events_pb2.RESOURCE_TYPE_PERFORMANCE_JOB_TASK,
            "performance_job_task",
            lambda: ctx.client.get_performance_job_task(task.id, timeout=ctx.timeout),
            lambda t: t.state in _FINAL_TASK,
            _task_line,
        ),
    )
    completed = final.state == Pm.PERFORMANCE_JOB_PROCESS_STATE_COMPLETED
    return exits.OK if completed else exits.NOT_COMPLETED


def _task_answer(args: argparse.Namespace, ctx: Context, task: Pm.PerformanceJobTask) -> int:
    if args.follow and not getattr(args, "validate_only", False):
        return follow_task(ctx, task)
    ctx.output.one(task)
    if getattr(args, "validate_only", False):
        ctx.validated()
    return exits.OK


def _jobs_cancel(args: argparse.Namespace, ctx: Context) -> int:
    task = ctx.client.cancel_performance_job(
        args.id, reason=args.reason, etag=args.etag, request_id=args.request_id, timeout=ctx.timeout
    )
    return _task_answer(args, ctx, task)


def _modification(args: argparse.Namespace) -> Pm.PerformanceJobModification:
    change = Pm.PerformanceJobModification()
    if args.file is not None:
        read_message(args.file, change)
    for option in ("description", "buyer_job_id"):
        if getattr(args, option) is not None:
            setattr(change, option, getattr(args, option))
    settings = change.performance_profile_value
    for option in ("granularity", "reporting_period"):
        if getattr(args, option) is not None:
            getattr(settings, option).CopyFrom(getattr(args, option))
    if args.priority is not None:
        settings.job_priority = args.priority
    schedule_from(args, change.schedule_definition)
    if not change.ListFields():
        raise exits.UsageError("nothing to modify: give a PerformanceJobModification FILE or options")
    return change


def _jobs_modify(args: argparse.Namespace, ctx: Context) -> int:
    task = ctx.client.modify_performance_job(
        args.id,
        _modification(args),
        reason=args.reason,
        etag=args.etag,
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    return _task_answer(args, ctx, task)


def _tasks_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = Pm.PerformanceJobTaskFilter(
        performance_job_id=args.job or "",
        task_type=[
            enum_value(Pm.PerformanceJobTaskType, "PERFORMANCE_JOB_TASK_TYPE_", t) for t in args.type or ()
        ],
        state=[
            enum_value(Pm.PerformanceJobProcessState, "PERFORMANCE_JOB_PROCESS_STATE_", s)
            for s in args.state or ()
        ],
    )
    return ctx.show_list(ctx.client.list_performance_job_tasks, filter_, TASK_COLUMNS)


def _tasks_get(args: argparse.Namespace, ctx: Context) -> int:
    task = ctx.client.get_performance_job_task(args.id, timeout=ctx.timeout)
    return _task_answer(args, ctx, task)


def _tracking_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = Pm.PerformanceTrackingRecordFilter(
        related_object_id=args.object or "",
        related_object_type=[
            enum_value(Pm.PerformanceTrackingObjectType, "PERFORMANCE_TRACKING_OBJECT_TYPE_PERFORMANCE_", t)
            for t in args.type or ()
        ],
    )
    return ctx.show_list(ctx.client.list_performance_tracking_records, filter_, TRACKING_COLUMNS)


# --- profiles update --------------------------------------------------------------------


def _profiles_update(args: argparse.Namespace, ctx: Context) -> int:
    profile = Pm.PerformanceProfile()
    if args.file is not None:
        read_message(args.file, profile)
    paths = [d.name for d, _ in profile.ListFields() if d.name not in ("id", "etag")]
    if args.status is not None:
        prefix = "PERFORMANCE_PROFILE_LIFECYCLE_STATUS_"
        profile.lifecycle_status = enum_value(Pm.PerformanceProfileLifecycleStatus, prefix, args.status)
        paths.append("lifecycle_status")
    if args.description is not None:
        profile.description = args.description
        paths.append("description")
    for option in ("granularity", "reporting_period"):
        if getattr(args, option) is not None:
            getattr(profile, option).CopyFrom(getattr(args, option))
            paths.append(option)
    if not paths:
        raise exits.UsageError("nothing to update: give a PerformanceProfile FILE or options")
    profile.id = args.id
    updated = ctx.client.update_performance_profile(
        profile,
        sorted(set(paths)),
        etag=args.etag,
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    ctx.output.one(updated)
    if args.validate_only:
        ctx.validated()
    return exits.OK


# --- reports: ad-hoc, and files ---------------------------------------------------------


def _report_line(report: Pm.PerformanceReport) -> str:
    errors = "; ".join(e.value for e in report.termination_error)
    return f"report {report.id}  {enum_label(report, 'state')}  {errors}".rstrip()


def _report_to_create(args: argparse.Namespace) -> Pm.PerformanceReport:
    report = Pm.PerformanceReport()
    if args.file is not None:
        return read_message(args.file, report)
    if not (args.service and args.start and args.end):
        raise exits.UsageError("give a report FILE, or --service ID --start TIME --end TIME")
    for service in args.service:
        report.monitored_object.add().service.CopyFrom(common_pb2.ServiceRef(id=service))
    report.reporting_timeframe.reporting_start_date.CopyFrom(args.start)
    report.reporting_timeframe.reporting_end_date.CopyFrom(args.end)
    report.granularity.CopyFrom(
        args.granularity or Pm.TimeDuration(value=15, units=Pm.TIME_DURATION_UNITS_MIN)
    )
    report.output_format = enum_value(Pm.PerformanceOutputFormat, "PERFORMANCE_OUTPUT_FORMAT_", args.format)
    report.result_format = enum_value(Pm.PerformanceResultFormat, "PERFORMANCE_RESULT_FORMAT_", args.delivery)
    report.service_specific_configuration.type = CONFIGURATIONS.get(args.configuration, args.configuration)
    report.description = args.description or ""
    return report


def _reports_create(args: argparse.Namespace, ctx: Context) -> int:
    report = ctx.client.create_performance_report(
        _report_to_create(args),
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    if args.follow and not args.validate_only:
        final = follow_resource(
            ctx,
            Followed(
                report.id,
                events_pb2.RESOURCE_TYPE_PERFORMANCE_REPORT,
                "performance_report",
                lambda: ctx.client.get_performance_report(report.id, timeout=ctx.timeout),
                lambda r: r.state in _FINAL_REPORT,
                _report_line,
            ),
        )
        return exits.OK if final.state == Pm.PERFORMANCE_REPORT_STATE_COMPLETED else exits.NOT_COMPLETED
    ctx.output.one(report)
    if args.validate_only:
        ctx.validated()
    return exits.OK


def _reports_file(args: argparse.Namespace, ctx: Context) -> int:
    answer = ctx.client.get_performance_report_file(args.id, timeout=ctx.timeout)
    if args.format is not None and not answer.content_type.startswith(FILE_TYPES[args.format]):
        raise exits.UsageError(
            f"report {args.id} is a {answer.content_type} file, not {args.format} "
            "(a report's output format is chosen when it is made)"
        )
    if args.out_file is None:
        ctx.output.out.write(answer.data.decode("utf-8"))
        ctx.output.out.flush()
        return exits.OK
    try:
        Path(args.out_file).write_bytes(answer.data)
    except OSError as problem:
        raise exits.UsageError(str(problem)) from problem
    saved = {"path": args.out_file, "contentType": answer.content_type, "fileName": answer.file_name}
    if ctx.output.json:
        ctx.output.line(json.dumps({**saved, "bytes": len(answer.data)}, indent=2))
    else:
        ctx.output.line(f"wrote {args.out_file}: {len(answer.data)} bytes, {answer.content_type}")
    return exits.OK


# --- the command line -------------------------------------------------------------------


def _change_options(parser: argparse.ArgumentParser, *, validate: bool, follow: bool = False) -> None:
    parser.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    if validate:
        parser.add_argument("--validate-only", action="store_true", help="check it, store nothing")
    if follow:
        parser.add_argument("--follow", "-f", action="store_true", help="print each new state until it ends")


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--granularity", type=time_duration, metavar="DURATION", help="e.g. 15min")
    parser.add_argument("--reporting-period", type=time_duration, metavar="DURATION", help="e.g. 1hour")


def register_profile_update(actions: SubParsers) -> None:
    update = actions.add_parser("update", help="change some fields of a profile (UpdatePerformanceProfile)")
    update.add_argument("id")
    update.add_argument("file", nargs="?", help="a PerformanceProfile JSON file: its fields are changed")
    update.add_argument("--status", help="lifecycle status, e.g. deprecated")
    update.add_argument("--description")
    _settings_options(update)
    update.add_argument("--etag", default="", help="only if the profile still has this etag")
    _change_options(update, validate=True)
    update.set_defaults(run=_profiles_update)


def register_job_changes(actions: SubParsers) -> None:
    modify = actions.add_parser("modify", help="change a scheduled or suspended job (prints the modify task)")
    modify.add_argument("id")
    modify.add_argument("file", nargs="?", help="a PerformanceJobModification JSON file")
    modify.add_argument("--description")
    modify.add_argument("--buyer-job-id")
    _settings_options(modify)
    modify.add_argument("--priority", type=count, help="job priority (1 highest .. 10)")
    add_schedule_options(modify)
    modify.add_argument("--reason", default="", help="why (kept in the task)")
    modify.add_argument("--etag", default="", help="only if the job still has this etag")
    _change_options(modify, validate=True, follow=True)
    modify.set_defaults(run=_jobs_modify)
    cancel = actions.add_parser("cancel", help="cancel a job (prints the cancel task)")
    cancel.add_argument("id")
    cancel.add_argument("--reason", default="", help="why (kept in the task)")
    cancel.add_argument("--etag", default="", help="only if the job still has this etag")
    _change_options(cancel, validate=False, follow=True)
    cancel.set_defaults(run=_jobs_cancel)


def register_tasks_and_tracking(sub: SubParsers) -> None:
    group = sub.add_parser("tasks", aliases=["task"], help="the modify and cancel tasks of jobs")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list tasks (every page)")
    listing.add_argument("--job", metavar="ID", help="tasks of this job")
    listing.add_argument("--type", action="append", help="modify or cancel (repeatable)")
    listing.add_argument("--state", action="append", help="task state, e.g. completed (repeatable)")
    add_list_options(listing)
    listing.set_defaults(run=_tasks_list)
    get = actions.add_parser("get", help="one task")
    get.add_argument("id")
    get.add_argument("--follow", "-f", action="store_true", help="print each new state until it ends")
    get.set_defaults(run=_tasks_get)
    tracking = sub.add_parser("tracking", help="the audit trail of profiles, jobs and reports")
    tracked = tracking.add_subparsers(dest="action", metavar="ACTION", required=True)
    records = tracked.add_parser("list", help="list tracking records, oldest first (every page)")
    records.add_argument("--object", metavar="ID", help="records about this profile, job or report")
    records.add_argument("--type", action="append", help="profile, job or report (repeatable)")
    add_list_options(records)
    records.set_defaults(run=_tracking_list)


def register_report_changes(actions: SubParsers) -> None:
    create = actions.add_parser(
        "create", help="an ad-hoc report over a past time frame: a PerformanceReport JSON file, or options"
    )
    create.add_argument("file", nargs="?", help="JSON file, or - for standard input")
    create.add_argument(
        "--service", action="append", metavar="ID", help="a service to report on (repeatable)"
    )
    create.add_argument("--start", type=rfc3339, metavar="TIME", help="start of the time frame")
    create.add_argument("--end", type=rfc3339, metavar="TIME", help="end of the time frame")
    create.add_argument("--granularity", type=time_duration, metavar="DURATION", help="default 15min")
    create.add_argument(
        "--configuration", default="carrier-ethernet", help="carrier-ethernet (default), ip, or a URN"
    )
    create.add_argument("--format", default="json", help="output format: json (default) or csv")
    create.add_argument(
        "--delivery", default="payload", help="payload (default, inline) or attachment (a file)"
    )
    create.add_argument("--description")
    _change_options(create, validate=True, follow=True)
    create.set_defaults(run=_reports_create)
    file = actions.add_parser("file", help="a completed report's file (JSON or CSV), to stdout or -o FILE")
    file.add_argument("id")
    file.add_argument("--format", choices=sorted(FILE_TYPES), help="insist on this format (exit 2 if not)")
    file.add_argument("-o", "--out", dest="out_file", metavar="FILE", help="write the file here")
    file.set_defaults(run=_reports_file)
