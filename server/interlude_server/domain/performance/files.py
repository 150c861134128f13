"""A report's file (GetPerformanceReportFile): its content in the report's output format.

JSON: MEF's `reportContent` array as the REST body would carry it (`monitoredObject`
with its `@type` and id, `reportContentItem` with `measurementTime` and
`measurementData`, each results object with its `@type`).

CSV (RFC 4180, header row first): one row per results object, columns
`monitoredObjectType`, `monitoredObjectId` (a pair: `FROM>TO`), `measurementStartDate`,
`measurementEndDate`, `resultType` (the results `@type`), then every property of the
report's results objects in alphabetical order (empty where an object has none).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.errors import InvalidState

Pm = performance_pb2
FIXED_COLUMNS = (
    "monitoredObjectType",
    "monitoredObjectId",
    "measurementStartDate",
    "measurementEndDate",
    "resultType",
)


def _subject(ref: Pm.MonitoredObjectRef) -> tuple[str, str]:
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return "ServiceRef", ref.service.id
    if kind == "service_from_to":
        pair = ref.service_from_to
        return "ServiceFromToRef", f"{pair.service_from.id}>{pair.service_to.id}"
    return "EntityRef", ref.entity.id


def _subject_json(ref: Pm.MonitoredObjectRef) -> dict[str, Any]:
    kind, ident = _subject(ref)
    if kind == "ServiceRef":
        return {"@type": kind, "serviceId": ident}
    if kind == "ServiceFromToRef":
        pair = ref.service_from_to
        return {
            "@type": kind,
            "serviceFrom": {"serviceFromId": pair.service_from.id},
            "serviceTo": {"serviceToId": pair.service_to.id},
        }
    return {"@type": kind, "entityId": ident}


def _values(s: struct_pb2.Struct) -> dict[str, Any]:
    out = json_format.MessageToDict(s)
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in out.items()}


def _time(ts: timestamp_pb2.Timestamp) -> str:
    return ts.ToJsonString()


def content_json(report: Pm.PerformanceReport) -> list[dict[str, Any]]:
    return [
        {
            "monitoredObject": _subject_json(c.monitored_object),
            "reportContentItem": [
                {
                    "measurementTime": {
                        "measurementStartDate": _time(i.measurement_time.measurement_start_date),
                        "measurementEndDate": _time(i.measurement_time.measurement_end_date),
                    },
                    "measurementData": [
                        {"@type": d.type, **_values(d.attributes)} for d in i.measurement_data
                    ],
                }
                for i in c.report_content_item
            ],
        }
        for c in report.report_content
    ]


def content_csv(report: Pm.PerformanceReport) -> str:
    rows = []
    for c in report.report_content:
        kind, ident = _subject(c.monitored_object)
        for item in c.report_content_item:
            t = item.measurement_time
            for data in item.measurement_data:
                fixed = (
                    kind,
                    ident,
                    _time(t.measurement_start_date),
                    _time(t.measurement_end_date),
                    data.type,
                )
                rows.append((fixed, _values(data.attributes)))
    names = sorted({name for _, values in rows for name in values})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*FIXED_COLUMNS, *names])
    for fixed, values in rows:
        writer.writerow([*fixed, *(values.get(name, "") for name in names)])
    return out.getvalue()


def report_file(report: Pm.PerformanceReport) -> Pm.GetPerformanceReportFileResponse:
    """The file of a COMPLETED report (FAILED_PRECONDITION naming its state otherwise)."""
    if report.state != Pm.PERFORMANCE_REPORT_STATE_COMPLETED:
        state = Pm.PerformanceReportState.Name(report.state).removeprefix("PERFORMANCE_REPORT_STATE_").lower()
        raise InvalidState(f"the report has no file: it is {state}", state)
    name = f"performance-report-{report.id}"
    if report.output_format == Pm.PERFORMANCE_OUTPUT_FORMAT_CSV:
        data, kind, name = content_csv(report).encode(), "text/csv; charset=utf-8", name + ".csv"
    else:
        data = json.dumps(content_json(report), separators=(",", ":")).encode()
        kind, name = "application/json", name + ".json"
    return Pm.GetPerformanceReportFileResponse(content_type=kind, data=data, file_name=name)
