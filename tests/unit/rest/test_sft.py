"""Unit checks of the Service Function Testing REST mapping: JSON Pointers of document
violations, MEF spellings, and body shape checks with every problem at once."""

from __future__ import annotations

import pytest

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.errors import InvalidArgument
from interlude_server.rest import mapping as m
from interlude_server.rest.errors import property_path
from interlude_server.rest.sft import inbound as sft_inbound
from interlude_server.rest.sft import mapping as sm
from interlude_server.rest.sft import query as sft_query

St = service_test_pb2


def test_a_violation_inside_a_document_keeps_its_pointer() -> None:
    field = "test_job.service_specific_test_job_configuration/cirSteps/0"
    assert property_path(field, "test_job") == "/serviceSpecificTestJobConfiguration/cirSteps/0"
    assert property_path("test_job.related_service_from.id", "test_job") == "/relatedServiceFrom/id"


def test_states_and_task_paths_use_the_mef_spellings() -> None:
    assert sm.JOB_STATE[St.TEST_JOB_STATE_ASSESSING_CANCELLATION] == "assessingCancellation"
    assert sm.PROCESS_STATE[St.TEST_JOB_PROCESS_STATE_ACCEPTED] == "accepted"
    h = sm.SftHrefs(m.Hrefs("http://x"))
    assert h.task(St.TEST_JOB_TASK_TYPE_RESUME, "t1") == (
        "http://x/mefApi/interlude/serviceFunctionTesting/v3/resumeTestJob/t1"
    )


def test_a_job_body_round_trips_and_shape_problems_come_all_at_once() -> None:
    body = {
        "name": "n",
        "requestedEndDateTime": "2099-01-01T00:00:00Z",
        "testProfile": {"@type": "TestProfileRef", "id": "p1"},
        "relatedServiceFrom": {"id": "a"},
        "relatedServiceTo": {"id": "b"},
        "serviceSpecificTestJobConfiguration": {"@type": "urn:x", "count": 3},
        "testMode": "outOfService",
        "recurrencePeriod": {"amount": 2, "units": "calendarHours"},
    }
    job = sft_inbound.job(body)
    assert (job.test_profile_ref.id, job.test_mode) == ("p1", St.TEST_MODE_OUT_OF_SERVICE)
    job.id = "j1"
    out = sm.job(job, sm.SftHrefs(m.Hrefs("http://x")))
    assert {k: out[k] for k in ("testMode", "recurrencePeriod", "serviceSpecificTestJobConfiguration")} == {
        k: body[k] for k in ("testMode", "recurrencePeriod", "serviceSpecificTestJobConfiguration")
    }
    with pytest.raises(InvalidArgument) as bad:
        sft_inbound.job({"requestedEndDateTime": "soon", "outOfServiceConsent": "yes", "colour": 1})
    assert {(v.field, v.code) for v in bad.value.violations} == {
        ("/requestedEndDateTime", "invalidFormat"),
        ("/outOfServiceConsent", "invalidFormat"),
        ("/colour", "unexpectedProperty"),
    }


def test_task_queries_take_only_the_mef_parameters() -> None:
    f = sft_query.task_filter(
        {"testJobId": ["j1"], "state": ["accepted,rejected"]}, St.TEST_JOB_TASK_TYPE_CANCEL
    )
    assert (f.test_job_id, list(f.state), list(f.task_type)) == (
        "j1",
        [St.TEST_JOB_PROCESS_STATE_ACCEPTED, St.TEST_JOB_PROCESS_STATE_REJECTED],
        [St.TEST_JOB_TASK_TYPE_CANCEL],
    )
    with pytest.raises(InvalidArgument):
        sft_query.job_filter({"state": ["completed"]})  # listTestJob has no state filter in MEF
