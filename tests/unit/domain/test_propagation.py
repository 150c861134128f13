"""The propagation rules (domain/network/propagation.py) as a specification: each rule of
the table, evaluated on its own inputs."""

from __future__ import annotations

from interlude_server.domain.network.propagation import (
    COMPONENT_RULE,
    DEGRADED,
    DEPENDENCY,
    DISABLED,
    ENABLED,
    FAILED,
    RULES,
    Inputs,
    Own,
    evaluate,
)

UP = Own(active=True, locked=False, reported_down=False)
ATTACHED, ENDPOINTS = (
    next(r for r in RULES if r.relationship_type == t) for t in ("ATTACHED_TO", "ENDPOINT_OF")
)


def test_the_table_names_the_interface_and_end_point_relationships_and_their_sides() -> None:
    assert (ATTACHED.dependent, ATTACHED.min_up, ATTACHED.degrade) == ("source", None, False)
    assert (ENDPOINTS.dependent, ENDPOINTS.min_up, ENDPOINTS.degrade) == ("target", 2, True)


def test_an_end_point_goes_down_with_the_interface_it_is_attached_to() -> None:
    verdict = evaluate(UP, [Inputs(ATTACHED, [("alpha-uni-2", False)])])
    assert verdict.operational_state == DISABLED
    assert verdict.availability == (DEPENDENCY,)
    assert verdict.reason == "interface alpha-uni-2 is down"


def test_an_end_point_is_up_while_its_interface_is() -> None:
    assert evaluate(UP, [Inputs(ATTACHED, [("alpha-uni-2", True)])]).operational_state == ENABLED


def test_a_connectivity_service_with_fewer_than_two_end_points_up_is_disabled() -> None:
    verdict = evaluate(UP, [Inputs(ENDPOINTS, [("ep-1", False), ("ep-2", True)])])
    assert (verdict.operational_state, verdict.availability) == (DISABLED, (DEPENDENCY,))
    assert verdict.causes == ("ep-1",)


def test_a_multipoint_service_with_some_end_points_down_stays_enabled_but_degraded() -> None:
    verdict = evaluate(UP, [Inputs(ENDPOINTS, [("ep-1", False), ("ep-2", True), ("ep-3", True)])])
    assert (verdict.operational_state, verdict.availability) == (ENABLED, (DEGRADED,))
    assert "ep-1" in verdict.reason


def test_recovery_reverses_it_all_end_points_up_is_enabled_with_no_status() -> None:
    verdict = evaluate(UP, [Inputs(ENDPOINTS, [("ep-1", True), ("ep-2", True), ("ep-3", True)])])
    assert (verdict.operational_state, verdict.availability) == (ENABLED, ())


def test_the_own_report_locks_and_lifecycle_come_before_the_inputs() -> None:
    healthy = [Inputs(ATTACHED, [("uni", True)])]
    reported = evaluate(Own(True, False, True, "loss of signal"), healthy)
    assert (reported.operational_state, reported.availability, reported.reason) == (
        DISABLED,
        (FAILED,),
        "loss of signal",
    )
    assert evaluate(Own(True, True, False), healthy).operational_state == DISABLED
    assert evaluate(Own(False, False, False), healthy).operational_state == DISABLED


def test_a_service_is_down_when_none_of_its_components_is_up_and_degraded_when_some_are_not() -> None:
    assert evaluate(UP, [Inputs(COMPONENT_RULE, [("link-1", False)])]).operational_state == DISABLED
    partly = evaluate(UP, [Inputs(COMPONENT_RULE, [("link-1", False), ("link-2", True)])])
    assert (partly.operational_state, partly.availability) == (ENABLED, (DEGRADED,))


def test_a_rule_without_inputs_does_not_judge() -> None:
    assert evaluate(UP, [Inputs(ENDPOINTS, [])]).operational_state == ENABLED
