"""Service function testing: `tests run`, `tests capabilities`, `tests profiles|jobs|results`.

`tests run TYPE FROM TO --follow` requests a test and follows it live over
StreamTestResults (resuming across reconnects): each state change, measurement,
finished step and run summary is printed as it happens (a line each, or one JSON
object per line with `--output json`). The exit code tells how it ended: 0 when
every run passed, 8 when a run failed its thresholds, 9 when a run was
inconclusive or could not be carried out, 1 when the job was cancelled or rejected.
"""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from interlude_client import builders
from interlude_client.cli import exits
from interlude_client.cli.context import Context, count
from interlude_client.cli.orders import parse_assignments, read_message
from interlude_client.cli.output import Column, enum_label
from interlude_client.cli.services import add_list_options, enum_value
from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2

St = service_test_pb2


def _time(ts: timestamp_pb2.Timestamp) -> str:
    return ts.ToDatetime(UTC).strftime("%Y-%m-%d %H:%M:%S") if ts.seconds else ""


def _clock(ts: timestamp_pb2.Timestamp) -> str:
    return ts.ToDatetime(UTC).strftime("%H:%M:%S.%f")[:-3] if ts.seconds else ""


CAPABILITY_COLUMNS: list[Column] = [
    ("TYPE", lambda c: enum_label(c, "test_type")),
    ("CONFIGURATION", lambda c: c.configuration_type),
    ("MODES", lambda c: ",".join(St.TestMode.Name(m).removeprefix("TEST_MODE_") for m in c.supported_modes)),
    ("PARAMETERS", lambda c: ",".join(p.name.lstrip("/") for p in c.parameters)),
]
PROFILE_COLUMNS: list[Column] = [
    ("ID", lambda p: p.id),
    ("NAME", lambda p: p.name),
    ("TYPE", lambda p: enum_label(p, "test_type")),
    ("STATUS", lambda p: enum_label(p, "lifecycle_status")),
    ("STATE", lambda p: enum_label(p, "lifecycle_state")),
    ("SPECIFICATION", lambda p: p.related_service_specification_id),
]
JOB_COLUMNS: list[Column] = [
    ("ID", lambda j: j.id),
    ("NAME", lambda j: j.name),
    ("TYPE", lambda j: enum_label(j, "test_type")),
    ("STATE", lambda j: enum_label(j, "state")),
    ("FROM", lambda j: j.related_service_from.id),
    ("TO", lambda j: j.related_service_to.id),
    ("CREATED", lambda j: _time(j.creation_date)),
]
RESULT_COLUMNS: list[Column] = [
    ("ID", lambda r: r.id),
    ("JOB", lambda r: r.test_job.id),
    ("RUN", lambda r: str(r.run_number)),
    ("TYPE", lambda r: enum_label(r, "test_type")),
    ("VERDICT", lambda r: enum_label(r.summary, "verdict")),
    ("STARTED", lambda r: _time(r.actual_start_date_time)),
    ("ENDED", lambda r: _time(r.actual_end_date_time)),
]


# --- following a job ---------------------------------------------------------------------


def _item_line(item: St.StreamTestResultsResponse) -> str:
    """One followed item as a line; "" for heartbeats and the sync marker."""
    kind = item.WhichOneof("kind")
    if kind == "state_change":
        change = item.state_change
        text = f"{_clock(change.change_time)}  state    {enum_label(change, 'state')}"
        return f"{text}  {change.reason}".rstrip()
    if kind == "measurement":
        m = item.measurement
        verdict = enum_label(m, "verdict") if m.verdict else ""
        threshold = ""
        if m.HasField("threshold"):
            side = "<=" if m.threshold.comparison == St.TEST_THRESHOLD_COMPARISON_AT_MOST else ">="
            threshold = f"({side} {m.threshold.value:g})"
        return (
            f"{_clock(m.measure_time)}  measure  run {m.run_number} {m.step_name} {m.metric_name} "
            f"{m.value:g} {m.unit} {threshold} {verdict}"
        ).rstrip()
    if kind == "step_progress":
        p = item.step_progress
        verdict = enum_label(p, "verdict") if p.verdict else ""
        where = f"run {p.run_number} {p.step_number}/{p.step_count} {p.step_name}"
        return f"{'':12}  step     {where} {verdict}".rstrip()
    if kind == "summary":
        s = item.summary
        detail = " ".join(x for x in (s.error_code, s.reason) if x)
        return f"{'':12}  summary  run {s.run_number} {enum_label(s, 'verdict')} {detail}".rstrip()
    return ""


def outcome(state: int, verdicts: list[int]) -> int:
    """The exit code of a followed job: its final state and the verdict of each run."""
    if state != St.TEST_JOB_STATE_COMPLETED:
        return exits.NOT_COMPLETED
    if St.TEST_VERDICT_FAIL in verdicts:
        return exits.TEST_FAILED
    if any(v != St.TEST_VERDICT_PASS for v in verdicts) or not verdicts:
        return exits.TEST_UNDECIDED
    return exits.OK


def follow(ctx: Context, job_id: str) -> int:
    """Print the job's stream to its end; the exit code of how it ended."""
    verdicts: list[int] = []
    state = St.TEST_JOB_STATE_UNSPECIFIED
    stream = ctx.client.stream_test_results(job_id, heartbeat_seconds=5)
    try:
        for item in stream:
            kind = item.WhichOneof("kind")
            if kind == "state_change":
                state = item.state_change.state
            elif kind == "summary":
                verdicts.append(item.summary.verdict)
            if kind in ("heartbeat", "sync"):
                continue
            ctx.output.item(item, _item_line(item))
    finally:
        stream.close()
    if state not in builders.TERMINAL_TEST_JOB_STATES:  # the stream ended early: ask for the truth
        state = ctx.client.get_test_job(job_id, timeout=ctx.timeout).state
    return outcome(state, verdicts)


# --- commands ----------------------------------------------------------------------------


def _run(args: argparse.Namespace, ctx: Context) -> int:
    mode = enum_value(St.TestMode, "TEST_MODE_", args.mode) if args.mode else St.TEST_MODE_UNSPECIFIED
    job = builders.sft_job(
        args.test,
        args.from_service,
        args.to_service,
        parse_assignments(args.set or []),
        name=args.name or "",
        profile_id=args.profile or "",
        mode=mode,
        consent=args.consent,
        end_after=duration_pb2.Duration(seconds=args.end_after),
    )
    return submit_job(args, ctx, job)


def submit_job(args: argparse.Namespace, ctx: Context, job: St.TestJob) -> int:
    """Create `job` (or only validate it) and print it, or with --follow follow it to its end;
    the exit code (shared by `tests jobs create` and `fm jobs create`)."""
    created = ctx.client.create_test_job(
        job, request_id=args.request_id, validate_only=args.validate_only, timeout=ctx.timeout
    )
    if not args.follow or args.validate_only:
        ctx.output.one(created)
        if args.validate_only:
            ctx.validated()
        return exits.OK
    if not ctx.output.json:
        ctx.output.line(f"job {created.id}  {created.name}")
    return follow(ctx, created.id)


def _capabilities(args: argparse.Namespace, ctx: Context) -> int:
    types = [enum_value(St.TestType, "TEST_TYPE_", t) for t in args.type or ()]
    ctx.output.table(
        ctx.client.get_test_capabilities(args.service_type or (), types, timeout=ctx.timeout),
        CAPABILITY_COLUMNS,
    )
    return exits.OK


def _profiles_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = St.TestProfileFilter(related_service_specification_id=args.specification or "")
    return ctx.show_list(ctx.client.list_test_profiles, filter_, PROFILE_COLUMNS)


def _profiles_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_test_profile(args.id, timeout=ctx.timeout))
    return exits.OK


def _profiles_create(args: argparse.Namespace, ctx: Context) -> int:
    profile = read_message(args.file, St.TestProfile())
    created = ctx.client.create_test_profile(
        profile, request_id=args.request_id, validate_only=args.validate_only, timeout=ctx.timeout
    )
    ctx.output.one(created)
    if args.validate_only:
        ctx.validated()
    return exits.OK


def _profiles_delete(args: argparse.Namespace, ctx: Context) -> int:
    ctx.client.delete_test_profile(args.id, etag=args.etag, request_id=args.request_id, timeout=ctx.timeout)
    return exits.OK


def _jobs_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = St.TestJobFilter(
        state=[enum_value(St.TestJobState, "TEST_JOB_STATE_", s) for s in args.state or ()],
        test_type=[enum_value(St.TestType, "TEST_TYPE_", t) for t in args.type or ()],
        name=args.name or "",
    )
    return ctx.show_list(ctx.client.list_test_jobs, filter_, JOB_COLUMNS)


def _jobs_get(args: argparse.Namespace, ctx: Context) -> int:
    job = ctx.client.get_test_job(args.id, timeout=ctx.timeout)
    if args.follow:
        return follow(ctx, job.id)
    ctx.output.one(job)
    return exits.OK


def _jobs_change(args: argparse.Namespace, ctx: Context) -> int:
    request = builders.sft_task_request(args.action, args.id, reason=args.reason, etag=args.etag)
    task = ctx.client.change_test_job(request, request_id=args.request_id, timeout=ctx.timeout)
    ctx.output.one(task)
    return exits.OK


def _results_list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = St.TestResultFilter(
        test_job_id=args.job or "",
        verdict=[enum_value(St.TestVerdict, "TEST_VERDICT_", v) for v in args.verdict or ()],
    )
    return ctx.show_list(ctx.client.list_test_results, filter_, RESULT_COLUMNS)


def _results_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_test_result(args.id, timeout=ctx.timeout))
    return exits.OK


def _change_options(parser: argparse.ArgumentParser, *, validate: bool = True) -> None:
    parser.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    if validate:
        parser.add_argument("--validate-only", action="store_true", help="check it, store nothing")


def _register_run(sub: Any) -> None:
    run = sub.add_parser("run", help="request a test of a service; --follow shows it live")
    run.add_argument(
        "test", help="test type: short name (y1564-sat, ethernet-loopback...) or configuration URN"
    )
    run.add_argument("from_service", metavar="FROM", help="service end point the test starts from")
    run.add_argument("to_service", metavar="TO", help="service end point the test runs to")
    run.add_argument("--set", action="append", metavar="PARAM=VALUE", help="configuration parameter")
    run.add_argument("--name", help="job name (default: TYPE FROM -> TO)")
    run.add_argument("--profile", metavar="ID", help="use this test profile's settings")
    run.add_argument("--mode", help="in_service (default) or out_of_service")
    run.add_argument("--consent", action="store_true", help="consent to take the service out of service")
    run.add_argument(
        "--end-after", type=count, default=3600, metavar="SECONDS", help="requested end (default 3600)"
    )
    run.add_argument(
        "--follow", "-f", action="store_true", help="show progress and results until the job ends"
    )
    _change_options(run)
    run.set_defaults(run=_run)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "tests",
        help="service function testing: run and follow tests, profiles, jobs, results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="area", metavar="ACTION", required=True)
    _register_run(sub)
    capabilities = sub.add_parser("capabilities", help="the test types the Partner runs, with parameters")
    capabilities.add_argument("--service-type", action="append", metavar="URN", help="for this service @type")
    capabilities.add_argument("--type", action="append", help="test type, e.g. y1564_service_activation")
    capabilities.set_defaults(run=_capabilities)
    _register_profiles(sub.add_parser("profiles", help="test profiles"))
    _register_jobs(sub.add_parser("jobs", help="test jobs"))
    _register_results(sub.add_parser("results", help="test results"))


def _register_profiles(area: argparse.ArgumentParser) -> None:
    profiles = area.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = profiles.add_parser("list", help="list profiles (every page)")
    listing.add_argument("--specification", metavar="ID", help="profiles for this service specification")
    add_list_options(listing)
    listing.set_defaults(run=_profiles_list)
    get = profiles.add_parser("get", help="one profile")
    get.add_argument("id")
    get.set_defaults(run=_profiles_get)
    create = profiles.add_parser("create", help="create a profile from a TestProfile in proto JSON")
    create.add_argument("file", help="JSON file, or - for standard input")
    _change_options(create)
    create.set_defaults(run=_profiles_create)
    delete = profiles.add_parser("delete", help="delete a profile no job uses")
    delete.add_argument("id")
    delete.add_argument("--etag", default="", help="only if the profile still has this etag")
    _change_options(delete, validate=False)
    delete.set_defaults(run=_profiles_delete)


def _register_jobs(area: argparse.ArgumentParser) -> None:
    jobs = area.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = jobs.add_parser("list", help="list jobs (every page)")
    listing.add_argument("--state", action="append", help="job state, e.g. in_progress (repeatable)")
    listing.add_argument("--type", action="append", help="test type, e.g. ip_ping (repeatable)")
    listing.add_argument("--name")
    add_list_options(listing)
    listing.set_defaults(run=_jobs_list)
    get = jobs.add_parser("get", help="one job, with its state history")
    get.add_argument("id")
    get.add_argument("--follow", "-f", action="store_true", help="follow it (replayed, then live) to its end")
    get.set_defaults(run=_jobs_get)
    for action, text in (("cancel", "cancel"), ("suspend", "suspend"), ("resume", "resume")):
        change = jobs.add_parser(action, help=f"ask to {text} a job; prints the task that tracks it")
        change.add_argument("id")
        change.add_argument("--reason", default="", help=f"why ({text} reason)")
        change.add_argument("--etag", default="", help="only if the job still has this etag")
        _change_options(change, validate=False)
        change.set_defaults(run=_jobs_change)


def _register_results(area: argparse.ArgumentParser) -> None:
    results = area.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = results.add_parser("list", help="list results, without measurements (every page)")
    listing.add_argument("--job", metavar="ID", help="results of this job")
    listing.add_argument("--verdict", action="append", help="pass, fail, inconclusive, error (repeatable)")
    add_list_options(listing)
    listing.set_defaults(run=_results_list)
    get = results.add_parser("get", help="one result with its measurements and summary")
    get.add_argument("id")
    get.set_defaults(run=_results_get)
