"""Domain rules without a server: state tables, JSON Pointers and policy checks."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from interlude_grpc.mef.lso.interlude.v1 import catalog_pb2, common_pb2, inventory_pb2, ordering_pb2
from interlude_server.core.errors import InvalidState
from interlude_server.domain import jsonptr, policy, states

Ord = ordering_pb2
CIR = "/ingressBandwidthProfilePerOvcEndPoint/cir/irValue"


def test_an_action_outside_the_table_names_the_current_state_and_what_is_allowed() -> None:
    with pytest.raises(InvalidState) as raised:
        states.ORDER.next(Ord.SERVICE_ORDER_STATE_COMPLETED, "cancel")
    assert raised.value.current_state == "completed"
    assert (
        states.ORDER.next(Ord.SERVICE_ORDER_STATE_HELD, "cancel")
        == Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION
    )
    with pytest.raises(InvalidState, match="allowed now: awaitAction, cancel, complete"):
        states.ORDER.next(Ord.SERVICE_ORDER_STATE_IN_PROGRESS, "start")


def test_a_check_refuses_like_the_table_and_states_read_in_mef_spelling() -> None:
    states.ORDER.check(Ord.SERVICE_ORDER_STATE_HELD, "cancel")
    with pytest.raises(InvalidState, match="cannot cancel a service order that is completed"):
        states.ORDER.check(Ord.SERVICE_ORDER_STATE_COMPLETED, "cancel")
    assert states.ORDER.state_name(Ord.SERVICE_ORDER_STATE_ASSESSING_CANCELLATION) == "assessingCancellation"
    ack, held, pending = (
        Ord.SERVICE_ORDER_STATE_ACKNOWLEDGED,
        Ord.SERVICE_ORDER_STATE_HELD,
        Ord.SERVICE_ORDER_STATE_PENDING,
    )
    machine = states.StateMachine.of(
        "toy", Ord.ServiceOrderState, [([ack, held], "wait", pending)], [pending]
    )
    assert list(machine.rows()) == [("acknowledged", "wait", "pending"), ("held", "wait", "pending")]
    assert machine.terminal == frozenset({pending})


def test_service_lifecycle_follows_mef_99() -> None:
    active, inactive = common_pb2.SERVICE_STATE_ACTIVE, common_pb2.SERVICE_STATE_INACTIVE
    assert states.service_modify_allowed(active, inactive)
    assert states.service_modify_allowed(inactive, common_pb2.SERVICE_STATE_TERMINATED)
    assert not states.service_modify_allowed(common_pb2.SERVICE_STATE_TERMINATED, active)
    assert not states.service_modify_allowed(active, common_pb2.SERVICE_STATE_DESIGNED)
    assert ("completed", "cancel", "assessingCancellation") not in set(states.ORDER.rows())


def test_changed_leaves_lists_every_added_removed_and_changed_value() -> None:
    old = {"a": {"b": 1, "c": [1, 2]}, "gone": True, "x/y": 0}
    new = {"a": {"b": 2, "c": [1, 3]}, "added": "v", "x/y": 0}
    assert jsonptr.changed_leaves(old, new) == ["/a/b", "/a/c/1", "/added", "/gone"]
    assert jsonptr.get({"x/y": {"~": 5}}, "/x~1y/~0") == 5
    assert jsonptr.covers("/a", "/a/b")
    assert not jsonptr.covers("/a", "/ab")


def _every_leaf_compared(old: Any, new: Any, prefix: str = "") -> list[str]:
    """changed_leaves as first written: every leaf visited, whether its subtree changed or not."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            token = key.replace("~", "~0").replace("/", "~1")
            out += _every_leaf_compared(old.get(key, _GONE), new.get(key, _GONE), f"{prefix}/{token}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            p
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for p in _every_leaf_compared(a, b, f"{prefix}/{i}")
        ]
    return [] if old == new else [prefix]


_GONE = object()
_KEYS = st.sampled_from(["a", "b", "x/y", "~t", "cir", "0"])
_LEAVES = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([1.0, 2.5]) | st.sampled_from(["", "v"])
)
_DOCS = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(old=_DOCS, new=_DOCS, edits=st.integers(0, 3))
def test_changed_leaves_finds_what_comparing_every_leaf_finds(old: Any, new: Any, edits: int) -> None:
    # also documents that share most of their content (a modify changes a few leaves)
    near = {"same": old, "other": new} if edits else new
    base = {"same": old, "other": old} if edits else old
    assert jsonptr.changed_leaves(base, near) == _every_leaf_compared(base, near)
    assert jsonptr.changed_leaves(old, old) == []


def _policy() -> catalog_pb2.ServicePolicy:
    rule = catalog_pb2.CharacteristicPolicy(
        path=CIR,
        changeability=catalog_pb2.CHANGEABILITY_DYNAMIC,
        range=catalog_pb2.NumericRange(min=10, max=1000),
        unit_of_measure="Mbps",
        default_value=struct_pb2.Value(number_value=100),
    )
    return catalog_pb2.ServicePolicy(
        service_specification_id="ovc-ep",
        characteristic_policy=[rule],
        component_policy=[
            catalog_pb2.ComponentPolicy(component_type="physicalLink", administrative_state_changeable=True)
        ],
    )


def _check(
    old: dict[str, Any], new: dict[str, Any], service: inventory_pb2.Service | None = None
) -> policy.Findings:
    findings = policy.Findings()
    policy.check_change(_policy(), service or inventory_pb2.Service(), old, new, "cfg", findings)
    return findings


def test_a_dynamic_value_may_change_within_its_range_only() -> None:
    old = {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 100}}}
    assert not _check(old, {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 500}}})
    refused = _check(old, {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 5000}}})
    assert [v.field for v in refused.violations] == ["cfg.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"]
    assert "[10, 1000] Mbps" in refused.violations[0].description
    assert refused.rules[0].subject == f"policy:ovc-ep:{CIR}"


@pytest.mark.parametrize("value", ["abc", True, None, {"x": 1}, [5]])
def test_a_range_refuses_a_value_it_cannot_compare_when_no_schema_stopped_it(value: object) -> None:
    old = {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 100}}}
    refused = _check(old, {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": value}}})
    assert [v.field for v in refused.violations] == ["cfg.ingressBandwidthProfilePerOvcEndPoint.cir.irValue"]
    assert f"{value!r} is not a number in [10, 1000] Mbps" == refused.violations[0].description


def test_anything_no_rule_covers_is_fixed_and_operational_state_is_never_the_buyers() -> None:
    refused = _check(
        {"mtu": 1500, "operationalState": {"state": "ENABLED"}},
        {"mtu": 9000, "operationalState": {"state": "DISABLED"}},
    )
    assert {v.field for v in refused.violations} == {"cfg.mtu", "cfg.operationalState.state"}


def test_administrative_state_follows_the_service_and_component_flags() -> None:
    uni = inventory_pb2.Service(
        component=[
            inventory_pb2.ServiceComponent(
                id="link-1", component_type="physicalLink", configuration_path="/links/0"
            )
        ]
    )
    locked_service = _check(
        {"administrativeState": {"state": "UNLOCKED"}}, {"administrativeState": {"state": "LOCKED"}}, uni
    )
    assert [v.field for v in locked_service.violations] == ["cfg.administrativeState.state"]
    old = {"links": [{"administrativeState": {"state": "UNLOCKED"}}]}
    new = {"links": [{"administrativeState": {"state": "LOCKED"}}]}
    assert not _check(old, new, uni)


def test_defaults_fill_only_what_the_buyer_left_out() -> None:
    config: dict[str, Any] = {}
    policy.apply_defaults(_policy(), config)
    assert jsonptr.get(config, CIR) == 100
    kept = {"ingressBandwidthProfilePerOvcEndPoint": {"cir": {"irValue": 20}}}
    policy.apply_defaults(_policy(), kept)
    assert jsonptr.get(kept, CIR) == 20
