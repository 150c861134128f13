"""Does a page cost the same from a 100k-service inventory as from a 1k one?

Builds two SQLite stores for one buyer (1,000 and 100,000 services with 0.5-1 KB
configuration documents), then times the same kinds of reads on both,
interleaved A/B so that machine noise hits both sizes alike:

- `middle_page`: a page of 100 from the middle of the inventory by keyset
  (default order, the page token of the previous page);
- `middle_page_by_type`: the same, filtered by configuration `@type`;
- `middle_page_by_update_time_desc`: the same position, newest first;
- `first_page_with_total_by_state`: the first page filtered by state, with its total.

Writes bench/results/store_paging.json with the median milliseconds per read for
each size and the ratio 100k/1k (the goal is <= 1.2).

    .venv/bin/python -m bench.store_paging [--reps 300] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import timestamp_pb2

from bench.harness import RESULTS as HARNESS_RESULTS
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.store import ServiceQuery
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore

BUYER = "buyer-bench"
SIZES = (1_000, 100_000)
PAGE = 100
BATCH = 2_000
UNI = "urn:mef:lso:spec:legato:carrier-ethernet-operator-uni:v1.0.0:all"
OVC_EP = "urn:mef:lso:spec:legato:carrier-ethernet-ovc-endpoint:v1.0.0:all"
OVC = "urn:mef:lso:spec:legato:carrier-ethernet-ovc:v1.0.0:all"
RESULTS = HARNESS_RESULTS / "store_paging.json"


def _ts(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def make_service(i: int, rnd: random.Random) -> inventory_pb2.Service:
    """A service like the demo inventory's: a UNI, an OVC end point or an OVC."""
    kind = rnd.choices((UNI, OVC_EP, OVC), weights=(3, 5, 2))[0]
    state = rnd.choices(
        (
            common_pb2.SERVICE_STATE_ACTIVE,
            common_pb2.SERVICE_STATE_INACTIVE,
            common_pb2.SERVICE_STATE_RESERVED,
        ),
        weights=(7, 2, 1),
    )[0]
    sid = f"svc-{i:07d}"
    s = inventory_pb2.Service(
        id=sid,
        buyer_id=BUYER,
        state=state,
        administrative_state=common_pb2.ADMINISTRATIVE_STATE_UNLOCKED,
        operational_state=common_pb2.OPERATIONAL_STATE_ENABLED,
        service_type="carrierEthernet",
        description=f"Service {i} at site {rnd.randrange(5000)}",
        external_id=f"sp-{i:08d}",
        etag=f"{rnd.getrandbits(64):016x}",
        service_date=_ts(1_600_000_000 + i * 60),
        start_date=_ts(1_600_000_000 + i * 60 + 3600),
        update_time=_ts(1_700_000_000 + rnd.randrange(10_000_000)),
        service_configuration=common_pb2.ExtensionPayload(type=kind),
    )
    s.service_configuration.attributes.update(
        {
            "maxServiceFrameSize": 9600,
            "physicalLayer": ["1000BASE_LX", "10GBASE_LR"][: 1 + i % 2],
            "synchronousEthernetEnabled": False,
            "linkAggregation": "NONE",
            "uniLinks": [
                {
                    "id": f"link-{i}-{n}",
                    "physicalLayer": "10GBASE_LR",
                    "connectorType": "LC",
                    "uniLinkAvailability": {"status": "AVAILABLE"},
                    "installLocation": {"geographicSiteId": f"site-{rnd.randrange(5000)}"},
                }
                for n in range(1)
            ],
            "ceVlanMap": {"type": "VLAN_LIST", "vlans": [rnd.randrange(1, 4095) for _ in range(8)]},
            "ingressBandwidthProfilePerEvc": {
                "cir": {"irValue": rnd.choice([10, 50, 100, 500, 1000]), "irUnits": "MBPS"},
                "cbs": {"dataSizeValue": 12, "dataSizeUnits": "KBYTES"},
                "eir": {"irValue": 0, "irUnits": "MBPS"},
                "ebs": {"dataSizeValue": 0, "dataSizeUnits": "KBYTES"},
                "colorMode": {"value": "COLOR_BLIND"},
                "couplingFlag": False,
            },
            "l2cpAddressSet": {"bridgedAddresses": "CTB"},
            "tagging": {"sVlanId": rnd.randrange(1, 4095), "cVlanIds": "all-to-one"},
        }
    )
    s.related_contact_information.add(name="NOC", role="technicalContact", email_address="noc@example.net")
    s.service_order_item.add(service_order_id=f"ord-{i // 3:07d}", item_id=str(i % 3 + 1))
    return s


async def build(path: Path, n: int) -> tuple[SqliteStore, float, int]:
    """An open store holding `n` services; the build time and a typical configuration size."""
    rnd = random.Random(n)
    store = SqliteStore(path)
    await store.open()
    started = time.perf_counter()
    sizes: list[int] = []  # of the configuration document
    for start in range(0, n, BATCH):
        batch = [make_service(i, rnd) for i in range(start, min(n, start + BATCH))]
        sizes.append(batch[0].service_configuration.ByteSize())

        def put(tx: SqlTx, batch: list[inventory_pb2.Service] = batch) -> None:
            for s in batch:
                tx.put_service(s)

        await store.write(put)
    return store, time.perf_counter() - started, int(statistics.median(sizes))


def middle_key(store: SqliteStore, n: int, order_by: str, query_filter: str = "") -> tuple[str, ...]:
    """The keyset position of the page in the middle (what the page token would carry)."""
    index = (n // 2 // PAGE) * PAGE - 1
    with sqlite3.connect(store.path) as conn:
        if order_by == "update_time desc":
            row = conn.execute(
                "SELECT update_time, id FROM services WHERE buyer_id = ? "
                "ORDER BY update_time DESC, id DESC LIMIT 1 OFFSET ?",
                (BUYER, index),
            ).fetchone()
            return (row[0], row[1])
        if query_filter:
            row = conn.execute(
                "SELECT id FROM services WHERE buyer_id = ? AND config_type = ? ORDER BY id LIMIT 1 OFFSET ?",
                (BUYER, query_filter, index // 2),
            ).fetchone()
            return (row[0],)
    return (f"svc-{index:07d}",)


Read = Callable[[], Awaitable[Any]]


def reads(store: SqliteStore, n: int) -> dict[str, Read]:
    by_type = ServiceQuery(filter=inventory_pb2.ServiceFilter(service_configuration_type=[OVC_EP]))
    by_state = ServiceQuery(filter=inventory_pb2.ServiceFilter(state=[common_pb2.SERVICE_STATE_ACTIVE]))
    newest = ServiceQuery(order_by="update_time desc")
    keys = {
        "middle_page": middle_key(store, n, ""),
        "middle_page_by_type": middle_key(store, n, "", OVC_EP),
        "middle_page_by_update_time_desc": middle_key(store, n, "update_time desc"),
    }

    async def check(query: ServiceQuery, page: PageRequest) -> None:
        got = await store.list_services(BUYER, query, page)
        assert len(got.items) == PAGE, "the bench must read full pages"

    return {
        "middle_page": lambda: check(ServiceQuery(), PageRequest(PAGE, keys["middle_page"])),
        "middle_page_by_type": lambda: check(by_type, PageRequest(PAGE, keys["middle_page_by_type"])),
        "middle_page_by_update_time_desc": lambda: check(
            newest, PageRequest(PAGE, keys["middle_page_by_update_time_desc"])
        ),
        "first_page_with_total_by_state": lambda: check(by_state, PageRequest(PAGE)),
    }


async def timed(read: Read) -> float:
    started = time.perf_counter()
    await read()
    return (time.perf_counter() - started) * 1000


async def run(workdir: Path, reps: int, rounds: int, sizes: tuple[int, int] = SIZES) -> dict[str, Any]:
    small_n, large_n = sizes
    small, small_build, body = await build(workdir / "small.db", small_n)
    large, large_build, _ = await build(workdir / "large.db", large_n)
    try:
        small_reads, large_reads = reads(small, small_n), reads(large, large_n)
        samples: dict[str, dict[int, list[float]]] = {k: {small_n: [], large_n: []} for k in small_reads}
        for name in small_reads:  # warm both caches the same way
            for _ in range(20):
                await small_reads[name]()
                await large_reads[name]()
        per_round: dict[str, list[float]] = {k: [] for k in small_reads}
        for _ in range(rounds):
            for name in small_reads:
                a, b = [], []
                for _ in range(reps):
                    a.append(await timed(small_reads[name]))
                    b.append(await timed(large_reads[name]))
                samples[name][small_n] += a
                samples[name][large_n] += b
                per_round[name].append(round(statistics.median(b) / statistics.median(a), 3))
    finally:
        await small.close()
        await large.close()

    results: dict[str, Any] = {}
    for name, by_size in samples.items():
        small_ms = statistics.median(by_size[small_n])
        large_ms = statistics.median(by_size[large_n])
        results[name] = {
            f"median_ms_{small_n}": round(small_ms, 3),
            f"median_ms_{large_n}": round(large_ms, 3),
            f"p90_ms_{small_n}": round(statistics.quantiles(by_size[small_n], n=10)[-1], 3),
            f"p90_ms_{large_n}": round(statistics.quantiles(by_size[large_n], n=10)[-1], 3),
            "ratio": round(large_ms / small_ms, 3),
            "ratio_per_round": per_round[name],
        }
    return {
        "benchmark": "store_paging",
        "goal": "ratio (100k / 1k) <= 1.2",
        "page_size": PAGE,
        "repetitions_per_round": reps,
        "rounds": rounds,
        "configuration_bytes_median": body,
        "build_seconds": {str(small_n): round(small_build, 2), str(large_n): round(large_build, 2)},
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "results": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=300, help="timed reads per size per round (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument(
        "--sizes", type=lambda v: tuple(int(x) for x in v.split(",")), default=SIZES, help="SMALL,LARGE"
    )
    parser.add_argument("--keep", type=Path, help="build the databases in DIR and keep them")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"result file (default {RESULTS})")
    args = parser.parse_args(argv)

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for old in args.keep.glob("*.db*"):
            old.unlink()
        report = asyncio.run(run(args.keep, args.reps, args.rounds, args.sizes))
    else:
        with tempfile.TemporaryDirectory(prefix="store-paging-") as tmp:
            report = asyncio.run(run(Path(tmp), args.reps, args.rounds, args.sizes))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(json.dumps(report["results"], indent=2) + "\n")
    worst = max(r["ratio"] for r in report["results"].values())
    sys.stdout.write(f"worst ratio 100k/1k: {worst} (goal <= 1.2); written to {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
