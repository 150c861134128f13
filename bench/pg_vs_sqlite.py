"""PostgreSQL vs SQLite for the durable-order workload, as ratios measured in one run.

Two servers, each seeded with the same 100 buyers x 2 UNIs: one on a SQLite file, one on a
database of a PostgreSQL server with fsync on (a private cluster started from the Debian
binaries, or INTERLUDE_TEST_PG_DSN). The durable MODIFY-order load of bench/unary.py runs
against each, alternating which goes first (ABBA...); then both are restarted and every
acknowledged order must be readable. The ratio is PostgreSQL / SQLite. The server CPU per
call counts the interlude-server process only, not PostgreSQL's own processes.

    .venv/bin/python -m bench.pg_vs_sqlite [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench import unary
from bench.harness import ServerProcess, write_results
from bench.load import LoadResult, Metadata, python_load
from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from tests.support.pg_cluster import provide


def _requests(uni: unary.Uni) -> list[tuple[bytes, Metadata]]:
    """The UNI's MODIFY orders, one per frame size, built ahead so building costs no client time."""
    return [(unary.modify_request(uni, f), ((unary.BUYER_HEADER, uni.buyer),)) for f in unary.FRAME_SIZES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one round per side")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (ABBA order)")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop callers")
    args = parser.parse_args()
    pg = provide(durable=True)
    servers: dict[str, ServerProcess] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
            dbs = {"sqlite": None, "postgresql": pg.create_database("bench")}
            unis: dict[str, list[unary.Uni]] = {}
            for name, db in dbs.items():
                servers[name], unis[name] = unary.order_server(Path(tmp) / name, db=db)
            acked: dict[str, dict[str, str]] = {name: {} for name in dbs}
            calls = {name: [_requests(u) for u in mine] for name, mine in unis.items()}

            def run(side: unary.Side) -> LoadResult:
                mine, built = unis[side.name], calls[side.name]

                def request(n: int) -> tuple[bytes, Metadata]:
                    return built[n % len(mine)][(n // len(mine)) % 2]

                def on_ok(n: int, response: bytes) -> None:
                    order_id = ordering_pb2.CreateServiceOrderResponse.FromString(response).service_order.id
                    acked[side.name][order_id] = mine[n % len(mine)].buyer

                return python_load(
                    side.target,
                    unary.CREATE_ORDER,
                    request,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                    on_ok=on_ok,
                )

            sides = tuple(unary.Side(name, s.target, s.proc.pid) for name, s in servers.items())
            assert len(sides) == 2
            result: dict[str, Any] = unary.alternate((sides[0], sides[1]), args.rounds, run)
            durability = {}
            for name, db in dbs.items():
                servers[name], durability[name] = unary.acks_after_restart(servers[name], acked[name], db)
    finally:
        for server in servers.values():
            server.stop()
        pg.stop()
    data = {
        "concurrency": args.concurrency,
        "seconds_per_round": args.seconds,
        **result,
        "durability": durability,
    }
    sqlite, postgres = result["median"]["sqlite"], result["median"]["postgresql"]
    rows = [
        [
            f"CreateServiceOrder MODIFY, {args.concurrency} in flight",
            f"{postgres['calls_per_s']:,.0f}/s, p50 {postgres['p50_ms']} ms, p99 {postgres['p99_ms']} ms",
            f"{sqlite['calls_per_s']:,.0f}/s, p50 {sqlite['p50_ms']} ms, p99 {sqlite['p99_ms']} ms",
            f"{result['ratio_calls_per_s']:.2f}x calls/s, {result['ratio_cpu_us_per_call']:.2f}x server CPU",
            ", ".join(f"{k}: {v['found_after_restart']}/{v['acked']}" for k, v in durability.items()),
        ]
    ]
    path = write_results(
        "pg_vs_sqlite", data, ["workload", "PostgreSQL", "SQLite", "ratio", "acks found after restart"], rows
    )
    print(path.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
