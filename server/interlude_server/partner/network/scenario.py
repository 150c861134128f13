"""The in-process simulator's network scenarios (`--sim-scenario FILE`): timed state changes
and alarms, reported through the same NetworkObserver as an out-of-process network.

The file (README "Network scenarios"): `{"steps": [step, ...]}` (or just the list), each step

    {"at": 2.0, "buyer": "sp-alpha", "service": "alpha-uni-2", "component": "",
     "state": "DISABLED", "reason": "loss of signal",
     "alarm": {"id": "los-uni-2", "action": "raised", "alarmType": "communicationsAlarm",
               "perceivedSeverity": "critical", "probableCause": "lossOfSignal",
               "specificProblem": "loss of signal", "details": "...", "service": "..."}}

`at` is in simulated seconds after the simulated clock's origin (the database's first
start, kept across restarts), so `--sim-time-scale 10` plays a step at 20 s after 2 real
seconds. `state` (ENABLED or DISABLED) and `alarm` are each optional; a step reports its
state first, then its alarm (whose `service` and `component` default to the step's). A
flap is a DISABLED step then an ENABLED one. Each report is observed at the step's due
time: after a restart the steps already due are reported again at once, and being no
newer than what was recorded they change nothing (domain/network), so a scenario resumes
where it stood without repeating a change.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2, common_pb2
from interlude_server.core.errors import DomainError
from interlude_server.core.mef import mef_name
from interlude_server.partner.backend import AlarmReport, StateReport
from interlude_server.partner.network.observer import NetworkObserver

Al = alarm_pb2
_log = structlog.get_logger("interlude_server.partner.network")
_STATES = {"ENABLED": common_pb2.OPERATIONAL_STATE_ENABLED, "DISABLED": common_pb2.OPERATIONAL_STATE_DISABLED}
_ALARM_KEYS = {"id", "action", "alarmType", "perceivedSeverity", "probableCause", "specificProblem"}
_ALARM_KEYS |= {"details", "service", "component"}
_STEP_KEYS = {"at", "buyer", "service", "component", "state", "reason", "alarm"}


def _mef_values(enum: Any) -> dict[str, int]:
    return {mef_name(enum, v): int(v) for v in enum.values() if v}


_ENUMS = {
    "alarmType": _mef_values(Al.AlarmType),
    "perceivedSeverity": _mef_values(Al.PerceivedSeverity),
    "probableCause": _mef_values(Al.ProbableCause),
}


@dataclass(frozen=True)
class Step:
    """One timed step: the reports it makes, their observed time still to be set."""

    at: float
    state: StateReport | None
    alarm: AlarmReport | None


def _ts(ns: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(ns)
    return ts


def _alarm(where: str, raw: Any, step: dict[str, Any], problems: list[str]) -> AlarmReport | None:
    if not isinstance(raw, dict) or not raw.get("id"):
        problems.append(f"{where}: an object with the network's alarm `id`")
        return None
    problems += [f"{where}.{k}: not a property of an alarm step" for k in raw if k not in _ALARM_KEYS]
    values = {}
    for key, table in _ENUMS.items():
        given = raw.get(key, "")
        if given and given not in table:
            problems.append(f"{where}.{key}: {given!r} is not one of MEF's values")
        values[key] = table.get(given, 0)
    action = raw.get("action", "raised")
    if action not in ("raised", "changed", "cleared"):
        problems.append(f"{where}.action: must be raised, changed or cleared")
    return AlarmReport(
        buyer_id=str(step.get("buyer", "")),
        alarm_id=str(raw["id"]),
        action=action,
        alarm_type=values["alarmType"],
        perceived_severity=values["perceivedSeverity"],
        probable_cause=values["probableCause"],
        specific_problem=str(raw.get("specificProblem", "")),
        service_id=str(raw.get("service", step.get("service", ""))),
        component_id=str(raw.get("component", step.get("component", ""))),
        details=str(raw.get("details", "")),
        observed_time=_ts(0),
    )


def _step(where: str, raw: Any, problems: list[str]) -> Step | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("at"), int | float) or not raw.get("buyer"):
        problems.append(f"{where}: an object with `at` (seconds) and `buyer`")
        return None
    problems += [f"{where}.{k}: not a property of a step" for k in raw if k not in _STEP_KEYS]
    state = None
    if "state" in raw:
        if raw["state"] not in _STATES or not raw.get("service"):
            problems.append(f"{where}.state: ENABLED or DISABLED, with the step's `service`")
        else:
            state = StateReport(
                str(raw["buyer"]),
                str(raw["service"]),
                str(raw.get("component", "")),
                _STATES[raw["state"]],
                str(raw.get("reason", "")),
                _ts(0),
            )
    alarm = _alarm(f"{where}.alarm", raw["alarm"], raw, problems) if "alarm" in raw else None
    return Step(float(raw["at"]), state, alarm)


def load_scenario(path: Path) -> list[Step]:
    """The steps of a scenario file, by time; ValueError naming every bad entry."""
    data = json.loads(path.read_text())
    raw_steps = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(raw_steps, list):
        raise ValueError(f'{path}: expected {{"steps": [...]}}')
    problems: list[str] = []
    steps = [_step(f"steps[{i}]", raw, problems) for i, raw in enumerate(raw_steps)]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return sorted((s for s in steps if s is not None), key=lambda s: s.at)


class ScenarioPlayer:
    """Plays the steps on the simulated clock (`origin_ns`, `scale`) through the observer."""

    def __init__(self, observer: NetworkObserver, steps: list[Step], origin_ns: int, scale: float) -> None:
        self.observer = observer
        self.steps = steps
        self.origin_ns = origin_ns
        self.scale = scale

    def due_ns(self, step: Step) -> int:
        """The wall-clock time a step is due (its reports' observed time)."""
        return self.origin_ns + int(step.at * 1e9 / self.scale)

    async def run(self) -> None:
        for step in self.steps:
            due = self.due_ns(step)
            wait = (due - time.time_ns()) / 1e9
            if wait > 0:
                await asyncio.sleep(wait)
            await self._play(step, _ts(due))
        _log.info("scenario.finished", steps=len(self.steps))

    async def _play(self, step: Step, observed: timestamp_pb2.Timestamp) -> None:
        try:
            if step.state is not None:
                await self.observer.state_changed(replace(step.state, observed_time=observed))
            if step.alarm is not None:
                await self.observer.alarm(replace(step.alarm, observed_time=observed))
        except DomainError as exc:  # a step naming what does not exist: say so, play on
            _log.warning("scenario.step_refused", at=step.at, error=str(exc))
