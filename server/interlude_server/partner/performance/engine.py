"""The simulated Partner's PM engine: validates jobs, carries out their tasks, measures.

One asyncio task per live job. Each step is one durable transaction that
re-reads the job (domain/performance/jobs.py, reports.py), so steps survive restarts: on
start every live job of every buyer is picked up where it stood, and an
interval already stored is never measured again.

Time: measurement bins are aligned to the granularity on a *simulated* clock
that runs `time_scale` times faster than the wall clock from the moment the
server started (`--sim-time-scale 900`: a 15-minute bin every second). With
scale 1, simulated time is wall time. The clock's origin is stored with the
data, so simulated time runs on across restarts. Schedules (start and end
times) follow the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Sequence

import structlog
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from interlude_server.core import clock
from interlude_server.core.keys import key_timestamp
from interlude_server.domain.performance import jobs as pm_jobs
from interlude_server.domain.performance import reports as pm_reports
from interlude_server.domain.performance.model import duration_seconds, settings_of, subject_ids
from interlude_server.domain.performance.states import JOB, LIVE_JOB_STATES
from interlude_server.partner.performance.measure import MeasurementSource, SimulatedMeter, batch_of, uniform
from interlude_server.partner.performance.recurring import RecurringRuns
from interlude_server.partner.performance.results import result as _result
from interlude_server.partner.workers import Resumable, Step, Workers
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import Store

Pm = performance_pb2
_log = structlog.get_logger("interlude_server.partner.pm")
MIN_BIN_REAL_S = 0.01  # a bin never arrives faster than this, whatever the scale
REPORT_FAILURE_RATE = 0.05
SUSPENDED_WAIT_S = 5.0
_OPEN_TASKS = [Pm.PERFORMANCE_JOB_PROCESS_STATE_ACKNOWLEDGED, Pm.PERFORMANCE_JOB_PROCESS_STATE_IN_PROGRESS]


class SimClock:
    """Simulated time: equals the wall clock at `origin_ns` and runs `scale` times faster."""

    def __init__(self, scale: float, origin_ns: int | None = None) -> None:
        self.scale = scale
        self._origin_ns = time.time_ns() if origin_ns is None else min(origin_ns, time.time_ns())

    def now_ns(self) -> int:
        return self._origin_ns + int((time.time_ns() - self._origin_ns) * self.scale)

    def at(self, wall_ns: int) -> int:
        """The simulated time it was (or will be) at wall-clock time `wall_ns`."""
        return self._origin_ns + int((wall_ns - self._origin_ns) * self.scale)

    def real_seconds(self, sim_ns: int) -> float:
        return max(sim_ns, 0) / 1e9 / self.scale


def _ts(ns: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(ns)
    return ts


class PmEngine(Resumable):
    """Drives each live job with one worker task (partner/workers); `step_delay` paces
    validation and task steps. A poke (`submit`) wakes a job's worker early. `source` takes
    the measurements (default: the simulated ones of `seed`)."""

    def __init__(
        self,
        store: Store,
        seed: int,
        sim_clock: SimClock,
        step_delay: float,
        source: MeasurementSource | None = None,
    ) -> None:
        self.store = store
        self.seed = seed
        self.source: MeasurementSource = source or SimulatedMeter(seed)
        self.clock = sim_clock
        self.step_delay = step_delay
        self._workers = Workers("pm.job", max(step_delay, 1.0))
        self._pokes: dict[str, asyncio.Event] = {}
        self._recurring = RecurringRuns(self)

    def results(self, config_type: str) -> pm_reports.Results:
        """The Partner's MEF results objects for a configuration `@type` (results.py)."""
        return functools.partial(_result, self.seed, config_type)

    async def start(self) -> int:
        """Resume every live job and every ad-hoc report still being prepared."""
        jobs = await super().start()
        reports = await self.store.open_pm_reports(pm_reports.OPEN_REPORT_STATES)
        for report in reports:
            self.submit_report(report.buyer_id, report.id)
        return jobs + len(reports)

    def submit_report(self, buyer_id: str, report_id: str) -> None:
        """Prepare an ad-hoc report: one Partner step (step_delay apart) per state."""
        if not self._workers.active:
            return

        async def step() -> bool:
            await asyncio.sleep(self.step_delay)
            report = await self.store.get_pm_report(buyer_id, report_id)
            if report is None or report.state not in pm_reports.OPEN_REPORT_STATES:
                return False
            results = self.results(report.service_specific_configuration.type)
            await self.store.write(
                lambda tx: pm_reports.advance_adhoc(tx, buyer_id, report_id, clock.now(), results)
            )
            return True

        log = _log.bind(report_id=report_id, buyer=buyer_id)
        self._workers.submit(f"report:{report_id}", step, log)

    async def _unfinished(self) -> Sequence[Pm.PerformanceJob]:
        return await self.store.live_pm_jobs(LIVE_JOB_STATES)

    def submit(self, buyer_id: str, job_id: str) -> None:
        """Make sure the job is followed, and wake it: something about it changed."""
        if not self._workers.active:  # another process holds the PM lease and follows it
            return
        self._pokes.setdefault(job_id, asyncio.Event()).set()
        self._workers.submit(
            job_id, self._stepper(buyer_id, job_id), _log.bind(job_id=job_id, buyer=buyer_id)
        )

    async def _wait(self, job_id: str, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when the job is poked."""
        poke = self._pokes.setdefault(job_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(poke.wait(), max(seconds, 0.0))
        poke.clear()

    def _stepper(self, buyer_id: str, job_id: str) -> Step:
        """The job's step: one task step, state step or bin; False once the job has ended.
        It remembers where measuring stands between steps (the next bin's start)."""
        next_start: int | None = None

        async def step() -> bool:
            nonlocal next_start
            job = await self.store.get_pm_job(buyer_id, job_id)
            if job is None or job.state in JOB.terminal:
                self._pokes.pop(job_id, None)
                return False
            if await self._task_step(buyer_id, job):
                return True
            if job.state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS:
                if job.schedule_definition.HasField("recurring_schedule"):
                    await self._recurring.step(job)
                    return True
                next_start = await self._measure_step(job, next_start)
            else:
                next_start = None
                await self._state_step(job)
            return True

        return step

    async def _task_step(self, buyer_id: str, job: Pm.PerformanceJob) -> bool:
        """Advance the job's oldest open modify/cancel task by one step; False if there is none."""
        query = Pm.PerformanceJobTaskFilter(performance_job_id=job.id, state=_OPEN_TASKS)
        page = await self.store.list_pm_tasks(buyer_id, query, PageRequest(limit=10))
        if not page.items:
            return False
        task = min(page.items, key=lambda t: t.creation_date_time.ToNanoseconds())
        await asyncio.sleep(self.step_delay)
        await self.store.write(lambda tx: pm_jobs.advance_task(tx, buyer_id, task.id, clock.now()))
        return True

    async def _state_step(self, job: Pm.PerformanceJob) -> None:
        state = job.state
        if state == Pm.PERFORMANCE_JOB_STATE_ACKNOWLEDGED:
            await asyncio.sleep(self.step_delay)
            action, why = await self._validate(job)
            await self._partner(job, state, action, why)
        elif state == Pm.PERFORMANCE_JOB_STATE_SCHEDULED:
            wait = job.schedule_definition.schedule_definition_start_time.ToNanoseconds() - time.time_ns()
            if wait > 0:
                await self._wait(job.id, min(wait / 1e9, 1.0))
                return
            action, why = await self._validate(job)
            if action != "schedule":  # the start time passed: start, or say what is missing
                await self._partner(job, state, "noResources" if action == "reject" else action, why)
        else:  # suspended (until resumed or cancelled), or pending a task just finished
            await self._wait(job.id, SUSPENDED_WAIT_S)

    async def _validate(self, job: Pm.PerformanceJob) -> tuple[str, str]:
        """What the Partner decides about a job: reject, noResources, schedule or start."""
        for service_id in subject_ids(job.monitored_object):
            service = await self.store.get_service(job.buyer_id, service_id)
            if service is None:
                return "reject", f"service {service_id} does not exist"
            if service.state != common_pb2.SERVICE_STATE_ACTIVE:
                return "noResources", f"service {service_id} is not active: no measurement point is available"
        if pm_jobs.starts_later(job, clock.now()):
            return "schedule", "valid; waiting for the scheduled start"
        return "start", "valid; measuring"

    async def _partner(self, job: Pm.PerformanceJob, expected: int, action: str, why: str) -> None:
        buyer, job_id = job.buyer_id, job.id
        await self.store.write(
            lambda tx: pm_jobs.partner_step(tx, buyer, job_id, expected, action, clock.now(), why)
        )

    async def _measure_step(self, job: Pm.PerformanceJob, next_start: int | None) -> int | None:
        """Wait for the next bin to close, then store it (and the report it completes)."""
        schedule = job.schedule_definition
        if schedule.HasField("schedule_definition_end_time") and (
            schedule.schedule_definition_end_time.ToNanoseconds() <= time.time_ns()
        ):
            await self._partner(job, job.state, "complete", "the schedule ended")
            return None
        settings = settings_of(
            job, await self.store.get_pm_profile(job.buyer_id, job.performance_profile_ref.id)
        )
        bin_ns = max(int(duration_seconds(settings.granularity) * 1e9), 1)
        bin_ns = max(bin_ns, int(MIN_BIN_REAL_S * self.clock.scale * 1e9))
        if next_start is None:
            next_start = await self._resume_point(job, bin_ns)
        end = next_start + bin_ns
        wait = self.clock.real_seconds(end - self.clock.now_ns())
        if wait > 0:
            await self._wait(job.id, wait)
            if self.clock.now_ns() < end:
                return next_start  # woken early: re-read the job first
        start_ts = _ts(next_start)
        batch = batch_of(job, start_ts, await self.source.measure(job, settings, start_ts, _ts(end)))
        buyer = job.buyer_id
        await self.store.write(lambda tx: pm_reports.record_interval(tx, buyer, batch, clock.now()))
        period_ns = max(int(duration_seconds(settings.reporting_period) * 1e9), bin_ns)
        if end // period_ns > next_start // period_ns:
            await self._report(job, (end // period_ns) * period_ns, period_ns)
        return end

    async def _resume_point(self, job: Pm.PerformanceJob, bin_ns: int) -> int:
        """The start of the next bin to measure: the current bin, never one already stored."""
        buyer, job_id = job.buyer_id, job.id
        stored = await self.store.write(lambda tx: tx.last_interval_end_key(buyer, job_id))
        current = (self.clock.now_ns() // bin_ns) * bin_ns
        last = key_timestamp(stored)
        return max(current, last.ToNanoseconds()) if last is not None else current

    async def _report(self, job: Pm.PerformanceJob, boundary: int, period_ns: int) -> None:
        failure = self.failure(job, boundary)
        buyer, job_id = job.buyer_id, job.id
        start, end = _ts(boundary - period_ns), _ts(boundary)
        settings = settings_of(job, await self.store.get_pm_profile(buyer, job.performance_profile_ref.id))
        results = self.results(settings.service_specific_configuration.type)
        await self.store.write(
            lambda tx: pm_reports.record_report(tx, buyer, job_id, start, end, clock.now(), results, failure)
        )

    def failure(self, job: Pm.PerformanceJob, boundary: int) -> str:
        """Why the report ending at `boundary` fails (simulated, REPORT_FAILURE_RATE of them), or ''."""
        subject = "/".join(subject_ids(job.monitored_object)) or job.id
        failed = uniform(self.seed, subject, boundary, "report") < REPORT_FAILURE_RATE
        return "simulated: the collector was unreachable while the report was prepared" if failed else ""
