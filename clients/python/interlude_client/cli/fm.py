"""`interlude fm jobs|reports`: Fault Management (MEF FM v3) over the test service.

An FM job is a test job whose test type is an FM procedure (loopback, link trace, ping,
traceroute) with MEF's FM settings (`FaultManagementSettings`: job type, priority,
granularity, reporting period, execution duration); its cancel request is a test job task
and each run's test result is its report. So `fm jobs create PROCEDURE FROM TO --follow`
follows the job as `tests run --follow` does (replay, then live, resuming across
reconnects), with the same exit codes: 0 every run passed, 8 a run failed, 9 a run was
inconclusive or not carried out, 1 the job was cancelled or rejected. Lists show FM jobs
and reports only (the FM procedures' test types).
"""

from __future__ import annotations

import argparse

from google.protobuf import duration_pb2

from interlude_client import builders
from interlude_client.cli import exits
from interlude_client.cli.context import Context, count
from interlude_client.cli.orders import parse_assignments
from interlude_client.cli.pm_changes import time_duration
from interlude_client.cli.services import add_list_options, enum_value
from interlude_client.cli.tests import JOB_COLUMNS, RESULT_COLUMNS, follow, submit_job
from interlude_grpc.mef.lso.interlude.v1 import fault_management_pb2, performance_pb2, service_test_pb2

St = service_test_pb2
Pm = performance_pb2
PROCEDURES = {
    "loopback": ("ethernet-loopback", St.TEST_TYPE_ETHERNET_LOOPBACK),
    "linktrace": ("ethernet-link-trace", St.TEST_TYPE_ETHERNET_LINK_TRACE),
    "ping": ("ip-ping", St.TEST_TYPE_IP_PING),
    "traceroute": ("ip-traceroute", St.TEST_TYPE_IP_TRACEROUTE),
}
FM_TYPES = [test_type for _, test_type in PROCEDURES.values()]


def procedure(text: str) -> str:
    """An argparse type: an FM procedure (`link-trace` is `linktrace`)."""
    name = text.lower().replace("-", "").replace("_", "")
    if name not in PROCEDURES:
        raise argparse.ArgumentTypeError(f"want one of {', '.join(PROCEDURES)}, got {text!r}")
    return name


def _settings(args: argparse.Namespace) -> fault_management_pb2.FaultManagementSettings:
    settings = fault_management_pb2.FaultManagementSettings()
    if args.job_type:
        settings.job_type = enum_value(Pm.PerformanceJobType, "PERFORMANCE_JOB_TYPE_", args.job_type)
    if args.priority is not None:
        settings.job_priority = args.priority
    for option in ("granularity", "reporting_period", "execution_duration"):
        if getattr(args, option) is not None:
            getattr(settings, option).CopyFrom(getattr(args, option))
    return settings


def _create(args: argparse.Namespace, ctx: Context) -> int:
    test, test_type = PROCEDURES[args.procedure]
    job = builders.sft_job(
        test,
        args.from_service,
        args.to_service,
        parse_assignments(args.set or []),
        name=args.name or f"fm {args.procedure} {args.from_service} -> {args.to_service}",
        profile_id=args.profile or "",
        end_after=duration_pb2.Duration(seconds=args.end_after),
    )
    job.test_type = test_type
    job.fault_management.CopyFrom(_settings(args))
    return submit_job(args, ctx, job)


def _types(args: argparse.Namespace) -> list[St.TestType.ValueType]:
    return [PROCEDURES[p][1] for p in args.procedure] if args.procedure else list(FM_TYPES)


def _list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = St.TestJobFilter(
        state=[enum_value(St.TestJobState, "TEST_JOB_STATE_", s) for s in args.state or ()],
        test_type=_types(args),
        related_service_id_from=args.from_service or "",
        related_service_id_to=args.to_service or "",
    )
    return ctx.show_list(ctx.client.list_test_jobs, filter_, JOB_COLUMNS)


def _get(args: argparse.Namespace, ctx: Context) -> int:
    job = ctx.client.get_test_job(args.id, timeout=ctx.timeout)
    if job.test_type not in FM_TYPES:
        ctx.output.problem(f"{args.id} is a test job, not an FM job: see `interlude tests jobs get`")
        return exits.NOT_FOUND
    if args.follow:
        return follow(ctx, job.id)
    ctx.output.one(job)
    return exits.OK


def _cancel(args: argparse.Namespace, ctx: Context) -> int:
    task = ctx.client.cancel_test_job(
        args.id, reason=args.reason, etag=args.etag, request_id=args.request_id, timeout=ctx.timeout
    )
    ctx.output.one(task)
    return exits.OK


def _reports_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = St.TestResultFilter(test_job_id=args.job or "", test_type=_types(args))
    return ctx.show_list(ctx.client.list_test_results, filter_, RESULT_COLUMNS)


def _reports_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_test_result(args.id, timeout=ctx.timeout))
    return exits.OK


# --- the command line -------------------------------------------------------------------


def _register_create(jobs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    create = jobs.add_parser("create", help="request an FM job; --follow shows it live to its report")
    create.add_argument("procedure", type=procedure, help="loopback, linktrace, ping or traceroute")
    create.add_argument("from_service", metavar="FROM", help="the end point the procedure starts from")
    create.add_argument("to_service", metavar="TO", help="the end point that answers")
    create.add_argument("--set", action="append", metavar="PARAM=VALUE", help="configuration parameter")
    create.add_argument("--name", help="job name (default: fm PROCEDURE FROM -> TO)")
    create.add_argument("--profile", metavar="ID", help="use this test profile's settings")
    create.add_argument(
        "--end-after", type=count, default=3600, metavar="SECONDS", help="requested end (default 3600)"
    )
    settings = create.add_argument_group("MEF FM settings (kept and echoed in each report)")
    settings.add_argument("--job-type", help="on_demand (default), proactive or passive")
    settings.add_argument("--priority", type=count, help="job priority, 1 (highest) to 10")
    settings.add_argument("--granularity", type=time_duration, metavar="DURATION", help="e.g. 1sec")
    settings.add_argument("--reporting-period", type=time_duration, metavar="DURATION", help="e.g. 1day")
    settings.add_argument("--execution-duration", type=time_duration, metavar="DURATION", help="e.g. 1min")
    create.add_argument("--follow", "-f", action="store_true", help="show progress and results until it ends")
    create.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    create.add_argument("--validate-only", action="store_true", help="check it, store nothing")
    create.set_defaults(run=_create)


def _register_jobs(area: argparse.ArgumentParser) -> None:
    jobs = area.add_subparsers(dest="action", metavar="ACTION", required=True)
    _register_create(jobs)
    listing = jobs.add_parser("list", help="list FM jobs (every page)")
    listing.add_argument("--state", action="append", help="job state, e.g. completed (repeatable)")
    listing.add_argument("--procedure", action="append", type=procedure, help="only this one (repeatable)")
    listing.add_argument(
        "--from", dest="from_service", metavar="ID", help="jobs starting from this end point"
    )
    listing.add_argument("--to", dest="to_service", metavar="ID", help="jobs running to this end point")
    add_list_options(listing)
    listing.set_defaults(run=_list)
    get = jobs.add_parser("get", help="one FM job, with its state history and FM settings")
    get.add_argument("id")
    get.add_argument("--follow", "-f", action="store_true", help="follow it (replayed, then live) to its end")
    get.set_defaults(run=_get)
    cancel = jobs.add_parser("cancel", help="ask to cancel an FM job; prints the task that tracks it")
    cancel.add_argument("id")
    cancel.add_argument("--reason", default="", help="why (cancellation reason)")
    cancel.add_argument("--etag", default="", help="only if the job still has this etag")
    cancel.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    cancel.set_defaults(run=_cancel)


def _register_reports(area: argparse.ArgumentParser) -> None:
    reports = area.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = reports.add_parser("list", help="list FM reports, one per run (every page)")
    listing.add_argument("--job", metavar="ID", help="reports of this job")
    listing.add_argument("--procedure", action="append", type=procedure, help="only this one (repeatable)")
    add_list_options(listing)
    listing.set_defaults(run=_reports_list)
    get = reports.add_parser("get", help="one report: its measurements (a link trace's hops...) and summary")
    get.add_argument("id")
    get.set_defaults(run=_reports_get)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "fm",
        help="fault management: loopback, link trace, ping, traceroute jobs and their reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="area", metavar="GROUP", required=True)
    _register_jobs(sub.add_parser("jobs", aliases=["job"], help="FM jobs"))
    _register_reports(sub.add_parser("reports", aliases=["report"], help="FM reports (a run's test result)"))
