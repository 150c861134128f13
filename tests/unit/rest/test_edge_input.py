"""Bad text and numbers stop at the REST edge (F14): a body holding NaN, Infinity, a number
beyond the double range (1e400) or a lone surrogate (`"\\ud800"`) is refused 400 naming every
place by JSON Pointer, on every route that reads a body; and a PM profile body that MEF's
schema allows (integers without bounds) is refused 422 instead of failing (500).

The real adapter (build_app) answers; the body is refused before any RPC is called, so its
backend serves nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from interlude_server.rest.admission import Forward
from interlude_server.rest.app import build_app
from interlude_server.rest.backend import InProcessBackend

ORD = "/mefApi/interlude/serviceOrderingManagement/v1"
SFT = "/mefApi/interlude/serviceFunctionTesting/v3"
PM = "/mefApi/interlude/performanceMonitoring/v5"


async def _post(path: str, body: bytes) -> tuple[int, Any, str]:
    app = build_app(InProcessBackend([]), None, Forward("sp-alpha"), 1 << 20)
    async with TestClient(TestServer(app)) as client:
        reply = await client.post(
            path, data=body, headers={"Content-Type": "application/json", "X-Interlude-Buyer": "sp-alpha"}
        )
        return reply.status, await reply.json(), reply.headers.get("X-Interlude-Reason", "")


# Raw JSON text: json.dumps cannot write a lone surrogate escape or 1e400 as we need them.
CASES = [
    (f"{ORD}/serviceOrder", b'{"externalId": "\\ud800", "serviceOrderItem": []}', ["/externalId"]),
    (
        f"{ORD}/serviceOrder",
        b'{"serviceOrderItem": [{"service": {"serviceConfiguration": {"cir": NaN, "ebs": 1e400,'
        b' "cbs": -Infinity, "ok": 1e308}}}]}',
        [
            "/serviceOrderItem/0/service/serviceConfiguration/cir",
            "/serviceOrderItem/0/service/serviceConfiguration/ebs",
            "/serviceOrderItem/0/service/serviceConfiguration/cbs",
        ],
    ),
    (f"{ORD}/serviceOrder/o-1/cancel", b'{"cancellationReason": "x\\udc00y"}', ["/cancellationReason"]),
    (
        f"{ORD}/serviceOrder/o-1/information",
        b'{"itemId": "1", "serviceConfiguration": {"cir": NaN}, "note": [{"text": "\\ud800"}]}',
        ["/serviceConfiguration/cir", "/note/0/text"],
    ),
    (f"{SFT}/testProfile", b'{"name": "\\ud800", "\\udfff": Infinity}', ["/name", "/\ufffd"]),
    (f"{PM}/performanceProfile", b'{"description": "\\ud800\\ud800"}', ["/description"]),
]


@pytest.mark.parametrize(("path", "body", "pointers"), CASES, ids=lambda c: str(c)[:40])
async def test_non_finite_numbers_and_lone_surrogates_are_refused_naming_each_place(
    path: str, body: bytes, pointers: list[str]
) -> None:
    status, error, reason = await _post(path, body)
    assert (status, error["code"], reason) == (400, "invalidBody", "INVALID_BODY")
    named = [part.split(": ", 1)[0] for part in error["message"].split("; ")]
    assert sorted(set(named)) == sorted(pointers)


async def test_a_valid_surrogate_pair_and_finite_numbers_are_not_refused_here() -> None:
    # An emoji spelt as a surrogate pair is valid text; the body then fails later (no backend
    # here), never as INVALID_BODY.
    status, _error, reason = await _post(
        f"{ORD}/serviceOrder", b'{"externalId": "\\ud83d\\ude00", "x": 1e308}'
    )
    assert reason != "INVALID_BODY"
    assert status < 500


PROFILE = {
    "granularity": {"timeDurationValue": 15, "timeDurationUnits": "MIN"},
    "reportingPeriod": {"timeDurationValue": 1, "timeDurationUnits": "HOUR"},
    "jobType": "proactive",
    "lifecycleStatus": "approved",
    "outputFormat": "json",
    "resultFormat": "payload",
    "serviceSpecificConfiguration": {"@type": "urn:example"},
}


async def test_a_schema_valid_profile_with_integers_beyond_the_contract_is_422_not_500() -> None:
    # PerformanceProfile_Create (PM v5) types timeDurationValue and jobPriority as `integer`
    # without bounds; 2**63 and 2**31 failed to fit the int64/int32 fields (500).
    body = {**PROFILE, "jobPriority": 2**31}
    body["reportingPeriod"] = {"timeDurationValue": 2**63, "timeDurationUnits": "HOUR"}
    status, errors, reason = await _post(f"{PM}/performanceProfile", json.dumps(body).encode())
    assert (status, reason) == (422, "INVALID_REQUEST")
    assert {e["propertyPath"] for e in errors} == {"/jobPriority", "/reportingPeriod/timeDurationValue"}
