"""`interlude pm profiles|jobs|tasks|reports|tracking|stream`: performance monitoring
(PerformanceService, MEF PM v5).

Profiles and jobs are created from proto JSON files (the form `-o json` prints), or, for
the common case of a job on one service with a stored profile, from `--profile` and
`--service` (with a recurring schedule: `--cron 'S M H DOM MON DOW'`). `pm stream` follows
StreamPerformanceData live, resuming across reconnects. The changes that create tasks
(`jobs modify|cancel`), `tasks`, `tracking`, ad-hoc reports and report files are in
cli/pm_changes.py. Each group also answers to its singular (`pm job ...`).
"""

from __future__ import annotations

import argparse

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message

from interlude_client.cli import exits
from interlude_client.cli.context import Context, count
from interlude_client.cli.orders import read_message
from interlude_client.cli.output import Column, enum_label, short_type
from interlude_client.cli.pm_changes import (
    add_schedule_options,
    register_job_changes,
    register_profile_update,
    register_report_changes,
    register_tasks_and_tracking,
    schedule_from,
)
from interlude_client.cli.services import add_list_options, enum_value
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2

Pm = performance_pb2


def _duration(value: Pm.TimeDuration) -> str:
    return f"{value.value} {enum_label(value, 'units')}" if value.value else ""


def _time(value: timestamp_pb2.Timestamp) -> str:
    return value.ToJsonString() if value.seconds or value.nanos else ""


def _monitored(ref: Pm.MonitoredObjectRef) -> str:
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return ref.service.id
    if kind == "service_from_to":
        return f"{ref.service_from_to.service_from.id}->{ref.service_from_to.service_to.id}"
    if kind == "entity":
        return ref.entity.id
    return ""


def _job_profile(job: Pm.PerformanceJob) -> str:
    return job.performance_profile_ref.id if job.HasField("performance_profile_ref") else "(inline)"


PROFILE_COLUMNS: list[Column] = [
    ("ID", lambda p: p.id),
    ("STATUS", lambda p: enum_label(p, "lifecycle_status")),
    ("JOB TYPE", lambda p: enum_label(p, "job_type")),
    ("GRANULARITY", lambda p: _duration(p.granularity)),
    ("PERIOD", lambda p: _duration(p.reporting_period)),
    ("ASSIGNED", lambda p: "yes" if p.is_assigned else "no"),
    ("CONFIGURATION", lambda p: short_type(p.service_specific_configuration.type)),
]
JOB_COLUMNS: list[Column] = [
    ("ID", lambda j: j.id),
    ("STATE", lambda j: enum_label(j, "state")),
    ("PROFILE", _job_profile),
    ("MONITORED", lambda j: _monitored(j.monitored_object)),
    ("BUYER JOB ID", lambda j: j.buyer_job_id),
]
REPORT_COLUMNS: list[Column] = [
    ("ID", lambda r: r.id),
    ("STATE", lambda r: enum_label(r, "state")),
    ("JOB", lambda r: r.performance_job.id),
    ("FROM", lambda r: _time(r.reporting_timeframe.reporting_start_date)),
    ("TO", lambda r: _time(r.reporting_timeframe.reporting_end_date)),
    ("OBJECTS", lambda r: str(len(r.report_content))),
]


# --- profiles ---------------------------------------------------------------------------


def _profiles_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = Pm.PerformanceProfileFilter(
        lifecycle_status=[
            enum_value(Pm.PerformanceProfileLifecycleStatus, "PERFORMANCE_PROFILE_LIFECYCLE_STATUS_", s)
            for s in args.status or ()
        ],
        job_type=[enum_value(Pm.PerformanceJobType, "PERFORMANCE_JOB_TYPE_", t) for t in args.job_type or ()],
    )
    return ctx.show_list(ctx.client.list_performance_profiles, filter_, PROFILE_COLUMNS)


def _profiles_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_performance_profile(args.id, timeout=ctx.timeout))
    return exits.OK


def _profiles_create(args: argparse.Namespace, ctx: Context) -> int:
    profile = Pm.PerformanceProfile()
    read_message(args.file, profile)
    created = ctx.client.create_performance_profile(
        profile, request_id=args.request_id, validate_only=args.validate_only, timeout=ctx.timeout
    )
    ctx.output.one(created)
    if args.validate_only:
        ctx.validated()
    return exits.OK


def _profiles_delete(args: argparse.Namespace, ctx: Context) -> int:
    ctx.client.delete_performance_profile(
        args.id, etag=args.etag, request_id=args.request_id, timeout=ctx.timeout
    )
    if not ctx.output.json:
        ctx.output.line(f"deleted {args.id}")
    return exits.OK


# --- jobs -------------------------------------------------------------------------------


def _jobs_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = Pm.PerformanceJobFilter(
        state=[enum_value(Pm.PerformanceJobState, "PERFORMANCE_JOB_STATE_", s) for s in args.state or ()],
        service_id=args.service or "",
        performance_profile_id=args.profile or "",
        buyer_job_id=args.buyer_job_id or "",
    )
    return ctx.show_list(ctx.client.list_performance_jobs, filter_, JOB_COLUMNS)


def _jobs_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_performance_job(args.id, timeout=ctx.timeout))
    return exits.OK


def _job_to_create(args: argparse.Namespace) -> Pm.PerformanceJob:
    job = Pm.PerformanceJob()
    if args.file is not None:
        if args.profile or args.service:
            raise exits.UsageError("give a job FILE or --profile/--service, not both")
        read_message(args.file, job)
        schedule_from(args, job.schedule_definition)
        return job
    if not (args.profile and args.service):
        raise exits.UsageError("give a job FILE, or both --profile ID and --service ID")
    job.performance_profile_ref.id = args.profile
    job.monitored_object.service.CopyFrom(common_pb2.ServiceRef(id=args.service))
    job.schedule_definition.SetInParent()
    schedule_from(args, job.schedule_definition)
    job.buyer_job_id = args.buyer_job_id or ""
    job.description = args.description or ""
    return job


def _jobs_create(args: argparse.Namespace, ctx: Context) -> int:
    created = ctx.client.create_performance_job(
        _job_to_create(args),
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    ctx.output.one(created)
    if args.validate_only:
        ctx.validated()
    return exits.OK


def _jobs_task(args: argparse.Namespace, ctx: Context) -> int:
    """suspend and resume (answer: the job; MEF v5 has no task for them)."""
    change = {
        "suspend": ctx.client.suspend_performance_job,
        "resume": ctx.client.resume_performance_job,
    }[args.action]
    answer: Message = change(
        args.id, reason=args.reason, etag=args.etag, request_id=args.request_id, timeout=ctx.timeout
    )
    ctx.output.one(answer)
    return exits.OK


# --- reports ----------------------------------------------------------------------------


def _reports_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = Pm.PerformanceReportFilter(
        performance_job_id=args.job or "",
        state=[
            enum_value(Pm.PerformanceReportState, "PERFORMANCE_REPORT_STATE_", s) for s in args.state or ()
        ],
        service_id=args.service or "",
    )
    return ctx.show_list(ctx.client.list_performance_reports, filter_, REPORT_COLUMNS)


def _reports_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_performance_report(args.id, timeout=ctx.timeout))
    return exits.OK


# --- stream -----------------------------------------------------------------------------


def _stream_request(args: argparse.Namespace) -> Pm.StreamPerformanceDataRequest:
    request = Pm.StreamPerformanceDataRequest(
        performance_job_ids=args.job or [],
        service_ids=args.service or [],
        metric_names=args.metric or [],
        mode=Pm.STREAM_MODE_ONCE if args.once else Pm.STREAM_MODE_STREAM,
        heartbeat_interval=duration_pb2.Duration(seconds=args.heartbeat),
    )
    if args.from_token:
        request.resume_token = args.from_token
    elif args.since:
        try:
            request.range.after.FromJsonString(args.since)
        except ValueError as problem:
            raise exits.UsageError(f"--since wants an RFC 3339 time: {problem}") from problem
    elif args.once:
        raise exits.UsageError("--once replays a range: give --since TIME or --from-token TOKEN")
    return request


def _measurement_line(m: Pm.Measurement) -> str:
    flags = ("  BREACHED" if m.breached else "") + ("  suspect" if m.suspect else "")
    cos = f"[{m.cos_name}]" if m.cos_name else ""
    return (
        f"{_time(m.interval_start_time)}  {m.performance_job_id}  {_monitored(m.monitored_object)}  "
        f"{m.metric_name}{cos}  {m.value:g} {m.unit}{flags}"
    ).rstrip()


def _stream(args: argparse.Namespace, ctx: Context) -> int:
    seen = 0
    stream = ctx.connected().stream_performance_data(_stream_request(args))
    try:
        for response in stream:
            kind = response.WhichOneof("kind")
            if kind == "update":
                for measurement in response.update.measurements:
                    seen += 1
                    ctx.output.item(measurement, _measurement_line(measurement))
                    if args.limit is not None and seen >= args.limit:
                        return exits.OK
            elif args.show_markers and kind is not None:
                ctx.output.marker(response, kind)
            if args.until_sync and kind == "sync":
                break
    finally:
        stream.close()
    return exits.OK


# --- the command line -------------------------------------------------------------------


def _change_options(parser: argparse.ArgumentParser, *, validate: bool) -> None:
    parser.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    if validate:
        parser.add_argument("--validate-only", action="store_true", help="check it, store nothing")


def _register_profiles(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("profiles", aliases=["profile"], help="performance profiles (job templates)")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list profiles (every page)")
    listing.add_argument("--status", action="append", help="lifecycle status, e.g. approved (repeatable)")
    listing.add_argument("--job-type", action="append", help="e.g. proactive, on_demand (repeatable)")
    add_list_options(listing)
    listing.set_defaults(run=_profiles_list)
    get = actions.add_parser("get", help="one profile")
    get.add_argument("id")
    get.set_defaults(run=_profiles_get)
    create = actions.add_parser("create", help="create a profile from a PerformanceProfile JSON file")
    create.add_argument("file", help="JSON file, or - for standard input")
    _change_options(create, validate=True)
    create.set_defaults(run=_profiles_create)
    delete = actions.add_parser("delete", help="delete a profile no job uses")
    delete.add_argument("id")
    delete.add_argument("--etag", default="", help="only if the profile still has this etag")
    _change_options(delete, validate=False)
    delete.set_defaults(run=_profiles_delete)
    register_profile_update(actions)


def _register_jobs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("jobs", aliases=["job"], help="performance jobs")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list jobs (every page)")
    listing.add_argument("--state", action="append", help="job state, e.g. in_progress (repeatable)")
    listing.add_argument("--service", metavar="ID", help="jobs monitoring this service")
    listing.add_argument("--profile", metavar="ID", help="jobs using this profile")
    listing.add_argument("--buyer-job-id", help="the buyer's own job id")
    add_list_options(listing)
    listing.set_defaults(run=_jobs_list)
    get = actions.add_parser("get", help="one job, with its state history")
    get.add_argument("id")
    get.set_defaults(run=_jobs_get)
    create = actions.add_parser(
        "create", help="create a job: from a PerformanceJob JSON file, or --profile ID --service ID"
    )
    create.add_argument("file", nargs="?", help="JSON file, or - for standard input")
    create.add_argument("--profile", metavar="ID", help="the stored profile to use")
    create.add_argument("--service", metavar="ID", help="the service to monitor")
    create.add_argument("--buyer-job-id", help="your own id for the job")
    create.add_argument("--description")
    add_schedule_options(create)
    _change_options(create, validate=True)
    create.set_defaults(run=_jobs_create)
    for action, text in (
        ("suspend", "suspend a running job (prints the job)"),
        ("resume", "resume a suspended job (prints the job)"),
    ):
        task = actions.add_parser(action, help=text)
        task.add_argument("id")
        task.add_argument("--reason", default="", help="why (kept in the job's history)")
        task.add_argument("--etag", default="", help="only if the job still has this etag")
        _change_options(task, validate=False)
        task.set_defaults(run=_jobs_task)
    register_job_changes(actions)


def _register_reports(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("reports", aliases=["report"], help="performance reports")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list reports (every page)")
    listing.add_argument("--job", metavar="ID", help="reports of this job")
    listing.add_argument("--service", metavar="ID", help="reports about this service")
    listing.add_argument("--state", action="append", help="report state, e.g. completed (repeatable)")
    add_list_options(listing)
    listing.set_defaults(run=_reports_list)
    get = actions.add_parser("get", help="one report, with its content")
    get.add_argument("id")
    get.set_defaults(run=_reports_get)
    register_report_changes(actions)


def _register_stream(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stream = sub.add_parser("stream", help="print measurements as they are taken (Ctrl-C to stop)")
    stream.add_argument("--job", action="append", metavar="ID", help="measurements of this job (repeatable)")
    stream.add_argument("--service", action="append", metavar="ID", help="of this service (repeatable)")
    stream.add_argument("--metric", action="append", metavar="NAME", help="only this metric (repeatable)")
    start = stream.add_mutually_exclusive_group()
    start.add_argument("--from-token", metavar="TOKEN", help="resume right after this resume token")
    start.add_argument("--since", metavar="TIME", help="replay intervals starting after this RFC 3339 time")
    stream.add_argument("--once", action="store_true", help="replay the range, then stop (no live part)")
    stream.add_argument("--heartbeat", type=count, default=30, metavar="SECONDS", help="heartbeat interval")
    stream.add_argument("--limit", type=count, help="stop after this many measurements")
    stream.add_argument(
        "--until-sync", action="store_true", help="stop at the sync marker (after the replay)"
    )
    stream.add_argument("--show-markers", action="store_true", help="also print sync markers and heartbeats")
    stream.set_defaults(run=_stream)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "pm", help="performance monitoring: profiles, jobs, tasks, reports, tracking, measurements"
    )
    sub = group.add_subparsers(dest="pm_group", metavar="GROUP", required=True)
    _register_profiles(sub)
    _register_jobs(sub)
    register_tasks_and_tracking(sub)
    _register_reports(sub)
    _register_stream(sub)
