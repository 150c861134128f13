"""MEF RecurringSchedule: six-field cron (second minute hour dayOfMonth month dayOfWeek).

Parsed by `croniter` (`second_at_beginning=True`); an unset field means `*`. A job with a
recurring schedule measures in executions: each fire time `f` inside the schedule's
[start, end] starts one that lasts `executionDuration` (default: one reporting period),
reported in chunks of one reporting period ([f, f+period), ..., the last one cut at the
execution's end). `next_chunk` derives the next chunk from the schedule and the last
chunk reported alone, so after a restart nothing is run twice and nothing is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import croniter  # type: ignore[import-untyped]

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.errors import Errors

Pm = performance_pb2
# The cron fields in order, as (contract field, what it takes).
FIELDS = (
    ("second", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day_of_month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day_of_week", "0-6 or SUN-SAT"),
)
NS = 1_000_000_000


def expression(r: Pm.RecurringSchedule) -> str:
    return " ".join(getattr(r, name).strip() or "*" for name, _ in FIELDS)


def check(errors: Errors, where: str, r: Pm.RecurringSchedule) -> None:
    """A violation for each cron field croniter cannot read (each tried alone), then for
    the whole expression (e.g. a day that no month has)."""
    bad = False
    for index, (name, takes) in enumerate(FIELDS):
        value = getattr(r, name).strip()
        if not value:
            continue
        fields = ["*"] * len(FIELDS)
        fields[index] = value
        if " " in value or not croniter.is_valid(" ".join(fields), second_at_beginning=True):
            errors.add(f"{where}.{name}", f"not a cron field ({takes}, with * , - /): {value!r}")
            bad = True
    if not bad and _next(expression(r), 0) is None:
        errors.add(where, f"the schedule {expression(r)!r} never fires")


def _next(expr: str, after_ns: int) -> int | None:
    """The first fire time strictly after `after_ns`, or None."""
    try:
        it = croniter(expr, datetime.fromtimestamp(after_ns / NS, UTC), second_at_beginning=True)
        return int(it.get_next(float) * NS)
    except (ValueError, KeyError, OverflowError):  # CroniterBadDateError is a ValueError
        return None


def _latest_fire(expr: str, at_ns: int) -> int:
    """The last fire time at or before `at_ns`."""
    it = croniter(expr, datetime.fromtimestamp((at_ns + 1) / NS, UTC), second_at_beginning=True)
    return int(it.get_prev(float) * NS)


def execution_ns(schedule: Pm.ScheduleDefinition, period_ns: int, seconds: float) -> int:
    """How long each execution lasts: `executionDuration` (`seconds` of it), else one period."""
    return max(int(seconds * NS), 1) if schedule.HasField("execution_duration") else period_ns


def next_chunk(
    schedule: Pm.ScheduleDefinition,
    period_ns: int,
    execution: int,
    last: tuple[int, int] | None,
    origin_ns: int,
) -> tuple[int, int] | None:
    """The next chunk [start, end) to report, in ns: the rest of the execution the `last`
    reported chunk (start, end) belongs to, else the first chunk of the next execution
    (fired after `origin_ns` when nothing was reported yet). None once the schedule has ended."""
    expr = expression(schedule.recurring_schedule)
    if last is not None:
        fire = _latest_fire(expr, last[0])
        if last[1] < fire + execution:
            return last[1], min(last[1] + period_ns, fire + execution)
        after = max(fire, last[1] - NS)
    else:
        begins = schedule.schedule_definition_start_time.ToNanoseconds()
        after = max(origin_ns, begins if schedule.HasField("schedule_definition_start_time") else 0) - 1
    upcoming = _next(expr, after)
    if upcoming is None:
        return None
    fire = upcoming
    ends = schedule.schedule_definition_end_time
    if schedule.HasField("schedule_definition_end_time") and fire >= ends.ToNanoseconds():
        return None
    return fire, min(fire + period_ns, fire + execution)
