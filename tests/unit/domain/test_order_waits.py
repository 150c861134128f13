"""Orders that wait, without a server: the simulator's fault-rule format, what a wait records,
when it wakes and expires, and the state tables that let orders and items wait."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import ordering_pb2
from interlude_server.domain.ordering import waits
from interlude_server.domain.ordering.waits import Wait
from interlude_server.domain.states import ITEM, ORDER
from interlude_server.partner.ordering.simulator import load_faults

Ord = ordering_pb2
CIR = "/ingressBandwidthProfilePerOvcEndPoint/cir/irValue"


def _at(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def _load(tmp_path: Path, faults: list[object]) -> object:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"faults": faults}))
    return load_faults(path)


def test_fault_rules_hold_pend_and_ask_once_per_item(tmp_path: Path) -> None:
    rules = _load(
        tmp_path,
        [
            {"externalId": "H-*", "outcome": "held", "holdSeconds": 2, "reason": "no port"},
            {"externalId": "I-*", "outcome": "informationRequired", "information": [CIR], "reason": "cir?"},
        ],
    )
    assert isinstance(rules, list)
    held, info = rules
    order = Ord.ServiceOrder(external_id="H-1")
    item = Ord.ServiceOrderItem(id="1")
    assert held.matches(order, item)
    assert held.outcome_for().wait == Wait("held", "no port", 2.0)
    assert info.outcome_for().wait == Wait("pending", "cir?", None, (CIR,))
    item.wait.add(state=Ord.SERVICE_ORDER_ITEM_STATE_HELD, resolution=waits.RESUMED)
    assert not held.matches(order, item)  # it waited once: the simulator carries it out now


def test_bad_fault_rules_are_refused_naming_each_entry(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"faults\[0\]\.outcome.*faults\[1\]\.information.*faults\[2\]\.holdSeconds"
    ):
        _load(
            tmp_path,
            [
                {"externalId": "A", "reason": "r", "outcome": "later"},
                {"externalId": "B", "reason": "r", "outcome": "informationRequired", "information": ["x"]},
                {"externalId": "C", "reason": "r", "outcome": "failed", "holdSeconds": 1},
            ],
        )


def test_a_wait_wakes_at_its_resume_time_and_a_recheck_keeps_its_timeframe() -> None:
    item = Ord.ServiceOrderItem(id="1", state=Ord.SERVICE_ORDER_ITEM_STATE_HELD)
    first = waits.record(Wait("held", "no port", 5), _at(100), waits.expiry(item, _at(100), 60))
    item.wait.append(first)
    order = Ord.ServiceOrder(service_order_item=[item])
    assert waits.next_wake(order) == _at(105)
    assert (first.expiry_time.seconds, waits.current(item)) == (160, first)
    waits.end(item, _at(105), waits.RESUMED)
    assert waits.current(item) is None
    assert waits.expiry(item, _at(105), 60) == _at(160)  # the Partner re-checks: same timeframe
    item.wait[-1].resolution = waits.ANSWERED
    assert waits.expiry(item, _at(105), 60) == _at(165)  # after the buyer's answer: a new one
    assert Wait("held", "x", information=("/a",)).problems() == ["only a pending item asks for information"]


def test_the_tables_let_items_and_orders_wait_resume_and_expire() -> None:
    for state in (Ord.SERVICE_ORDER_ITEM_STATE_PENDING, Ord.SERVICE_ORDER_ITEM_STATE_HELD):
        assert ITEM.next(state, "resume") == Ord.SERVICE_ORDER_ITEM_STATE_IN_PROGRESS
        assert ITEM.next(state, "expire") == Ord.SERVICE_ORDER_ITEM_STATE_FAILED
        assert ITEM.next(state, "cancel") == Ord.SERVICE_ORDER_ITEM_STATE_CANCELLED
    assert ORDER.next(Ord.SERVICE_ORDER_STATE_HELD, "awaitAction") == Ord.SERVICE_ORDER_STATE_PENDING
    assert ORDER.next(Ord.SERVICE_ORDER_STATE_PENDING, "hold") == Ord.SERVICE_ORDER_STATE_HELD
    assert not ORDER.can(Ord.SERVICE_ORDER_STATE_PENDING, "complete")  # it resumes first
