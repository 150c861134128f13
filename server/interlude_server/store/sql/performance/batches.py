"""Rows of the `pm_measurements` log <-> MeasurementBatch (shared by the Tx, the reads and
the whole-log reads of store.sql.cluster).

A batch's service ids are stored newline-separated in one column, so a stream filter by
service reads them without parsing the body.
"""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.store.interface.performance import MeasurementBatch

# What a SELECT of batches reads, in the order batch_from_row takes it.
BATCH_COLUMNS = "seq, job_id, service_ids, interval_start, body"


def batch_from_row(row: tuple[int, str, str, str, bytes]) -> MeasurementBatch:
    seq, job_id, service_ids, start, body = row
    update = performance_pb2.MeasurementUpdate.FromString(body)
    return MeasurementBatch(
        job_id=job_id,
        service_ids=tuple(s for s in service_ids.split("\n") if s),
        interval_start_key=start,
        measurements=tuple(update.measurements),
        sequence=int(seq),
    )


def service_ids_column(batch: MeasurementBatch) -> str:
    """The `service_ids` column of a batch (batch_from_row reads it back)."""
    return "\n".join(batch.service_ids)
