"""The FM complex queries' body (rest.fm.query.complex_query): a body the fuzzer sent made
it fail with INTERNAL (`serviceTo` a list, not an object); it is refused as bad input."""

from __future__ import annotations

import pytest

from interlude_server.core.errors import InvalidArgument
from interlude_server.rest.fm.query import complex_query, job_filter, report_filter


def test_a_service_end_that_is_not_an_object_is_named_not_an_internal_error() -> None:
    body = {"monitoredObject": {"@type": "ServiceFromToRef", "serviceFrom": [], "serviceTo": "x"}}
    with pytest.raises(InvalidArgument) as raised:
        complex_query(body, report=True)
    assert {v.field for v in raised.value.violations} == {
        "/monitoredObject/serviceFrom",
        "/monitoredObject/serviceTo",
    }


def test_service_ends_given_as_objects_are_searched_on() -> None:
    ends = {"serviceFrom": {"serviceFromId": "a"}, "serviceTo": {"serviceToId": "b"}}
    got = complex_query({"monitoredObject": {"@type": "ServiceFromToRef", **ends}}, report=True)
    assert got == report_filter({"serviceFromId": ["a"], "serviceToId": ["b"]})
    only_type = complex_query({"monitoredObject": {"@type": "ServiceFromToRef"}}, report=False)
    assert only_type == job_filter({})  # both ends optional: no id to search by
