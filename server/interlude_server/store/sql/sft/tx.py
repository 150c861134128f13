"""Service function testing writes: `SftTxMixin`, mixed into SqlTx (both engines).

Its tables are migration step 3 (store.sql.sft.schema); its reads are store.sql.sft.reads.
A stream item takes its sequence from the dialect (`next_seq`), so `test_items` is
gap-free in commit order on both engines.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.keys import field_key, key_timestamp, timestamp_key
from interlude_server.store.interface.sft import SftRun
from interlude_server.store.sql.bodies import BodyTx
from interlude_server.store.sql.dialect import TEST_ITEM_LOG

St = service_test_pb2


class SftTxMixin(BodyTx):
    """The testing part of SqlTx; `_c` is the write connection."""

    def get_test_profile(self, buyer_id: str, profile_id: str) -> service_test_pb2.TestProfile | None:
        return self._get("test_profiles", buyer_id, profile_id, St.TestProfile.FromString)

    def put_test_profile(self, p: service_test_pb2.TestProfile) -> None:
        self._put(
            "test_profiles",
            {
                "buyer_id": p.buyer_id,
                "id": p.id,
                "lifecycle_status": int(p.lifecycle_status),
                "lifecycle_state": int(p.lifecycle_state),
                "spec_id": p.related_service_specification_id,
                "test_type": int(p.test_type),
                "creation_date": field_key(p, "creation_date"),
                "last_update": field_key(p, "last_update"),
                "body": p.SerializeToString(),
            },
        )

    def delete_test_profile(self, buyer_id: str, profile_id: str) -> None:
        self._c.execute("DELETE FROM test_profiles WHERE buyer_id = ? AND id = ?", (buyer_id, profile_id))

    def get_test_job(self, buyer_id: str, job_id: str) -> service_test_pb2.TestJob | None:
        return self._get("test_jobs", buyer_id, job_id, St.TestJob.FromString)

    def put_test_job(self, j: service_test_pb2.TestJob) -> None:
        self._put(
            "test_jobs",
            {
                "buyer_id": j.buyer_id,
                "id": j.id,
                "state": int(j.state),
                "name": j.name,
                "profile_id": j.test_profile_ref.id,
                "from_id": j.related_service_from.id,
                "to_id": j.related_service_to.id,
                "test_type": int(j.test_type),
                "requested_start": field_key(j, "requested_start_date_time"),
                "requested_end": field_key(j, "requested_end_date_time"),
                "creation_date": field_key(j, "creation_date"),
                "body": j.SerializeToString(),
            },
        )

    def get_test_run(self, buyer_id: str, job_id: str) -> SftRun | None:
        row = self._c.execute(
            "SELECT run_number, next_step, started, result_id FROM test_runs "
            f"WHERE buyer_id = ? AND job_id = ?{self._dialect.for_update}",
            (buyer_id, job_id),
        ).fetchone()
        if row is None:
            return None
        return SftRun(int(row[0]), int(row[1]), key_timestamp(str(row[2])), str(row[3]))

    def put_test_run(self, buyer_id: str, job_id: str, run: SftRun) -> None:
        # The one testing table keyed by its job rather than an id of its own.
        self._put(
            "test_runs",
            {
                "buyer_id": buyer_id,
                "job_id": job_id,
                "run_number": run.run_number,
                "next_step": run.next_step,
                "started": "" if run.started is None else timestamp_key(run.started),
                "result_id": run.result_id,
            },
            keys=("buyer_id", "job_id"),
        )

    def get_test_job_task(self, buyer_id: str, task_id: str) -> service_test_pb2.TestJobTask | None:
        return self._get("test_job_tasks", buyer_id, task_id, St.TestJobTask.FromString)

    def put_test_job_task(self, t: service_test_pb2.TestJobTask) -> None:
        self._put(
            "test_job_tasks",
            {
                "buyer_id": t.buyer_id,
                "id": t.id,
                "job_id": t.test_job.id,
                "task_type": int(t.task_type),
                "state": int(t.state),
                "creation_date": field_key(t, "creation_date"),
                "body": t.SerializeToString(),
            },
        )

    def open_test_job_tasks(self, buyer_id: str, job_id: str) -> list[service_test_pb2.TestJobTask]:
        rows = self._c.execute(
            "SELECT body FROM test_job_tasks WHERE buyer_id = ? AND job_id = ? AND state = ? "
            "ORDER BY creation_date, id",
            (buyer_id, job_id, int(St.TEST_JOB_PROCESS_STATE_ACKNOWLEDGED)),
        ).fetchall()
        return [St.TestJobTask.FromString(r[0]) for r in rows]

    def put_test_result(
        self,
        r: service_test_pb2.TestResult,
        job: service_test_pb2.TestJob,
        profile: service_test_pb2.TestProfileValue,
    ) -> None:
        contacts = "".join(f"\n{c.name}" for c in profile.related_contact) + "\n"
        self._put(
            "test_results",
            {
                "buyer_id": r.buyer_id,
                "id": r.id,
                "job_id": r.test_job.id,
                "from_id": r.related_service_from.id,
                "to_id": r.related_service_to.id,
                "spec_id": profile.related_service_specification_id,
                "contacts": contacts,
                "test_type": int(r.test_type),
                "verdict": int(r.summary.verdict),
                "requested_start": field_key(job, "requested_start_date_time"),
                "requested_end": field_key(job, "requested_end_date_time"),
                "creation_date": field_key(r, "creation_date"),
                "body": r.SerializeToString(),
            },
        )

    def append_test_item(
        self, buyer_id: str, job_id: str, run_number: int, item: service_test_pb2.StreamTestResultsResponse
    ) -> int:
        (seq,) = self._c.execute(
            "INSERT INTO test_items (seq, buyer_id, job_id, run_number, body) VALUES (?, ?, ?, ?, ?) "
            "RETURNING seq",
            (
                self._log_seq(TEST_ITEM_LOG),
                buyer_id,
                job_id,
                run_number,
                item.SerializeToString(),
            ),
        ).fetchone()
        return int(seq)

    def sft_measurements(
        self, buyer_id: str, job_id: str, run_number: int
    ) -> list[service_test_pb2.TestMeasurement]:
        rows = self._c.execute(
            "SELECT body FROM test_items WHERE buyer_id = ? AND job_id = ? AND run_number = ? ORDER BY seq",
            (buyer_id, job_id, run_number),
        ).fetchall()
        items = [St.StreamTestResultsResponse.FromString(r[0]) for r in rows]
        return [i.measurement for i in items if i.HasField("measurement")]
