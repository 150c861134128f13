"""Jobs with a recurring schedule: measured and reported per execution (domain schedule.py).

Each step waits for the next chunk of an execution (one reporting period, cut at the
execution's end) to close on the engine's simulated clock (so `--sim-time-scale` speeds
cron schedules up as it does bins), then stores its intervals and its report in one
transaction. Where the schedule stands is read back from the job's latest report, so a
restarted server carries on with the next chunk: a chunk missed while the server was down
is caught up once, and none is reported twice. The first execution is the first fire time
after the job started measuring; the schedule's start and end times bound the fire times.
"""

from __future__ import annotations

from typing import Protocol

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core import clock
from interlude_server.domain.performance import reports as pm_reports
from interlude_server.domain.performance import schedule as cron
from interlude_server.domain.performance.model import duration_seconds, settings_of
from interlude_server.partner.performance.measure import MeasurementSource, batch_of
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import Store, Tx

Pm = performance_pb2
LATEST = 5  # reports read back to find the latest chunk (newest first by creation)


def _ts(ns: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(ns)
    return ts


class _Clock(Protocol):
    def now_ns(self) -> int: ...

    def at(self, wall_ns: int) -> int: ...

    def real_seconds(self, sim_ns: int) -> float: ...


class PmEngine(Protocol):
    """What this step uses of engine.PmEngine (which owns it)."""

    @property
    def store(self) -> Store: ...

    @property
    def seed(self) -> int: ...

    @property
    def clock(self) -> _Clock: ...

    @property
    def source(self) -> MeasurementSource: ...

    def results(self, config_type: str) -> pm_reports.Results: ...

    def failure(self, job: Pm.PerformanceJob, boundary: int) -> str: ...

    async def _partner(self, job: Pm.PerformanceJob, expected: int, action: str, why: str) -> None: ...

    async def _wait(self, job_id: str, seconds: float) -> None: ...


class RecurringRuns:
    """The recurring-schedule step of engine.PmEngine."""

    def __init__(self, engine: PmEngine) -> None:
        self.engine = engine

    async def _last_chunk(self, job: Pm.PerformanceJob) -> tuple[int, int] | None:
        query = Pm.PerformanceReportFilter(performance_job_id=job.id)
        page = await self.engine.store.list_pm_reports(job.buyer_id, query, PageRequest(limit=LATEST))
        frames = [
            (
                r.reporting_timeframe.reporting_start_date.ToNanoseconds(),
                r.reporting_timeframe.reporting_end_date.ToNanoseconds(),
            )
            for r in page.items
        ]
        return max(frames) if frames else None

    def _started(self, job: Pm.PerformanceJob) -> int:
        """When (simulated) the job last started measuring."""
        entered = [
            h.change_time.ToNanoseconds()
            for h in job.state_history
            if h.state == Pm.PERFORMANCE_JOB_STATE_IN_PROGRESS
        ]
        wall = max(entered) if entered else job.creation_date_time.ToNanoseconds()
        return self.engine.clock.at(wall)

    async def step(self, job: Pm.PerformanceJob) -> None:
        engine = self.engine
        profile = await engine.store.get_pm_profile(job.buyer_id, job.performance_profile_ref.id)
        settings = settings_of(job, profile)
        bin_ns = max(int(duration_seconds(settings.granularity) * 1e9), 1)
        period_ns = max(int(duration_seconds(settings.reporting_period) * 1e9), bin_ns)
        schedule = job.schedule_definition
        execution = cron.execution_ns(schedule, period_ns, duration_seconds(schedule.execution_duration))
        last = await self._last_chunk(job)
        chunk = cron.next_chunk(schedule, period_ns, execution, last, self._started(job))
        if chunk is None:
            await engine._partner(job, job.state, "complete", "the recurring schedule ended")
            return
        wait = engine.clock.real_seconds(chunk[1] - engine.clock.now_ns())
        if wait > 0:
            await engine._wait(job.id, wait)
            if engine.clock.now_ns() < chunk[1]:
                return  # woken early: re-read the job first
        batches = []
        for s in range(chunk[0], chunk[1], bin_ns):  # by the engine's source: in process or a worker
            start, end = _ts(s), _ts(min(s + bin_ns, chunk[1]))
            batches.append(batch_of(job, start, await engine.source.measure(job, settings, start, end)))
        results = engine.results(settings.service_specific_configuration.type)
        failure = engine.failure(job, chunk[1])
        buyer, job_id = job.buyer_id, job.id

        def record(tx: Tx) -> None:
            if tx.get_pm_job(buyer, job_id) is None:
                return
            for batch in batches:  # an interval already stored (a repeated step) is dropped
                pm_reports.record_interval(tx, buyer, batch)
            start, end = _ts(chunk[0]), _ts(chunk[1])
            pm_reports.record_report(tx, buyer, job_id, start, end, clock.now(), results, failure)

        await engine.store.write(record)
