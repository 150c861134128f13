"""What a run of each test type measures, step by step, and how a run gets its verdict.

A plan is a list of steps derived from the resolved configuration; each step
names the metrics it measures, their nominal values and thresholds. Values are
drawn from a random generator seeded by (seed, test type, configuration, run,
step), so the same test with the same seed measures the same values on every
server and every run of the server. The simulator (partner/) executes the plan
and may inject faults; the verdict logic here is the same for any backend.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.domain.sft.catalog import Resolved

St = service_test_pb2
AT_MOST = St.TEST_THRESHOLD_COMPARISON_AT_MOST
AT_LEAST = St.TEST_THRESHOLD_COMPARISON_AT_LEAST
FROM_TO = St.TEST_DIRECTION_FROM_TO
TO_FROM = St.TEST_DIRECTION_TO_FROM
ROUND_TRIP = St.TEST_DIRECTION_ROUND_TRIP
_MEF_VERDICT: dict[int, str] = {
    St.TEST_VERDICT_PASS: "pass",
    St.TEST_VERDICT_FAIL: "fail",
    St.TEST_VERDICT_INCONCLUSIVE: "inconclusive",
    St.TEST_VERDICT_ERROR: "error",
}


@dataclass(frozen=True)
class Metric:
    """A metric a step measures: nominal value, relative spread, and the threshold if any."""

    name: str
    unit: str
    nominal: float
    spread: float = 0.3
    direction: int = St.TEST_DIRECTION_UNSPECIFIED
    threshold: tuple[float, int] | None = None  # (value, comparison)
    # Below-only spread (information rate and throughput never exceed what was offered).
    below_only: bool = False


@dataclass(frozen=True)
class Step:
    """One step or phase of a run."""

    name: str
    metrics: tuple[Metric, ...]
    details: dict[str, Any] = field(default_factory=dict)
    cos_name: str = ""


def _ms(v: Any) -> float:
    return float(v)


def _ethernet_sat(v: dict[str, Any]) -> list[Step]:
    cir, eir, cos = float(v["cir"]), float(v["eir"]), str(v["cosName"])
    delay = (
        Metric("frameDelay", "ms", 1.5, direction=FROM_TO, threshold=(_ms(v["frameDelay"]), AT_MOST)),
        Metric(
            "frameDelayVariation",
            "ms",
            0.3,
            0.5,
            FROM_TO,
            threshold=(_ms(v["frameDelayVariation"]), AT_MOST),
        ),
        Metric("frameLossRatio", "%", 0.0, 0.0, FROM_TO, threshold=(float(v["frameLossRatio"]), AT_MOST)),
    )

    def rate(target: float, floor: float) -> Metric:
        return Metric("informationRate", "Mbps", target, 0.004, FROM_TO, (floor, AT_LEAST), below_only=True)

    steps = [
        Step(f"cir-step-{i}", (rate(cir * pct / 100, 0.99 * cir * pct / 100), *delay), cos_name=cos)
        for i, pct in enumerate(v["cirSteps"], start=1)
    ]
    if eir > 0:
        steps.append(Step("eir-step", (rate(cir + eir, 0.99 * cir), *delay[:2]), cos_name=cos))
    steps.append(Step("performance-phase", (rate(cir, 0.99 * cir), *delay), cos_name=cos))
    return steps


def _throughput(v: dict[str, Any]) -> list[Step]:
    top = float(v["maxRate"])
    floor = top * float(v["minThroughputRatio"]) / 100
    return [
        Step(
            f"frame-size-{int(size)}",
            (
                Metric("throughput", "Mbps", top, 0.01, FROM_TO, (floor, AT_LEAST), below_only=True),
                Metric("latency", "us", 20 + int(size) * 0.012, 0.2, ROUND_TRIP),
                Metric("frameLossRatio", "%", 0.0, 0.0, FROM_TO, (float(v["frameLossRatio"]), AT_MOST)),
            ),
        )
        for size in v["frameSizes"]
    ]


def _link_trace(v: dict[str, Any], rng: random.Random) -> list[Step]:
    hops = min(2 + rng.randrange(3), int(v["ttl"]))
    limit = (float(v["maxResponseTime"]), AT_MOST)
    steps = []
    for hop in range(1, hops + 1):
        last = hop == hops
        metrics: tuple[Metric, ...] = (Metric("responseTime", "ms", 0.3 * hop, 0.3, ROUND_TRIP, limit),)
        if last:
            metrics += (Metric("targetReached", "1", 1.0, 0.0, threshold=(1.0, AT_LEAST)),)
        details = {
            "macAddress": f"02:00:5e:{rng.randrange(256):02x}:{rng.randrange(256):02x}:{hop:02x}",
            "relayAction": "RlyHit" if last else "RlyFDB",
            "ttl": int(v["ttl"]) - hop,
        }
        steps.append(Step(f"hop-{hop}", metrics, details))
    return steps


def _traceroute(v: dict[str, Any], rng: random.Random) -> list[Step]:
    hops = min(3 + rng.randrange(4), int(v["maxHops"]))
    limit = (float(v["maxRoundTripTime"]), AT_MOST)
    steps = []
    for hop in range(1, hops + 1):
        metrics: tuple[Metric, ...] = (Metric("roundTripTime", "ms", 2.0 * hop, 0.3, ROUND_TRIP, limit),)
        if hop == hops:
            metrics += (Metric("targetReached", "1", 1.0, 0.0, threshold=(1.0, AT_LEAST)),)
        details = {
            "address": f"192.0.2.{rng.randrange(1, 255)}",
            "ttl": hop,
            "probes": int(v["probesPerHop"]),
        }
        steps.append(Step(f"hop-{hop}", metrics, details))
    return steps


def plan(resolved: Resolved, seed: int, run_number: int) -> list[Step]:
    """The steps of one run of a resolved configuration."""
    v = resolved.values
    t = resolved.capability.test_type
    if t == St.TEST_TYPE_ETHERNET_LOOPBACK:
        limit = (float(v["maxRoundTripTime"]), AT_MOST)
        metric = Metric("roundTripTime", "ms", 0.4 + int(v["frameSize"]) / 20000, 0.3, ROUND_TRIP, limit)
        return [
            Step(f"lbm-{i}", (metric,), cos_name=str(v["cosName"])) for i in range(1, int(v["count"]) + 1)
        ]
    if t == St.TEST_TYPE_ETHERNET_LINK_TRACE:
        return _link_trace(v, _rng(seed, resolved, run_number, 0))
    if t == St.TEST_TYPE_Y1564_SERVICE_ACTIVATION:
        return _ethernet_sat(v)
    if t == St.TEST_TYPE_RFC2544_THROUGHPUT:
        return _throughput(v)
    if t == St.TEST_TYPE_IP_TWAMP:
        metrics = (
            Metric("oneWayDelay", "ms", 4.0, 0.25, FROM_TO, (float(v["maxOneWayDelay"]), AT_MOST)),
            Metric("oneWayDelay", "ms", 4.2, 0.25, TO_FROM, (float(v["maxOneWayDelay"]), AT_MOST)),
            Metric("delayVariation", "ms", 0.5, 0.5, ROUND_TRIP, (float(v["maxDelayVariation"]), AT_MOST)),
            Metric("packetLossRatio", "%", 0.0, 0.0, ROUND_TRIP, (float(v["maxPacketLossRatio"]), AT_MOST)),
        )
        return [Step(f"interval-{i}", metrics) for i in range(1, int(v["intervals"]) + 1)]
    if t == St.TEST_TYPE_IP_PING:
        metric = Metric("roundTripTime", "ms", 8.0, 0.3, ROUND_TRIP, (float(v["maxRoundTripTime"]), AT_MOST))
        return [Step(f"echo-{i}", (metric,)) for i in range(1, int(v["count"]) + 1)]
    if t == St.TEST_TYPE_IP_TRACEROUTE:
        return _traceroute(v, _rng(seed, resolved, run_number, 0))
    raise ValueError(f"no plan for test type {t}")


def _rng(seed: int, resolved: Resolved, run_number: int, step_index: int) -> random.Random:
    config = json.dumps(resolved.values, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(config.encode()).hexdigest()[:16]
    return random.Random(f"{seed}:{resolved.capability.name}:{digest}:{run_number}:{step_index}")


def _value(metric: Metric, rng: random.Random) -> float:
    if metric.below_only:
        return round(metric.nominal * (1 - rng.uniform(0, metric.spread)), 6)
    return round(max(0.0, metric.nominal * (1 + rng.uniform(-metric.spread, metric.spread))), 6)


def passes(value: float, threshold: tuple[float, int]) -> bool:
    limit, comparison = threshold
    return value <= limit if comparison == AT_MOST else value >= limit


def breaching_value(metric: Metric) -> float:
    """A value that misses the metric's threshold (fault injection without an explicit value)."""
    if metric.threshold is None:
        return metric.nominal * 10
    limit, comparison = metric.threshold
    return round(limit * 2 + 1, 6) if comparison == AT_MOST else round(limit * 0.5, 6)


def measurement(
    metric: Metric,
    value: float,
    step: Step,
    run_number: int,
    sequence: int,
    at: timestamp_pb2.Timestamp,
) -> service_test_pb2.TestMeasurement:
    """One measured value with its threshold and verdict."""
    out = St.TestMeasurement(
        run_number=run_number,
        sequence_number=sequence,
        step_name=step.name,
        metric_name=metric.name,
        value=value,
        unit=metric.unit,
        measure_time=at,
        direction=metric.direction,  # type: ignore[arg-type]
        cos_name=step.cos_name,
    )
    if metric.threshold is not None:
        out.threshold.value, out.threshold.comparison = metric.threshold  # type: ignore[assignment]
        out.verdict = St.TEST_VERDICT_PASS if passes(value, metric.threshold) else St.TEST_VERDICT_FAIL
    if step.details:
        details = struct_pb2.Struct()
        details.update(step.details)
        out.details.CopyFrom(details)
    return out


def measure(
    resolved: Resolved, seed: int, run_number: int, step_index: int, step: Step
) -> list[tuple[Metric, float]]:
    """The values the simulated test heads measure in a step (deterministic per seed)."""
    rng = _rng(seed, resolved, run_number, step_index + 1)
    return [(metric, _value(metric, rng)) for metric in step.metrics]


def _stat(group: Sequence[service_test_pb2.TestMeasurement]) -> service_test_pb2.TestStatistic:
    first = group[0]
    values = [m.value for m in group]
    avg = sum(values) / len(values)
    verdicts = {m.verdict for m in group}
    stat = St.TestStatistic(
        step_name=first.step_name,
        metric_name=first.metric_name,
        unit=first.unit,
        direction=first.direction,
        cos_name=first.cos_name,
        min=min(values),
        max=max(values),
        avg=round(avg, 6),
        stddev=round(math.sqrt(sum((x - avg) ** 2 for x in values) / len(values)), 6),
        count=len(values),
    )
    if first.HasField("threshold"):
        stat.threshold.CopyFrom(first.threshold)
        stat.verdict = St.TEST_VERDICT_FAIL if St.TEST_VERDICT_FAIL in verdicts else St.TEST_VERDICT_PASS
    return stat


def _describe_failure(m: service_test_pb2.TestMeasurement) -> str:
    word = "above" if m.threshold.comparison == AT_MOST else "below"
    return (
        f"{m.step_name}: {m.metric_name} {m.value:g} {m.unit} is {word} the threshold {m.threshold.value:g}"
    )


@dataclass(frozen=True)
class RunEnd:
    """How a run ended when it did not simply finish its plan."""

    verdict: int  # INCONCLUSIVE or ERROR
    reason: str
    error_code: str = ""


def summarize(
    result_id: str,
    run_number: int,
    measurements: Sequence[service_test_pb2.TestMeasurement],
    planned_steps: int,
    end: RunEnd | None = None,
) -> service_test_pb2.TestSummary:
    """The verdict and statistics of a run from its measurements."""
    groups: dict[tuple[str, str, int, str], list[service_test_pb2.TestMeasurement]] = {}
    for m in measurements:
        groups.setdefault((m.step_name, m.metric_name, m.direction, m.cos_name), []).append(m)
    failures = [_describe_failure(m) for m in measurements if m.verdict == St.TEST_VERDICT_FAIL]
    summary = St.TestSummary(
        test_result_id=result_id,
        run_number=run_number,
        statistics=[_stat(group) for group in groups.values()],
    )
    if end is not None and end.verdict == St.TEST_VERDICT_ERROR:
        summary.verdict, summary.reason, summary.error_code = end.verdict, end.reason, end.error_code  # type: ignore[assignment]
    elif failures:
        summary.verdict = St.TEST_VERDICT_FAIL
        shown = "; ".join(failures[:5])
        summary.reason = shown + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
    elif end is not None:
        summary.verdict, summary.reason = end.verdict, end.reason  # type: ignore[assignment]
    else:
        summary.verdict = St.TEST_VERDICT_PASS
        summary.reason = f"all {planned_steps} steps met their thresholds"
    return summary


def result_document(resolved: Resolved, summary: service_test_pb2.TestSummary) -> dict[str, Any]:
    """The attributes of the result's service-specific document (schema `result_type`)."""
    rank: dict[int, int] = {St.TEST_VERDICT_UNSPECIFIED: 0, St.TEST_VERDICT_PASS: 1, St.TEST_VERDICT_FAIL: 2}
    worst: dict[str, int] = {}
    for stat in summary.statistics:
        now = worst.get(stat.step_name, St.TEST_VERDICT_UNSPECIFIED)
        worst[stat.step_name] = max(now, stat.verdict, key=lambda v: rank.get(v, 0))
    steps = {name: _MEF_VERDICT.get(v, "informative") for name, v in worst.items()}
    return {
        "verdict": _MEF_VERDICT[summary.verdict],
        "reason": summary.reason,
        "parameters": resolved.values,
        "steps": [{"name": name, "verdict": verdict} for name, verdict in steps.items()],
    }
