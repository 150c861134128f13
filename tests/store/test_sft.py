"""The SQLite store's testing tables: jobs, tasks, results and stream items by buyer, filter and page."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, service_test_pb2
from interlude_server.store.interface.paging import PageRequest
from interlude_server.store.interface.sft import SftRun
from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import BUYER, OTHER_BUYER, ts

St = service_test_pb2


def _job(
    job_id: str, created: int, state: int, test_type: int, buyer: str = BUYER
) -> service_test_pb2.TestJob:
    return St.TestJob(
        id=job_id,
        buyer_id=buyer,
        name=f"job {job_id}",
        state=state,  # type: ignore[arg-type]
        test_type=test_type,  # type: ignore[arg-type]
        creation_date=ts(created),
        requested_end_date_time=ts(10_000),
        related_service_from=common_pb2.ServiceRef(id="a"),
        related_service_to=common_pb2.ServiceRef(id="b"),
    )


async def test_jobs_list_newest_first_filtered_and_paged_per_buyer(store: SqliteStore) -> None:
    jobs = [
        _job("j1", 1, St.TEST_JOB_STATE_COMPLETED, St.TEST_TYPE_IP_PING),
        _job("j2", 2, St.TEST_JOB_STATE_IN_PROGRESS, St.TEST_TYPE_IP_PING),
        _job("j3", 3, St.TEST_JOB_STATE_IN_PROGRESS, St.TEST_TYPE_IP_TWAMP),
        _job("x1", 4, St.TEST_JOB_STATE_IN_PROGRESS, St.TEST_TYPE_IP_PING, OTHER_BUYER),
    ]

    def put(tx: SqlTx) -> None:
        for job in jobs:
            tx.put_test_job(job)

    await store.write(put)
    everything = St.TestJobFilter()
    first = await store.list_test_jobs(BUYER, everything, PageRequest(limit=2))
    assert ([j.id for j in first.items], first.total) == (["j3", "j2"], 3)
    rest = await store.list_test_jobs(BUYER, everything, PageRequest(limit=2, after=first.last_key))
    assert [j.id for j in rest.items] == ["j1"]
    assert rest.last_key is None
    running_pings = St.TestJobFilter(state=[St.TEST_JOB_STATE_IN_PROGRESS], test_type=[St.TEST_TYPE_IP_PING])
    page = await store.list_test_jobs(BUYER, running_pings, PageRequest(limit=10))
    assert [j.id for j in page.items] == ["j2"]
    assert {j.id for j in await store.active_test_jobs()} == {"j2", "j3", "x1"}
    assert await store.get_test_job(OTHER_BUYER, "j1") is None


async def test_stream_items_are_read_in_commit_order_after_a_position(store: SqliteStore) -> None:
    def put(tx: SqlTx) -> list[int]:
        tx.put_test_run(BUYER, "j1", SftRun(1, 0, ts(5), "r1"))
        seqs = []
        for n in range(1, 6):
            item = St.StreamTestResultsResponse(
                measurement=St.TestMeasurement(run_number=1, sequence_number=n)
            )
            seqs.append(tx.append_test_item(BUYER, "j1", 1, item))
        tx.append_test_item(BUYER, "j2", 1, St.StreamTestResultsResponse(summary=St.TestSummary()))
        assert [m.sequence_number for m in tx.sft_measurements(BUYER, "j1", 1)] == [1, 2, 3, 4, 5]
        assert tx.get_test_run(BUYER, "j1") == SftRun(1, 0, ts(5), "r1")
        return seqs

    seqs = await store.write(put)
    assert seqs == sorted(seqs)
    after_two = await store.read_test_items(BUYER, "j1", seqs[1], 2)
    assert [item.measurement.sequence_number for _, item in after_two] == [3, 4]
    assert await store.read_test_items(OTHER_BUYER, "j1", 0, 10) == []
