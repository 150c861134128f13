"""F16: the whole Kylie PM API on a real server: recurring schedules, ad-hoc reports, report
files (JSON, CSV), refused formats, the task resources, tracking records, PATCH of a profile,
the complex queries, and every PM event on the hub, each notification checked against MEF's
PM notification file and each report's results against MEF's Legato results schemas.

MEF's files are not part of this repository: they are read from the reference folder beside
the clone (INTERLUDE_REFERENCE_DIR overrides it); without it the schema checks are skipped.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import jsonschema_rs
import pytest
import yaml  # type: ignore[import-untyped]

from tests.conftest import DbFor
from tests.support.mef_notification_files import component_problems, listener_schema
from tests.support.paths import REFERENCE
from tests.support.pm_helpers import CE_PM, IP_PM, launch_pm_server
from tests.support.rest import Delivery, Listener, RestClient
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.stores("sqlite", "postgresql")  # F16: both stores
PM = "/mefApi/interlude/performanceMonitoring/v5"
MEF = REFERENCE / "mef"
NOTIFICATIONS = (
    MEF / "interlude-sdk-kylie-copy/openapi/mef-lso-interlude-performance-notification-openapi.yml"
)
RESULTS = {
    "carrier-ethernet": MEF / "legato-sdk/serviceSchema/carrierEthernet/faultPerformanceManagement"
    "/carrierEthernetPerformanceMonitoringResults.yaml",
    "ip": MEF / "legato-sdk/serviceSchema/ip/faultPerformanceManagement/ipPerformanceMonitoringResults.yaml",
}
MIN = 60


def _mef_files() -> None:
    if not NOTIFICATIONS.exists() or not all(p.exists() for p in RESULTS.values()):
        pytest.skip(f"MEF's reference files are not at {MEF} (INTERLUDE_REFERENCE_DIR)")


def results_validator(family: str) -> jsonschema_rs.Validator:
    """MEF's results schema of `family`, exactly: no property it does not define. Its
    `properties.description` is a string where a schema belongs (MEF's typo, which no
    validator compiles); read as the string it describes."""
    schema = yaml.safe_load(RESULTS[family].read_text())
    schema.pop("$id")
    schema["properties"]["description"] = {"type": "string"}
    strict = copy.deepcopy(schema)
    strict["properties"]["@type"] = {
        "const": f"urn:mef:lso:spec:legato:{family}-performance-monitoring-results:v0.0.1:all"
    }
    strict["additionalProperties"] = False
    strict["required"] = ["@type"]
    return jsonschema_rs.validator_for(strict)


def notification_validator() -> Callable[[str, Any], list[str]]:
    """(event type, body) -> the problems of the body under MEF's listener operation of that type."""

    def problems(event_type: str, body: Any) -> list[str]:
        name = listener_schema(NOTIFICATIONS, f"/listener/{event_type}")
        return component_problems(NOTIFICATIONS, name, body)

    return problems


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_for: DbFor) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("pm-whole")
    running = launch_pm_server(workdir, "--rest-listen", "127.0.0.1:0", db=db_for(workdir))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def rest(server: ServerProcess) -> RestClient:
    return RestClient(server.rest_url)


def _until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def _duration(value: int, units: str) -> dict[str, Any]:
    return {"timeDurationValue": value, "timeDurationUnits": units}


def _settings(config: str, output: str, result: str, granularity: int, period: int) -> dict[str, Any]:
    return {
        "jobType": "proactive",
        "outputFormat": output,
        "resultFormat": result,
        "granularity": _duration(granularity, "MIN"),
        "reportingPeriod": _duration(period, "MIN"),
        "serviceSpecificConfiguration": {"@type": config},
    }


def _recurring_job(
    rest: RestClient, settings: dict[str, Any], buyer_job_id: str, service: str = "alpha-evc-1"
) -> dict[str, Any]:
    """A job on `service` that runs every 30 simulated minutes, for 15 minutes each time."""
    body = {
        "buyerJobId": buyer_job_id,
        "monitoredObject": {"@type": "ServiceRef", "serviceId": service},
        "performanceProfile": {"@type": "PerformanceProfileValue", **settings},
        "scheduleDefinition": {
            "recurringSchedule": {
                "second": "0",
                "minute": "*/30",
                "hour": "*",
                "dayOfMonth": "*",
                "month": "*",
                "dayOfWeek": "*",
            },
            "executionDuration": _duration(15, "MIN"),
        },
    }
    made = rest.post(f"{PM}/performanceJob", body)
    assert made.status == 201, made.body
    return dict(made.body)


def _reports(rest: RestClient, job_id: str, at_least: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]]:
        listed = rest.get(f"{PM}/performanceReport?performanceJobId={job_id}&limit=100").body
        return listed if len(listed) >= at_least else []

    return list(_until(enough))


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _check_schedule(reports: list[dict[str, Any]]) -> None:
    """Each report is one execution: it starts on a fire time (second 0 of minute 0 or 30) and
    lasts the execution duration; no execution is reported twice; runs are 30 minutes apart."""
    starts = sorted(_seconds(r["reportingTimeframe"]["reportingStartDate"]) for r in reports)
    for r in reports:
        frame = r["reportingTimeframe"]
        start, end = _seconds(frame["reportingStartDate"]), _seconds(frame["reportingEndDate"])
        assert start % (30 * MIN) == 0, frame
        assert end - start == 15 * MIN, frame
    assert len(set(starts)) == len(starts)
    assert all((b - a) % (30 * MIN) == 0 for a, b in itertools.pairwise(starts))


def _file(rest: RestClient, url: str) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"X-Interlude-Buyer": "sp-alpha"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_a_recurring_job_reports_each_execution_in_csv_files(rest: RestClient) -> None:
    job = _recurring_job(rest, _settings(CE_PM, "csv", "attachment", 5, 15), "recurring-csv")
    reports = _reports(rest, job["id"], 3)
    _check_schedule(reports)
    done = [r for r in reports if r["state"] == "completed"]
    assert done, reports
    for listed in done:
        report = rest.get(f"{PM}/performanceReport/{listed['id']}").body
        assert "reportContent" not in report  # an attachment: the content is the file
        kind, text = _file(rest, report["reportUrl"]["url"])
        assert kind.startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 3  # 15 minutes in 5-minute intervals
        assert list(rows[0])[:5] == [
            "monitoredObjectType",
            "monitoredObjectId",
            "measurementStartDate",
            "measurementEndDate",
            "resultType",
        ]
        assert {r["monitoredObjectId"] for r in rows} == {"alpha-evc-1"}
        assert float(rows[0]["utilizationIn"]) <= float(rows[0]["peakUtilizationIn"]) <= 100
        assert rows[0]["measurementStartDate"] == report["reportingTimeframe"]["reportingStartDate"]
    assert (
        rest.post(f"{PM}/cancelPerformanceJob", {"performanceJob": {"performanceJobId": job["id"]}}).status
        == 201
    )


def test_a_recurring_ip_job_reports_json_in_mefs_results_schema(rest: RestClient) -> None:
    _mef_files()
    validator = results_validator("ip")
    job = _recurring_job(rest, _settings(IP_PM, "json", "payload", 5, 15), "recurring-json", "alpha-ipvc-1")
    reports = _reports(rest, job["id"], 2)
    _check_schedule(reports)
    for listed in [r for r in reports if r["state"] == "completed"]:
        report = rest.get(f"{PM}/performanceReport/{listed['id']}").body
        items = report["reportContent"][0]["reportContentItem"]
        assert len(items) == 3
        for item in items:
            for data in item["measurementData"]:
                assert [e.message for e in validator.iter_errors(data)] == []
                assert data["startTime"] == item["measurementTime"]["measurementStartDate"]
    assert (
        rest.post(f"{PM}/cancelPerformanceJob", {"performanceJob": {"performanceJobId": job["id"]}}).status
        == 201
    )


def _adhoc_body(output: str, result: str) -> dict[str, Any]:
    end = (int(time.time()) // 3600) * 3600
    start = end - 3600
    return {
        "description": "ad hoc",
        "monitoredObject": [{"@type": "ServiceRef", "serviceId": "alpha-evc-1"}],
        "granularity": _duration(15, "MIN"),
        "reportingTimeframe": {
            "reportingStartDate": datetime.fromtimestamp(start).astimezone().isoformat(),
            "reportingEndDate": datetime.fromtimestamp(end).astimezone().isoformat(),
        },
        "outputFormat": output,
        "resultFormat": result,
        "serviceSpecificConfiguration": {"@type": CE_PM},
    }


def test_an_adhoc_report_is_made_with_its_events_in_mefs_schemas(rest: RestClient) -> None:
    _mef_files()
    validator, problems = results_validator("carrier-ethernet"), notification_validator()
    listener = Listener()
    try:
        events = "performanceReportCreateEvent,performanceReportStateChangeEvent"
        assert (
            rest.post(f"{PM}/hub", {"callback": listener.url, "query": f"eventType={events}"}).status == 201
        )
        made = rest.post(f"{PM}/performanceReport", _adhoc_body("json", "payload"))
        assert made.status == 201, made.body
        assert (made.body["state"], made.headers["Location"]) == ("acknowledged", made.body["href"])

        def completed() -> dict[str, Any] | None:
            got = rest.get(f"{PM}/performanceReport/{made.body['id']}").body
            return got if got["state"] == "completed" else None

        report = _until(completed)
        items = report["reportContent"][0]["reportContentItem"]
        assert len(items) == 4  # an hour in 15-minute intervals
        for data in (d for item in items for d in item["measurementData"]):
            assert [e.message for e in validator.iter_errors(data)] == []

        def mine() -> list[Delivery]:
            return [d for d in listener.deliveries() if d.body["event"]["id"] == made.body["id"]]

        listener.wait_for(lambda _: len(mine()) >= 3)
        got = mine()
        assert [d.body["eventType"] for d in got] == [
            "performanceReportCreateEvent",
            "performanceReportStateChangeEvent",
            "performanceReportStateChangeEvent",
        ]
        assert [d.body["event"].get("state") for d in got[1:]] == ["inProgress", "completed"]
        for d in got:
            assert d.path.endswith(f"/listener/{d.body['eventType']}")
            assert problems(d.body["eventType"], d.body) == []
            assert d.body["event"]["href"] == made.body["href"]
    finally:
        listener.close()


def test_a_json_attachment_is_the_report_content_as_a_file(rest: RestClient) -> None:
    made = rest.post(f"{PM}/performanceReport", _adhoc_body("json", "attachment")).body
    report = _until(
        lambda: (r := rest.get(f"{PM}/performanceReport/{made['id']}").body)["state"] == "completed" and r
    )
    assert report["reportUrl"]["url"] == f"{made['href']}/file"
    kind, text = _file(rest, report["reportUrl"]["url"])
    assert kind.startswith("application/json")
    content = yaml.safe_load(text)
    assert content[0]["monitoredObject"] == {"@type": "ServiceRef", "serviceId": "alpha-evc-1"}
    assert len(content[0]["reportContentItem"]) == 4


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        (
            "/performanceProfile",
            {"lifecycleStatus": "approved", **_settings(CE_PM, "xml", "payload", 15, 60)},
            "/outputFormat",
        ),
        (
            "/performanceProfile",
            {"lifecycleStatus": "approved", **_settings(CE_PM, "avro", "attachment", 15, 60)},
            "/outputFormat",
        ),
        (
            "/performanceProfile",
            {"lifecycleStatus": "approved", **_settings(CE_PM, "csv", "payload", 15, 60)},
            "/outputFormat",
        ),
        ("/performanceReport", _adhoc_body("xml", "payload"), "/outputFormat"),
        ("/performanceReport", _adhoc_body("avro", "attachment"), "/outputFormat"),
        ("/performanceReport", _adhoc_body("csv", "payload"), "/outputFormat"),
    ],
)
def test_a_format_not_produced_is_refused_naming_the_field(
    rest: RestClient, path: str, body: dict[str, Any], pointer: str
) -> None:
    reply = rest.post(PM + path, body)
    assert reply.status == 422, reply.body
    assert [e["propertyPath"] for e in reply.body] == [pointer]


def test_an_invalid_cron_field_is_refused_naming_it(rest: RestClient) -> None:
    body = {
        "monitoredObject": {"@type": "ServiceRef", "serviceId": "alpha-evc-1"},
        "performanceProfile": {
            "@type": "PerformanceProfileValue",
            **_settings(CE_PM, "json", "payload", 5, 15),
        },
        "scheduleDefinition": {"recurringSchedule": {"second": "0", "minute": "75", "dayOfWeek": "MON-FRI"}},
    }
    reply = rest.post(f"{PM}/performanceJob", body)
    assert reply.status == 422, reply.body
    assert [e["propertyPath"] for e in reply.body] == ["/scheduleDefinition/recurringSchedule/minute"]
    body["performanceProfile"]["outputFormat"] = "avro"
    reply = rest.post(f"{PM}/performanceJob", body)
    assert sorted(e["propertyPath"] for e in reply.body) == [
        "/performanceProfile/outputFormat",
        "/scheduleDefinition/recurringSchedule/minute",
    ]


def test_tasks_tracking_profile_patch_and_queries(rest: RestClient) -> None:
    _mef_files()
    problems = notification_validator()
    listener = Listener()
    try:
        assert rest.post(f"{PM}/hub", {"callback": listener.url}).status == 201
        profile = rest.post(
            f"{PM}/performanceProfile",
            {"lifecycleStatus": "approved", **_settings(CE_PM, "json", "payload", 15, 60)},
        ).body
        patched = rest.call(
            "PATCH", f"{PM}/performanceProfile/{profile['id']}", {"description": "patched", "jobPriority": 3}
        )
        assert patched.status == 200, patched.body
        assert (patched.body["description"], patched.body["jobPriority"]) == ("patched", 3)
        assert (
            rest.call("PATCH", f"{PM}/performanceProfile/{profile['id']}", {"jobType": "passive"}).status
            == 400
        )
        job = rest.post(
            f"{PM}/performanceJob",
            {
                "buyerJobId": "tasks",
                "monitoredObject": {"@type": "ServiceRef", "serviceId": "alpha-evc-1"},
                "performanceProfile": {
                    "@type": "PerformanceProfileRef",
                    "performanceProfileId": profile["id"],
                },
                "scheduleDefinition": {},
            },
        ).body
        path = f"{PM}/performanceJob/{job['id']}"
        _until(lambda: rest.get(path).body["state"] == "inProgress")
        assert rest.post(f"{path}/suspend", None).status == 204
        ref = {"performanceJob": {"@type": "PerformanceJobRef", "performanceJobId": job["id"]}}
        modify = rest.post(f"{PM}/modifyPerformanceJob", {**ref, "description": "modified"})
        assert modify.status == 201, modify.body
        _until(
            lambda: rest.get(f"{PM}/modifyPerformanceJob/{modify.body['id']}").body["state"] == "completed"
        )
        assert rest.get(path).body["description"] == "modified"
        listed = rest.get(f"{PM}/modifyPerformanceJob?performanceJobId={job['id']}&state=completed").body
        assert [t["id"] for t in listed] == [modify.body["id"]]
        cancel = rest.post(f"{PM}/cancelPerformanceJob", ref)
        assert cancel.status == 201, cancel.body
        _until(lambda: rest.get(path).body["state"] == "cancelled")
        assert [
            t["id"] for t in rest.get(f"{PM}/cancelPerformanceJob?performanceJobId={job['id']}").body
        ] == [cancel.body["id"]]
        assert rest.get(f"{PM}/modifyPerformanceJob/{cancel.body['id']}").status == 404
        records = rest.get(f"{PM}/trackingRecord?relatedPerformanceJobId={job['id']}").body
        assert records
        assert all(r["relatedObjectId"]["performanceJobId"] == job["id"] for r in records)
        assert {"client", "server"} == {r["source"] for r in records}
        found = rest.post(
            f"{PM}/performanceJobComplexQuery", {"buyerJobId": "tasks", "state": "cancelled"}
        ).body
        assert [j["id"] for j in found] == [job["id"]]
        none = rest.post(
            f"{PM}/performanceJobComplexQuery",
            {"buyerJobId": "tasks", "scheduleDefinition": {"executionDuration": _duration(1, "MIN")}},
        )
        assert none.body == []
        listener.wait_for(
            lambda _: any(
                d.body["eventType"] == "performanceJobAttributeValueChangeEvent"
                for d in listener.deliveries()
            )
        )
        for d in listener.deliveries():
            assert problems(d.body["eventType"], d.body) == [], d.body
        changed = [
            d
            for d in listener.deliveries()
            if d.body["eventType"] == "performanceJobAttributeValueChangeEvent"
        ]
        assert changed[0].body["event"]["id"] == job["id"]
    finally:
        listener.close()
