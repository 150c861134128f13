"""What metrics read from the store: rows by state (every buyer's), and each group commit."""

from __future__ import annotations

import asyncio

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2, service_test_pb2
from interlude_server.store.postgres.store import PgStore
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import OTHER_BUYER, order, ts

Ord = ordering_pb2
St = service_test_pb2


def _test_job(job_id: str, state: St.TestJobState.ValueType) -> St.TestJob:
    return St.TestJob(
        id=job_id,
        buyer_id=OTHER_BUYER,
        name=job_id,
        state=state,
        test_type=St.TEST_TYPE_IP_PING,
        creation_date=ts(1),
        requested_end_date_time=ts(10_000),
        related_service_from=common_pb2.ServiceRef(id="a"),
        related_service_to=common_pb2.ServiceRef(id="b"),
    )


async def test_work_by_state_counts_every_buyers_rows_and_follows_state_changes(
    store: SqliteStore | PgStore,
) -> None:
    assert await store.work_by_state() == {"orders": {}, "pm_jobs": {}, "test_jobs": {}}

    def put(tx: SqlTx) -> None:
        tx.put_order(order("o1", state=Ord.SERVICE_ORDER_STATE_IN_PROGRESS))
        tx.put_order(order("o2", state=Ord.SERVICE_ORDER_STATE_IN_PROGRESS))
        tx.put_order(order("o3", OTHER_BUYER, state=Ord.SERVICE_ORDER_STATE_COMPLETED))
        tx.put_test_job(_test_job("t1", St.TEST_JOB_STATE_IN_PROGRESS))
        tx.put_test_job(_test_job("t2", St.TEST_JOB_STATE_COMPLETED))  # finished: not counted

    await store.write(put)
    work = await store.work_by_state()
    assert work["orders"] == {Ord.SERVICE_ORDER_STATE_IN_PROGRESS: 2, Ord.SERVICE_ORDER_STATE_COMPLETED: 1}
    assert work["test_jobs"] == {St.TEST_JOB_STATE_IN_PROGRESS: 1}

    await store.write(lambda tx: tx.put_order(order("o1", state=Ord.SERVICE_ORDER_STATE_COMPLETED)))
    work = await store.work_by_state()
    assert work["orders"] == {Ord.SERVICE_ORDER_STATE_IN_PROGRESS: 1, Ord.SERVICE_ORDER_STATE_COMPLETED: 2}


async def test_every_group_commit_is_told_with_its_size(store: SqliteStore | PgStore) -> None:
    groups: list[tuple[int, float]] = []
    store.observe_groups(lambda writes, seconds: groups.append((writes, seconds)))
    before = store.stats.commits
    writes = 20
    await asyncio.gather(*(store.write(lambda tx: None) for _ in range(writes)))
    assert sum(n for n, _ in groups) == writes
    assert all(n >= 1 and seconds >= 0 for n, seconds in groups)
    assert len(groups) == store.stats.commits - before  # one call per group, none missed
