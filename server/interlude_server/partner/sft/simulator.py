"""The embedded Partner's test heads: deterministic measurements per seed, faults on request.

Fault rules come from the same `--sim-faults` file as order faults, under the
key `testFaults`:

    {"testFaults": [{"jobName": "BREACH-*", "effect": "breach", "step": "cir-step-*",
                     "metric": "frameLossRatio", "value": 2.5},
                    {"jobName": "BROKEN-*", "effect": "error", "step": "*-2",
                     "errorCode": "TEST_HEAD_UNAVAILABLE", "reason": "..."}]}

`breach` replaces the measured value of matching metrics in matching steps
(`value`, or one that misses the threshold when absent); `metric` empty means
every metric with a threshold. `error` makes the step fail, which ends the run
with verdict ERROR and the error code and reason.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core import clock
from interlude_server.domain.sft.catalog import Resolved
from interlude_server.domain.sft.plan import Step, breaching_value, measure, measurement
from interlude_server.partner.backend import StepOutcome

EFFECTS = ("breach", "error")
ERROR_CODES = ("TEST_HEAD_UNAVAILABLE", "FAR_END_UNREACHABLE", "SERVICE_NOT_ACTIVE")


@dataclass(frozen=True)
class SftFaultRule:
    """Make steps of jobs whose name matches `job_name` (a glob) breach a threshold or fail."""

    job_name: str
    effect: str
    step: str = "*"
    metric: str = ""
    value: float | None = None
    error_code: str = "TEST_HEAD_UNAVAILABLE"
    reason: str = "simulated: the test head did not respond"

    def matches(self, job: service_test_pb2.TestJob, step: Step) -> bool:
        return fnmatch.fnmatchcase(job.name, self.job_name) and fnmatch.fnmatchcase(step.name, self.step)


def _rule(index: int, entry: Any, problems: list[str]) -> SftFaultRule | None:
    where = f"testFaults[{index}]"
    if not isinstance(entry, dict) or not entry.get("jobName") or entry.get("effect") not in EFFECTS:
        problems.append(f"{where}: jobName and effect ({' or '.join(EFFECTS)}) are required")
        return None
    value = entry.get("value")
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
        problems.append(f"{where}.value: must be a number")
        return None
    code = entry.get("errorCode", ERROR_CODES[0])
    if code not in ERROR_CODES:
        problems.append(f"{where}.errorCode: must be one of {', '.join(ERROR_CODES)}")
        return None
    return SftFaultRule(
        entry["jobName"],
        entry["effect"],
        str(entry.get("step", "*")),
        str(entry.get("metric", "")),
        None if value is None else float(value),
        code,
        str(entry.get("reason", SftFaultRule.reason)),
    )


def load_test_faults(path: Path) -> list[SftFaultRule]:
    """Read the `testFaults` of a fault file; raises ValueError naming every bad entry."""
    data = json.loads(path.read_text())
    entries = data.get("testFaults", []) if isinstance(data, dict) else []
    problems: list[str] = []
    if not isinstance(entries, list):
        problems.append("testFaults: must be a list")
        entries = []
    rules = [r for i, e in enumerate(entries) if (r := _rule(i, e, problems)) is not None]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return rules


class SimulatedTester:
    """A SftBackend: each step takes `delay` seconds and measures values drawn from `seed`."""

    def __init__(self, delay: float, seed: int = 0, faults: list[SftFaultRule] | None = None) -> None:
        self.delay = delay
        self.seed = seed
        self.faults = faults or []

    async def run_step(
        self,
        job: service_test_pb2.TestJob,
        resolved: Resolved,
        run_number: int,
        step_index: int,
        step: Step,
    ) -> StepOutcome:
        await asyncio.sleep(self.delay)
        rules = [rule for rule in self.faults if rule.matches(job, step)]
        for rule in rules:
            if rule.effect == "error":
                return StepOutcome(error_code=rule.error_code, reason=f"{step.name}: {rule.reason}")
        now = clock.now()
        out = []
        for metric, value in measure(resolved, self.seed, run_number, step_index, step):
            for rule in rules:
                if rule.metric == metric.name or (not rule.metric and metric.threshold is not None):
                    value = rule.value if rule.value is not None else breaching_value(metric)
            out.append(measurement(metric, value, step, run_number, 0, now))
        return StepOutcome(out)
