"""The network talks back (F15), end to end on a real server playing a `--sim-scenario`:
a UNI flap propagates to its end point and EVC (GetService, StreamEvents, the REST hub), its
alarm correlates the alarms of the services it took down (ListAlarms, StreamEvents, REST and
the alarm hub, in MEF's notification shape), everything clears on recovery, another buyer
sees none of it, and a stream resumed across a restart in the middle misses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from interlude_client import InterludeClient
from interlude_grpc.mef.lso.interlude.v1 import (
    alarm_pb2,
    alarm_pb2_grpc,
    common_pb2,
    events_pb2,
    inventory_pb2,
    inventory_pb2_grpc,
)
from tests.conftest import DbFor
from tests.e2e.conftest import launch_demo
from tests.support.helpers import ALPHA, BETA, rich_error
from tests.support.mef_notification_files import component_problems
from tests.support.paths import REFERENCE, needs_reference
from tests.support.rest import INV, Listener, RestClient
from tests.support.server_process import ServerProcess
from tests.support.streams import Collector

pytestmark = [pytest.mark.stores("sqlite", "postgresql"), needs_reference]
Al = alarm_pb2
Ev = events_pb2
ALARMS = "/mefApi/interlude/alarmManagement/v3"
RELATED = ("alpha-uni-2", "alpha-evc-1-ep-1", "alpha-evc-1")
LOS = {
    "id": "los-uni-2",
    "alarmType": "communicationsAlarm",
    "perceivedSeverity": "critical",
    "probableCause": "lossOfSignal",
    "specificProblem": "loss of signal",
}
# A UNI flap with its alarm, and a UNI that goes down for good (no alarm).
FLAP = {
    "steps": [
        {"at": 7.0, "buyer": "sp-alpha", "service": "alpha-uni-1", "state": "DISABLED", "reason": "cut"},
        {
            "at": 7.0,
            "buyer": "sp-alpha",
            "service": "alpha-uni-2",
            "state": "DISABLED",
            "reason": "loss of signal",
            "alarm": LOS,
        },
        {
            "at": 10.0,
            "buyer": "sp-alpha",
            "service": "alpha-uni-2",
            "state": "ENABLED",
            "reason": "signal restored",
            "alarm": {"id": "los-uni-2", "action": "cleared"},
        },
    ]
}
NOTIFICATION_FILE = (
    REFERENCE
    / "mef"
    / "interlude-sdk-kylie-copy"
    / "openapi"
    / "mef-lso-interlude-alarm-notification-openapi.yml"
)


def _scenario(workdir: Path, scenario: dict[str, Any]) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "scenario.json"
    path.write_text(json.dumps(scenario))
    return path


def _everything() -> events_pb2.StreamEventsRequest:
    return events_pb2.StreamEventsRequest(start_time=timestamp_pb2.Timestamp(seconds=1))


def _root_cleared(events: list[events_pb2.Event]) -> bool:
    return any(
        e.event_type == Ev.EVENT_TYPE_ALARM_STATE_CHANGE
        and e.alarm.external_alarm_id == "los-uni-2"
        and e.alarm.state == Al.ALARM_STATE_CLEARED
        for e in events
    )


def _state_changes(events: list[events_pb2.Event], service_id: str) -> list[int]:
    return [
        e.service.operational_state
        for e in events
        if e.event_type == Ev.EVENT_TYPE_SERVICE_STATE_CHANGE and e.resource.id == service_id
    ]


@pytest.fixture(scope="module")
def flapped(tmp_path_factory: pytest.TempPathFactory, db_for: DbFor) -> Iterator[dict[str, Any]]:
    """A server that played FLAP, with what an alpha stream, alpha's hubs and a beta stream got."""
    workdir = tmp_path_factory.mktemp("flap")
    scenario = _scenario(workdir, FLAP)
    server = launch_demo(
        workdir, "--sim-scenario", str(scenario), "--rest-listen", "127.0.0.1:0", db=db_for(workdir)
    )
    listener = Listener()
    rest = RestClient(server.rest_url)
    try:
        for api in (ALARMS, INV):
            assert rest.post(f"{api}/hub", {"callback": listener.url}).status == 201
        with grpc.insecure_channel(server.target) as channel:
            alpha = Collector(channel, _everything())
            beta = Collector(channel, _everything(), metadata=BETA)
            alpha.wait_for(lambda: _root_cleared(alpha.events()), timeout=60)
            listener.wait_for(_hub_cleared, timeout=30)
            beta.wait_for(beta.synced)
            yield {
                "target": server.target,
                "channel": channel,
                "alpha": alpha.events(),
                "beta": beta.events(),
                "hub": listener.bodies(),
                "rest": rest,
            }
            alpha.stop()
            beta.stop()
    finally:
        listener.close()
        assert server.stop() == 0


def _hub_cleared(bodies: list[dict[str, Any]]) -> bool:
    return any(
        b["eventType"] == "alarmStateChangeEvent"
        and b["event"]["alarm"].get("externalAlarmId") == "los-uni-2"
        and b["event"]["alarm"]["state"] == "cleared"
        for b in bodies
    )


def test_a_uni_flap_changes_the_state_of_every_related_service_and_back(flapped: dict[str, Any]) -> None:
    events = flapped["alpha"]
    down, up = common_pb2.OPERATIONAL_STATE_DISABLED, common_pb2.OPERATIONAL_STATE_ENABLED
    for service_id in RELATED:
        assert _state_changes(events, service_id) == [down, up], service_id
    first = next(
        e for e in events if e.resource.id == "alpha-evc-1-ep-1" and e.service.operational_state == down
    )
    assert first.reason == "operational state DISABLED: interface alpha-uni-2 is down"
    assert first.HasField("observed_time")
    assert list(first.service.availability_status) == [inventory_pb2.AVAILABILITY_STATUS_DEPENDENCY]


def test_get_service_shows_the_propagated_state_of_a_uni_that_stays_down(flapped: dict[str, Any]) -> None:
    inventory = inventory_pb2_grpc.ServiceInventoryServiceStub(flapped["channel"])
    for service_id in ("alpha-uni-1", "alpha-ovc-1-ep-1", "alpha-ovc-1"):
        got = inventory.GetService(inventory_pb2.GetServiceRequest(id=service_id), metadata=ALPHA).service
        assert got.operational_state == common_pb2.OPERATIONAL_STATE_DISABLED, service_id
    ep = inventory.GetService(inventory_pb2.GetServiceRequest(id="alpha-ovc-1-ep-1"), metadata=ALPHA).service
    assert ep.operational_state_reason == "interface alpha-uni-1 is down"
    assert list(ep.availability_status) == [inventory_pb2.AVAILABILITY_STATUS_DEPENDENCY]
    flapped_uni = inventory.GetService(
        inventory_pb2.GetServiceRequest(id="alpha-uni-2"), metadata=ALPHA
    ).service
    assert flapped_uni.operational_state == common_pb2.OPERATIONAL_STATE_ENABLED


def _alarms(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...] = ALPHA) -> list[alarm_pb2.Alarm]:
    stub = alarm_pb2_grpc.AlarmServiceStub(channel)
    return list(stub.ListAlarms(alarm_pb2.ListAlarmsRequest(), metadata=metadata).alarms)


def test_the_uni_alarm_is_the_root_cause_of_the_alarms_of_the_services_it_took_down(
    flapped: dict[str, Any],
) -> None:
    alarms = _alarms(flapped["channel"])
    root = next(a for a in alarms if a.external_alarm_id == "los-uni-2")
    children = [a for a in alarms if a.parent_alarm.id == root.id]
    assert root.is_root_cause
    assert (root.alarm_type, root.perceived_severity) == (
        Al.ALARM_TYPE_COMMUNICATIONS_ALARM,
        Al.PERCEIVED_SEVERITY_CLEARED,
    )
    assert root.probable_cause == Al.PROBABLE_CAUSE_LOSS_OF_SIGNAL
    assert sorted(c.affected_service[0].id for c in children) == ["alpha-evc-1", "alpha-evc-1-ep-1"]
    assert {r.id for r in root.correlated_alarm} == {c.id for c in children}
    assert all(a.state == Al.ALARM_STATE_CLEARED for a in [root, *children])
    assert all(c.specific_problem.startswith("service down: ") for c in children)
    stream = flapped["alpha"]
    created = [e.alarm.id for e in stream if e.event_type == Ev.EVENT_TYPE_ALARM_CREATE]
    cleared = [e.alarm.id for e in stream if e.event_type == Ev.EVENT_TYPE_ALARM_STATE_CHANGE]
    assert sorted(created) == sorted(cleared) == sorted([root.id, *(c.id for c in children)])
    only = alarm_pb2.AlarmFilter(affected_service_id="alpha-evc-1")
    stub = alarm_pb2_grpc.AlarmServiceStub(flapped["channel"])
    filtered = stub.ListAlarms(alarm_pb2.ListAlarmsRequest(filter=only), metadata=ALPHA).alarms
    assert [a.affected_service[0].id for a in filtered] == ["alpha-evc-1"]


def test_the_python_client_reads_the_alarms(flapped: dict[str, Any]) -> None:
    with InterludeClient(flapped["target"], buyer="sp-alpha") as client:
        alarms = list(client.list_alarms(page_size=1))
        root = next(a for a in alarms if a.external_alarm_id == "los-uni-2")
        assert client.get_alarm(root.id) == root
    assert len(alarms) == 3


def test_the_stream_filter_by_type_selects_alarm_events(flapped: dict[str, Any]) -> None:
    request = _everything()
    request.filter.event_types.append(Ev.EVENT_TYPE_ALARM_CREATE)
    only = Collector(flapped["channel"], request)
    only.wait_for(only.synced)
    only.stop()
    assert len(only.events()) == 3
    assert {e.event_type for e in only.events()} == {Ev.EVENT_TYPE_ALARM_CREATE}


def test_rest_serves_the_alarms_and_the_hubs_deliver_them_in_mef_shape(flapped: dict[str, Any]) -> None:
    rest: RestClient = flapped["rest"]
    listed = rest.get(f"{ALARMS}/alarm")
    assert listed.status == 200
    assert len(listed.body) == 3
    root = next(a for a in listed.body if a.get("externalAlarmId") == "los-uni-2")
    assert root["isRootCause"] is True
    assert root["state"] == "cleared"
    assert rest.get(f"{ALARMS}/alarm/{root['id']}").body["correlatedAlarm"] == root["correlatedAlarm"]
    assert len(rest.get(f"{ALARMS}/alarm?perceivedSeverity=cleared&alarmType=communicationsAlarm").body) == 3
    hub = flapped["hub"]
    kinds = [b["eventType"] for b in hub if b["eventType"].startswith("alarm")]
    assert kinds.count("alarmCreateEvent") == 3
    assert kinds.count("alarmStateChangeEvent") == 3
    states = [b["event"]["id"] for b in hub if b["eventType"] == "serviceStateChangeEvent"]
    for service_id in RELATED:
        assert states.count(service_id) == 2, service_id


def test_the_alarm_notifications_follow_mefs_notification_file(flapped: dict[str, Any]) -> None:
    names = {
        "alarmCreateEvent": "AlarmCreateEvent",
        "alarmStateChangeEvent": "AlarmStateChangeEvent",
        "alarmAttributeValueChangeEvent": "AlarmAttributeValueChangeEvent",
    }
    checked = 0
    for body in flapped["hub"]:
        if body["eventType"] in names:
            errors = component_problems(NOTIFICATION_FILE, names[body["eventType"]], body)
            assert errors == [], (body["eventType"], errors)
            checked += 1
    assert checked >= 7  # 3 created, 1+ correlation changes, 3 cleared


def test_another_buyer_sees_none_of_it(flapped: dict[str, Any]) -> None:
    channel = flapped["channel"]
    assert _alarms(channel, BETA) == []
    root = next(a for a in _alarms(channel) if a.external_alarm_id == "los-uni-2")
    with pytest.raises(grpc.RpcError) as raised:
        alarm_pb2_grpc.AlarmServiceStub(channel).GetAlarm(
            alarm_pb2.GetAlarmRequest(id=root.id), metadata=BETA
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert rich_error(raised.value).reason == "ALARM_NOT_FOUND"
    assert [e for e in flapped["beta"] if e.resource.resource_type == Ev.RESOURCE_TYPE_ALARM] == []
    assert [e for e in flapped["beta"] if e.resource.id in RELATED] == []
    beta_rest = RestClient(flapped["rest"].base_url, buyer="sp-beta")
    assert beta_rest.get(f"{ALARMS}/alarm/{root.id}").status == 404
    assert beta_rest.get(f"{ALARMS}/alarm").body == []


def _resume_token(channel: grpc.Channel, until: Any) -> tuple[list[events_pb2.Event], str]:
    first = Collector(channel, _everything())
    first.wait_for(lambda: until(first.events()), timeout=60)
    first.stop()
    return first.events(), first.last_token()


def test_a_stream_resumed_after_a_restart_in_the_middle_of_a_scenario_misses_nothing(
    tmp_path: Path, db_for: DbFor
) -> None:
    workdir = tmp_path / "restart"
    scenario = _scenario(workdir, FLAP)
    db = db_for(workdir)
    server: ServerProcess = launch_demo(workdir, "--sim-scenario", str(scenario), db=db)
    try:
        with grpc.insecure_channel(server.target) as channel:
            raised = lambda events: any(e.event_type == Ev.EVENT_TYPE_ALARM_CREATE for e in events)  # noqa: E731
            before, token = _resume_token(channel, raised)
    finally:
        assert server.stop() == 0
    (workdir / "ready").unlink(missing_ok=True)
    restarted = launch_demo(workdir, "--sim-scenario", str(scenario), db=db)
    try:
        with grpc.insecure_channel(restarted.target) as channel:
            resumed = Collector(channel, events_pb2.StreamEventsRequest(resume_token=token))
            resumed.wait_for(lambda: _root_cleared(resumed.events()), timeout=60)
            resumed.stop()
            after = resumed.events()
            alarms = _alarms(channel)
    finally:
        restarted.stop()
    events = [*before, *after]
    assert len({e.event_id for e in events}) == len(events)
    down, up = common_pb2.OPERATIONAL_STATE_DISABLED, common_pb2.OPERATIONAL_STATE_ENABLED
    for service_id in RELATED:
        assert _state_changes(events, service_id) == [down, up], service_id
    created = [e for e in events if e.event_type == Ev.EVENT_TYPE_ALARM_CREATE]
    assert len(created) == len(alarms) == 3
