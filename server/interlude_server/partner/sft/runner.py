"""Drives test jobs through their state machine after the RPC that created them returned.

One task per active job. Each iteration first settles the job's open tasks
(cancel, modify, suspend, resume), then advances the job by one step: start it
when due, run the next step of its plan on the SftBackend, or finish the run
with its summary and result. Every change is one durable transaction that
re-reads the job, and the run's progress is stored, so jobs resume after a
restart; streams following a job are woken after each commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

import structlog

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, service_test_pb2
from interlude_server.core import clock
from interlude_server.core.errors import DomainError, Errors
from interlude_server.domain.sft import jobs as test_jobs
from interlude_server.domain.sft import runs as test_runs
from interlude_server.domain.sft.catalog import BY_TYPE, Resolved
from interlude_server.domain.sft.plan import RunEnd, plan
from interlude_server.domain.sft.states import TEST_JOB
from interlude_server.events.hub import Wakeups
from interlude_server.partner.backend import SftBackend
from interlude_server.partner.workers import Resumable, Workers
from interlude_server.store.interface.sft import SftRun
from interlude_server.store.interface.store import Store, Tx

St = service_test_pb2
T = TypeVar("T")
_log = structlog.get_logger("interlude_server.partner")
_WAITING = (St.TEST_JOB_STATE_ACKNOWLEDGED, St.TEST_JOB_STATE_SCHEDULED)


def _seconds_until(ts: object) -> float:
    assert hasattr(ts, "ToNanoseconds")
    return float(ts.ToNanoseconds() - clock.now().ToNanoseconds()) / 1e9


class SftRunner(Resumable):
    """Runs one task per active test job; `step_delay` paces waiting and polling."""

    def __init__(
        self, store: Store, backend: SftBackend, step_delay: float, seed: int, wakeups: Wakeups
    ) -> None:
        self.store = store
        self.backend = backend
        self.step_delay = step_delay
        self.seed = seed
        self.wakeups = wakeups
        self._workers = Workers("test_job", max(step_delay, 1.0))
        self._resolved: dict[tuple[str, str], Resolved] = {}

    async def _unfinished(self) -> Sequence[service_test_pb2.TestJob]:
        return await self.store.active_test_jobs()

    def submit(self, buyer_id: str, job_id: str) -> None:
        """Make sure the job is being driven (a no-op if it already is)."""
        log = _log.bind(test_job_id=job_id, buyer=buyer_id)
        self._workers.submit(job_id, lambda: self._step(buyer_id, job_id), log)

    async def _write(self, job_id: str, fn: Callable[[Tx], T], notify: bool = True) -> T:
        """Run `fn` in a transaction, then wake the streams following the job."""
        result = await self.store.write(fn)
        if notify:
            self.wakeups.notify(job_id)
        return result

    async def _pause(self, at_most: float | None = None) -> None:
        wait = max(self.step_delay, 0.01)
        await asyncio.sleep(wait if at_most is None else min(max(at_most, 0.0), wait, 1.0))

    async def _resolve(self, job: service_test_pb2.TestJob) -> Resolved | str:
        """The job's parameters (cached per job version), or why they cannot be resolved now."""
        key = (job.id, job.etag)
        if key not in self._resolved:
            errors = Errors()
            try:
                resolved = await test_jobs.resolve_job(self.store, job.buyer_id, job, errors)
            except DomainError as exc:
                return exc.message
            if resolved is None or errors.items:
                return "; ".join(f"{v.field}: {v.description}" for v in errors.items) or "no such test"
            self._resolved[key] = resolved
        return self._resolved[key]

    async def _step(self, buyer_id: str, job_id: str) -> bool:
        """Advance the job by one step; False once it reached a terminal state."""

        def settle(tx: Tx) -> tuple[service_test_pb2.TestJob | None, SftRun | None, bool]:
            job, settled = test_runs.settle_tasks(tx, buyer_id, job_id, clock.now())
            return job, tx.get_test_run(buyer_id, job_id), settled

        # Polling for tasks changes nothing unless a task was settled: only then wake streams.
        job, run, settled = await self._write(job_id, settle, notify=False)
        if settled:
            self.wakeups.notify(job_id)
        if job is None or job.state in TEST_JOB.terminal:
            self._resolved = {k: v for k, v in self._resolved.items() if k[0] != job_id}
            return False
        if job.state in _WAITING:
            wait = (
                _seconds_until(job.requested_start_date_time)
                if job.HasField("requested_start_date_time")
                else 0
            )
            if job.state == St.TEST_JOB_STATE_ACKNOWLEDGED or wait <= 0:
                await self._write(job_id, lambda tx: test_runs.start(tx, buyer_id, job_id, clock.now()))
            if wait > 0:
                await self._pause(wait)
        elif job.state == St.TEST_JOB_STATE_IN_PROGRESS and run is not None:
            await self._run_step(job, run)
        else:  # suspended or assessing a task: wait for the next task
            await self._pause()
        return True

    async def _end(
        self, job: service_test_pb2.TestJob, end: RunEnd | None, steps: int, resolved: Resolved
    ) -> None:
        b, j = job.buyer_id, job.id
        await self._write(j, lambda tx: test_runs.complete(tx, b, j, clock.now(), end, steps, resolved))

    async def _run_step(self, job: service_test_pb2.TestJob, run: SftRun) -> None:
        resolved = await self._resolve(job)
        if isinstance(resolved, str):
            _log.warning("test_job.unresolvable", test_job_id=job.id, reason=resolved)
            await self._end_unresolvable(job, resolved)
            return
        steps = plan(resolved, self.seed, run.run_number)
        inactive = await self._inactive_service(job) if run.next_step == 0 else ""
        if inactive:
            end = RunEnd(St.TEST_VERDICT_ERROR, f"service {inactive} is not active", "SERVICE_NOT_ACTIVE")
            await self._end(job, end, len(steps), resolved)
        elif _seconds_until(job.requested_end_date_time) <= 0:
            late = f"the requested end time came after {run.next_step} of {len(steps)} steps"
            await self._end(job, RunEnd(St.TEST_VERDICT_INCONCLUSIVE, late), len(steps), resolved)
        elif run.next_step >= len(steps):
            await self._end(job, None, len(steps), resolved)
        else:
            index = run.next_step
            outcome = await self.backend.run_step(job, resolved, run.run_number, index, steps[index])
            if outcome.error_code:
                end = RunEnd(St.TEST_VERDICT_ERROR, outcome.reason, outcome.error_code)
                await self._end(job, end, len(steps), resolved)
            else:
                b, j, n = job.buyer_id, job.id, run.run_number
                done = test_runs.StepDone(steps[index].name, len(steps), outcome.measurements)
                await self._write(j, lambda tx: test_runs.record_step(tx, b, j, n, index, done))

    async def _inactive_service(self, job: service_test_pb2.TestJob) -> str:
        """The id of an end point that is not active (nothing to send test traffic through), or ""."""
        for ref in (job.related_service_from, job.related_service_to):
            service = await self.store.get_service(job.buyer_id, ref.id)
            if service is None or service.state != common_pb2.SERVICE_STATE_ACTIVE:
                return ref.id
        return ""

    async def _end_unresolvable(self, job: service_test_pb2.TestJob, reason: str) -> None:
        resolved = Resolved(BY_TYPE[job.test_type])
        end = RunEnd(St.TEST_VERDICT_ERROR, reason, "SERVICE_NOT_ACTIVE")
        await self._end(job, end, 0, resolved)
