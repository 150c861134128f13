"""`make bench`: every workload of the suite, each against its baseline measured in the same run.

Runs, in order, with the sizes of the issue (or tiny ones with --smoke):

1. GetService on a 100k-service inventory vs the raw echo server (bench/unary.py);
2. durable CreateServiceOrder MODIFY, 64 in flight, vs the echo server (the ack path:
   fulfilment held back); then a restart, after which every acknowledged order must be
   there; then one round on the restarted server whose every order is awaited to
   completion (the whole lifecycle);
3. peak RSS of the 100k server (20,000 logged events, its replay tail full) holding 1,000
   idle StreamEvents streams;
4. ListServices page of 100 at 100k vs 1k services (bench/store_paging.py);
5. StreamEvents fan-out to 100 subscribers and commit->delivery latency
   (bench/events_fanout.py);
6. StreamPerformanceData fan-out (bench/pm_stream.py, when present);
7. REST GET /service/{id} vs gRPC GetService (bench/rest_vs_grpc.py);
8. GetService with `--workers 2` vs one process (bench/workers.py).
9. GetService with `--access-log changes` (the default) vs `all`, with the read cache (the
   default) vs `--read-cache 0`, and over every service uncached with the readers mapping the
   file (`--sqlite-mmap-mb`, the default) vs not (bench/knobs.py).

4-8 run as their own modules (each writes its result file); this one gathers
everything into RESULTS/latest.json and the table RESULTS/latest.md.

    .venv/bin/python -m bench.suite [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench import events_fanout, knobs, unary
from bench.harness import (
    RESULTS,
    ROOT,
    ServerProcess,
    compile_sources,
    memory_mib,
    start_echo,
    start_together,
    write_results,
)
from bench.load import ensure_h2load
from bench.store_paging import BUYER as INVENTORY_BUYER
from interlude_grpc.mef.lso.interlude.v1 import events_pb2

STREAM_EVENTS = "/mef.lso.interlude.v1.EventService/StreamEvents"


@dataclass(frozen=True)
class Sizes:
    services: int  # in the GetService / peak RSS inventory
    events: int  # logged in that inventory before its server starts (it reloads the newest)
    buyers: int  # of the modify-order server, two UNIs each
    rounds: int
    seconds: float  # per round
    idle_streams: int
    hold_seconds: float  # how long the idle streams are held before the memory is read
    paging: Sequence[str]  # arguments of bench.store_paging
    fanout: Sequence[str]  # of bench.events_fanout
    rest: Sequence[str]  # of bench.rest_vs_grpc
    pm: Sequence[str] | None  # of bench.pm_stream; None: not run
    workers: Sequence[str]  # of bench.workers
    knobs: Sequence[str]  # of bench.knobs (each knob adds its --knob)


FULL = Sizes(
    services=100_000,
    events=20_000,  # more than the replay tail holds (16,384): a full tail at start
    buyers=100,
    rounds=3,
    seconds=5.0,
    idle_streams=1_000,
    hold_seconds=1.0,
    paging=[],
    fanout=[],
    rest=["--seconds", "5"],
    pm=[],
    workers=[],
    knobs=[],
)
# Every phase still runs for real against its real server and baseline, just small and brief:
# a few calls per round, 64 UNIs (one per caller), 4 subscribers held by a thread rather than
# a process of their own (--processes 0), a few tenths of a second of settling.
SMOKE = Sizes(
    services=500,
    events=50,
    buyers=32,
    rounds=1,
    seconds=0.2,
    idle_streams=20,
    hold_seconds=0.2,
    paging=["--sizes", "600,1200", "--reps", "3", "--rounds", "1"],
    fanout=[
        *("--rounds", "1", "--events", "20", "--seconds", "0.2", "--subscribers", "4", "--buyers", "4"),
        *("--target-events-per-s", "50", "--processes", "0", "--settle-seconds", "0.2"),
        *("--probe-seconds", "0.2", "--latency-rounds", "1"),
    ],
    rest=["--seconds", "0.2", "--rounds", "1", "--concurrency", "4", "--warm-seconds", "0.1"],
    pm=None,
    workers=["--services", "200", "--seconds", "0.2", "--rounds", "1"],
    knobs=["--services", "200", "--seconds", "0.2", "--rounds", "1"],
)


async def _idle_streams(target: str, buyer: str, count: int) -> list[Any]:
    """`count` live StreamEvents streams, each past its sync marker (then idle)."""
    # At most 100 streams per connection (well under the server's --max-concurrent-streams); a
    # local subchannel pool gives each channel a connection of its own instead of sharing one.
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(max(1, -(-count // 100)))
    ]
    request = events_pb2.StreamEventsRequest().SerializeToString()
    calls: list[Any] = []
    for n in range(count):
        stream: Any = channels[n % len(channels)].unary_stream(
            STREAM_EVENTS, request_serializer=None, response_deserializer=None
        )
        calls.append(stream(request, metadata=((unary.BUYER_HEADER, buyer),)))
    await asyncio.gather(*(call.read() for call in calls))  # the sync marker
    return [channels, calls]


def peak_rss(server: ServerProcess, count: int, hold_seconds: float = 1.0) -> dict[str, Any]:
    """The server's resident memory before and while it holds `count` idle streams."""
    before = memory_mib(server.proc.pid)

    async def hold() -> dict[str, float]:
        channels, calls = await _idle_streams(server.target, INVENTORY_BUYER, count)
        await asyncio.sleep(hold_seconds)
        held = memory_mib(server.proc.pid)
        for call in calls:
            call.cancel()
        for channel in channels:
            await channel.close()
        return held

    held = asyncio.run(hold())
    return {
        "idle_streams": count,
        "before_streams_mib": before,
        "with_streams_mib": held,
        "peak_mib": held["VmHWM"],
    }


@dataclass
class Module:
    """A benchmark run as its own process (bench.`name` `args`) and the JSON file it writes."""

    name: str
    args: Sequence[str]
    result: str

    def start(self, fork: bool = False) -> Callable[[], int | None]:
        """Start it; what waits for it and returns its exit code. Alone, it is a fresh
        `python -m bench.NAME` (what the full run measures in); with `fork`, a child of this
        process running the module's main, which costs no interpreter start-up and imports
        (the smoke run: this process has not started a thread or a gRPC channel yet)."""
        print(f"== {self.name} {' '.join(self.args)}", flush=True)
        if fork:
            child = multiprocessing.get_context("fork").Process(target=_run_main, args=(self.name, self.args))
            child.start()

            def joined() -> int | None:
                child.join()
                return child.exitcode

            return joined
        command = [sys.executable, "-m", f"bench.{self.name}", *self.args]
        return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdin=subprocess.DEVNULL).wait

    def collect(self, wait: Callable[[], int | None], started: float) -> dict[str, Any]:
        if (code := wait()) != 0:
            raise RuntimeError(f"bench.{self.name} failed with exit code {code}")
        data: dict[str, Any] = json.loads((RESULTS / self.result).read_text())
        data["suite_seconds"] = round(time.monotonic() - started, 1)
        return data


def _run_main(name: str, args: Sequence[str]) -> None:
    """In a forked child: bench.`name`'s main with `args`; its return value is the exit code."""
    main: Callable[[Sequence[str]], int | None] = importlib.import_module(f"bench.{name}").main
    sys.exit(main(args) or 0)


def run_modules(modules: dict[str, Module], together: bool, meanwhile: Callable[[], None]) -> dict[str, Any]:
    """Run the modules one after the other after `meanwhile()` (measurements: nothing else on
    the machine's two cores), or, `together`, all at once beside it, forked from this process
    (the smoke run only checks that they work, so it need not wait for each)."""
    results: dict[str, Any] = {}
    if together:
        started = time.monotonic()
        waits = {key: module.start(fork=True) for key, module in modules.items()}
        try:
            meanwhile()
        finally:
            for key, module in modules.items():
                results[key] = module.collect(waits[key], started)
        return results
    meanwhile()
    for key, module in modules.items():
        started = time.monotonic()
        results[key] = module.collect(module.start(), started)
    return results


def unary_workloads(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    # the smoke run (in make test) uses h2load if it is there but installs nothing
    h2load_exe = ensure_h2load(install=sizes is FULL)
    print(
        f"== unary workloads; load generator: {'h2load' if h2load_exe else 'python (h2load not available)'}"
    )
    no_unis: list[unary.Uni] = []
    (inventory, _), (orders, unis) = start_together(
        [
            lambda: (unary.inventory_server(workdir / "inventory", sizes.services, sizes.events), no_unis),
            lambda: unary.order_server(workdir / "orders", buyers=sizes.buyers),
        ],
        lambda started: started[0].stop(),
    )
    echo = None
    try:
        get_bytes = unary.call_once(
            inventory.target,
            unary.GET_SERVICE,
            unary.get_service_request(sizes.services),
            INVENTORY_BUYER,
        )
        order_bytes = unary.call_once(
            orders.target, unary.CREATE_ORDER, unary.modify_request(unis[0], 2000), unis[0].buyer
        )
        echo = start_echo(workdir, {unary.GET_SERVICE: get_bytes, unary.CREATE_ORDER: order_bytes})
        print("== GetService", flush=True)
        get = unary.get_service(
            inventory, echo, sizes.services, h2load_exe=h2load_exe, rounds=sizes.rounds, seconds=sizes.seconds
        )
        get["response_bytes"] = len(get_bytes)
        print("== CreateServiceOrder MODIFY", flush=True)
        modify, acked = unary.modify_orders(orders, unis, echo, rounds=sizes.rounds, seconds=sizes.seconds)
        modify["response_bytes"] = len(order_bytes)
        orders, modify["durability"] = unary.acks_after_restart(orders, acked)
        print(f"   acks after restart: {modify['durability']}", flush=True)
        print("== order lifecycle (ack through completion)", flush=True)
        modify["lifecycle"] = unary.lifecycle(
            orders, unis, seconds=sizes.seconds, ack_cpu_us=modify["median"]["ours"]["cpu_us_per_call"]
        )
        print("== peak RSS", flush=True)
        rss = peak_rss(inventory, sizes.idle_streams, sizes.hold_seconds)
        rss["services"] = sizes.services
        rss["logged_events"] = sizes.events
    finally:
        for process in (echo, orders, inventory):
            if process is not None:
                process.stop()
    return {"get_service": get, "modify_orders": modify, "peak_rss": rss}


def _figures(side: dict[str, float]) -> str:
    return (
        f"{side['calls_per_s']:,.0f}/s, p50 {side['p50_ms']} ms, p99 {side['p99_ms']} ms, "
        f"{side['cpu_us_per_call']:.0f} µs CPU/call"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def table(r: dict[str, Any]) -> list[list[str]]:
    """One row per workload: what we did, the baseline, the ratio, the goal, met or not."""
    rows = []
    get = r["get_service"]
    ours, echo = get["median"]["ours"], get["median"]["echo"]
    rows.append([
        f"GetService, {get['services']:,} services ({get['generator']})",
        _figures(ours),
        "echo " + _figures(echo),
        f"{get['ratio_calls_per_s']:.2f}x calls/s, {get['ratio_cpu_us_per_call']:.2f}x CPU",
        "≥ 0.75x calls/s, ≤ 1.35x CPU",
        _met(get["ratio_calls_per_s"] >= 0.75 and get["ratio_cpu_us_per_call"] <= 1.35),
    ])  # fmt: skip
    mod = r["modify_orders"]
    ours, echo = mod["median"]["ours"], mod["median"]["echo"]
    durable = mod["durability"]
    all_there = durable["found_after_restart"] == durable["acked"]
    rows.append([
        f"CreateServiceOrder MODIFY, ack path, {mod['concurrency']} in flight ({mod['generator']})",
        _figures(ours) + f"; {durable['found_after_restart']}/{durable['acked']} acks found after restart",
        f"echo {echo['calls_per_s']:,.0f}/s, {echo['cpu_us_per_call']:.0f} µs CPU",
        f"{mod['ratio_calls_per_s']:.2f}x calls/s",
        "≥ 0.25x calls/s, every ack committed",
        _met(mod["ratio_calls_per_s"] >= 0.25 and all_there),
    ])  # fmt: skip
    life = mod["lifecycle"]
    completed_ratio = life["completed_per_s"] / echo["calls_per_s"]
    rows.append([
        "CreateServiceOrder MODIFY, whole lifecycle (ack through completion, every order awaited)",
        f"{life['completed_per_s']:,.0f} completed/s, {life['cpu_us_per_order']:.0f} µs CPU/order "
        f"(ack path {life.get('ack_cpu_us_per_order', 0):.0f}, "
        f"fulfilment {life.get('fulfilment_cpu_us_per_order', 0):.0f})",
        f"echo {echo['calls_per_s']:,.0f}/s",
        f"{completed_ratio:.2f}x calls/s",
        "≤ 1,000 µs CPU/order",
        _met(life["cpu_us_per_order"] <= 1000),
    ])  # fmt: skip
    paging = r["list_services_paging"]["results"]
    worst = max(paging, key=lambda k: paging[k]["ratio"])
    rows.append([
        "ListServices page of 100, large vs small inventory (store)",
        f"worst: {worst} {paging[worst]['ratio']:.2f}",
        "the same read at the small size",
        f"{paging[worst]['ratio']:.2f}",
        "≤ 1.2",
        _met(paging[worst]["ratio"] <= 1.2),
    ])  # fmt: skip
    fan = r["stream_events_fanout"]
    for key, label in (
        ("recent_position", "a recent position"),
        *((key, label) for key, label, _ in events_fanout.RESTARTED),
    ):
        replay = fan["replay"][key]
        goal = 0.8 if key == "from_database" else 0.7  # F17 raised the database replay's
        rows.append([
            f"StreamEvents, {fan['replay']['subscribers']} subscribers replaying {label}",
            f"{replay['ours_median']:,} msgs/s",
            f"raw aio {replay['raw_median']:,} msgs/s",
            f"{replay['ratio']:.2f}",
            f"≥ {goal}",
            _met(replay["ratio"] >= goal),
        ])  # fmt: skip
    lat = fan["latency_100_tenants"]
    rows.append([
        f"StreamEvents commit→delivery, {lat['subscribers']} tenants, {lat['deliveries_per_s']:,} events/s",
        events_fanout.latency_figures(lat),
        "",
        "",
        "p99 ≤ 50 ms",
        _met(lat["p99_ms"] <= 50),
    ])  # fmt: skip
    pm = r.get("stream_performance_data")
    if pm is None:
        rows.append(
            [
                "StreamPerformanceData, 50 subscribers",
                "not run (bench/pm_stream.py absent or smoke)",
                "",
                "",
                "≥ 0.7",
                "—",
            ]
        )
    else:
        rows.append(
            [
                "StreamPerformanceData, 50 subscribers (ONCE replay)",
                f"{pm['ours_measurements_per_s']:,.0f} measurements/s",
                f"raw {pm['raw_measurements_per_s']:,.0f}/s",
                f"{pm['ratio']:.2f}",
                "≥ 0.7",
                _met(pm["ratio"] >= 0.7),
            ]
        )
    rest = r["rest_vs_grpc"]
    rows.append([
        "REST GET /service/{id} in-process vs gRPC GetService",
        f"{rest['median_calls_per_s']['rest']:,.0f}/s",
        f"gRPC {rest['median_calls_per_s']['grpc']:,.0f}/s",
        f"{rest['ratio_rest_over_grpc']:.2f}",
        "≥ 1.0",
        _met(rest["ratio_rest_over_grpc"] >= 1.0),
    ])  # fmt: skip
    workers = r["workers"]
    many, one = (workers["median"][name] for name in (f"{workers['workers']} workers", "1 process"))
    rows.append([
        f"GetService, --workers {workers['workers']} vs 1 process ({workers['generator']})",
        f"{many['calls_per_s']:,.0f}/s, {many['cpu_us_per_call']:.0f} µs CPU/call",
        f"1 process {one['calls_per_s']:,.0f}/s, {one['cpu_us_per_call']:.0f} µs CPU/call",
        f"{workers['ratio_calls_per_s']:.2f}x calls/s, {workers['ratio_cpu_us_per_call']:.2f}x CPU/call",
        "≥ 1.6x calls/s, ≤ 1.1x CPU/call",
        _met(workers["ratio_calls_per_s"] >= 1.6 and workers["ratio_cpu_us_per_call"] <= 1.1),
    ])  # fmt: skip
    for key, (default, other) in (
        ("access_log", ("changes", "all")),
        ("read_cache", ("on", "off")),
        ("sqlite_mmap", ("mapped", "unmapped")),
    ):
        knob = r[key]
        rows.append([
            f"GetService, {knobs.KNOBS[key.replace('_', '-')].title} ({knob['generator']})",
            f"{knob['median'][default]['calls_per_s']:,.0f}/s, "
            f"{knob['median'][default]['cpu_us_per_call']:.0f} µs CPU/call",
            f"{other} {knob['median'][other]['calls_per_s']:,.0f}/s, "
            f"{knob['median'][other]['cpu_us_per_call']:.0f} µs CPU/call",
            f"{knob['ratio_calls_per_s']:.2f}x calls/s, {knob['ratio_cpu_us_per_call']:.2f}x CPU",
            "reported",
            "",
        ])  # fmt: skip
    rss = r["peak_rss"]
    rows.append([
        f"peak RSS, {rss['services']:,} services, {rss['logged_events']:,} logged events "
        f"(replay tail reloaded), {rss['idle_streams']:,} idle streams",
        f"{rss['peak_mib']} MiB (VmHWM); VmRSS {rss['before_streams_mib']['VmRSS']} MiB before the streams, "
        f"{rss['with_streams_mib']['VmRSS']} MiB with them",
        "",
        "",
        "≤ 500 MiB",
        _met(rss["peak_mib"] <= 500),
    ])  # fmt: skip
    return rows


README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- latest:begin", "<!-- latest:end -->"


def show_in_readme(table_md: str, data: dict[str, Any]) -> None:
    """Put the table of a full run between the markers of bench/README.md."""
    text = README.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        print(f"{README}: no table markers; table not copied")
        return
    begin_line = text[start : text.index("\n", start) + 1]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = f"{begin_line}{table_md}\nFull run of {data['seconds']:.0f} s, {when}.\n"
    README.write_text(text[:start] + block + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness, not the server")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    started = time.monotonic()
    compile_sources()
    modules = {
        "list_services_paging": Module("store_paging", sizes.paging, "store_paging.json"),
        "stream_events_fanout": Module("events_fanout", sizes.fanout, "events_fanout.json"),
        "rest_vs_grpc": Module("rest_vs_grpc", sizes.rest, "rest_vs_grpc.json"),
        "workers": Module("workers", sizes.workers, "workers.json"),
        "access_log": Module("knobs", [*sizes.knobs, "--knob", "access-log"], "access_log.json"),
        "read_cache": Module("knobs", [*sizes.knobs, "--knob", "read-cache"], "read_cache.json"),
        "sqlite_mmap": Module("knobs", [*sizes.knobs, "--knob", "sqlite-mmap"], "sqlite_mmap.json"),
    }
    if sizes.pm is not None and importlib.util.find_spec("bench.pm_stream") is not None:
        modules["stream_performance_data"] = Module("pm_stream", sizes.pm, "pm_stream.json")
    results: dict[str, Any] = {}

    def unary_part() -> None:
        with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
            results.update(unary_workloads(Path(tmp), sizes))

    results.update(run_modules(modules, args.smoke, unary_part))
    data = {
        "mode": "smoke" if args.smoke else "full",
        "seconds": round(time.monotonic() - started, 1),
        **results,
    }
    path = write_results(
        "latest", data, ["workload", "ours", "baseline", "ratio", "goal", ""], table(results)
    )
    table_md = path.with_suffix(".md").read_text()
    if not args.smoke:
        show_in_readme(table_md, data)
    print(table_md)
    print(f"suite took {data['seconds']} s; results in {path}")


if __name__ == "__main__":
    main()
