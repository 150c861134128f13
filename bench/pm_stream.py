"""Measurement fan-out: 50 concurrent StreamPerformanceData subscribers against raw grpc.aio.

Starts a real `interlude-server` (SQLite file, demo seed, the simulator's PM
engine at a high --sim-time-scale), lets 5 jobs of sp-alpha record about
--batches measurement batches (4 Carrier Ethernet metrics each), suspends them
so the log stands still, then measures **streamed measurements/s**: 50
subscribers each replay every stored batch with STREAM_MODE_ONCE, through the
sync marker. The baseline is bench/raw_stream.py streaming exactly those
responses (captured from our server) to the same 50 subscribers, with the same
subscriber processes (bench.events_fanout). Alternating A/B over rounds; the
ratio of medians is reported. Runs in about a minute.

    .venv/bin/python -m bench.pm_stream [--rounds 3] [--batches 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from bench.events_fanout import _open, replay_rounds
from bench.harness import launch, start_raw, write_results
from bench.raw_stream import write_messages
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2, performance_pb2_grpc

Pm = performance_pb2
STREAM = "/mef.lso.interlude.v1.PerformanceService/StreamPerformanceData"
RESPONSE_TYPE = "mef.lso.interlude.v1.StreamPerformanceDataResponse"
BUYER = "sp-alpha"
SUBSCRIBERS = 50
SERVICES = ("alpha-uni-1", "alpha-uni-2", "alpha-uni-3", "alpha-evc-1", "alpha-ovc-1")
CE_PM = "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-configuration:v0.0.1:all"
MD = (("x-interlude-buyer", BUYER),)


def replay_request() -> bytes:
    everything = common_pb2.TimeRange(after=timestamp_pb2.Timestamp(seconds=1))
    return Pm.StreamPerformanceDataRequest(mode=Pm.STREAM_MODE_ONCE, range=everything).SerializeToString()


def capture(target: str) -> list[bytes]:
    """Every response of one ONCE replay, through the sync marker (the call then ends)."""
    with grpc.insecure_channel(target) as channel:
        return list(_open(channel, STREAM, replay_request(), BUYER))


def record(target: str, batches: int) -> list[str]:
    """Run 5 jobs until about `batches` batches are stored, then suspend them; the job ids."""
    with grpc.insecure_channel(target) as channel:
        stub = performance_pb2_grpc.PerformanceServiceStub(channel)
        profile = Pm.PerformanceProfile(
            lifecycle_status=Pm.PERFORMANCE_PROFILE_LIFECYCLE_STATUS_APPROVED,
            job_type=Pm.PERFORMANCE_JOB_TYPE_PROACTIVE,
            output_format=Pm.PERFORMANCE_OUTPUT_FORMAT_JSON,
            result_format=Pm.PERFORMANCE_RESULT_FORMAT_PAYLOAD,
            granularity=Pm.TimeDuration(value=15, units=Pm.TIME_DURATION_UNITS_MIN),
            reporting_period=Pm.TimeDuration(value=1, units=Pm.TIME_DURATION_UNITS_DAY),
            service_specific_configuration=common_pb2.ExtensionPayload(type=CE_PM),
        )
        made = stub.CreatePerformanceProfile(
            Pm.CreatePerformanceProfileRequest(performance_profile=profile), metadata=MD
        ).performance_profile
        jobs = [
            stub.CreatePerformanceJob(
                Pm.CreatePerformanceJobRequest(
                    performance_job=Pm.PerformanceJob(
                        performance_profile_ref=Pm.PerformanceProfileRef(id=made.id),
                        monitored_object=Pm.MonitoredObjectRef(service=common_pb2.ServiceRef(id=s)),
                    )
                ),
                metadata=MD,
            ).performance_job.id
            for s in SERVICES
        ]
        deadline = time.monotonic() + 60
        while len(capture(target)) - 1 < batches and time.monotonic() < deadline:
            time.sleep(0.5)
        for job_id in jobs:
            stub.SuspendPerformanceJob(Pm.SuspendPerformanceJobRequest(id=job_id), metadata=MD)
    time.sleep(0.5)  # a bin committed just before a suspension lands
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=2000, help="stored batches to replay (about)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pm-") as tmp:
        workdir = Path(tmp)
        server = launch(
            workdir / "server", "--seed", "demo", "--sim-step-delay", "0", "--sim-time-scale", "90000"
        )
        raw = None
        try:
            record(server.target, args.batches)
            replay = capture(server.target)
            per_batch = Pm.StreamPerformanceDataResponse.FromString(replay[0]).update.measurements
            measurements = sum(
                len(Pm.StreamPerformanceDataResponse.FromString(r).update.measurements) for r in replay
            )
            write_messages(workdir / "replay.bin", replay)
            raw = start_raw(workdir, workdir / "replay.bin", RESPONSE_TYPE)
            print(f"replay: {len(replay) - 1} batches ({measurements} measurements) + sync", flush=True)
            rounds = replay_rounds(
                server.target,
                raw,
                len(replay),
                args.rounds,
                "pm replay",
                (STREAM, replay_request(), BUYER),
                SUBSCRIBERS,
            )
        finally:
            if raw is not None:
                raw.stop()
            server.stop()

    per_message = measurements / len(replay)  # the sync marker counts as a message on both sides
    ours = round(rounds["ours_median"] * per_message)
    base = round(rounds["raw_median"] * per_message)
    data: dict[str, Any] = {
        "subscribers": SUBSCRIBERS,
        "mode": "STREAM_MODE_ONCE replay of every stored batch",
        "batches_per_subscriber": len(replay) - 1,
        "measurements_per_batch": len(per_batch),
        "measurements_per_subscriber": measurements,
        "rounds": args.rounds,
        "messages": rounds,
        "ours_measurements_per_s": ours,
        "raw_measurements_per_s": base,
        "ratio": rounds["ratio"],
    }
    rows = [
        [
            f"measurements/s to {SUBSCRIBERS} subscribers (ONCE replay, {len(replay) - 1} batches each)",
            f"{ours:,}",
            f"{base:,} (raw grpc.aio)",
            f"{rounds['ratio']:.2f}",
        ]
    ]
    path = write_results("pm_stream", data, ["measure", "ours", "baseline", "ratio"], rows)
    print(path.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
