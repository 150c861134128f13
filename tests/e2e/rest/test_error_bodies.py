"""Every REST error is a MEF error body, against real server processes: one table, one row per
status the adapter sends, each checked for MEF's Error fields (`code`, `reason` of at most 255
characters, `message`, `referenceError`; a 422 an array of them with `propertyPath`), the
stable reason in `X-Interlude-Reason`, and, where MEF's published OpenAPI defines an
Error{status} schema, its code among that schema's codes and no property it does not define.

Rows cover the errors aiohttp raises itself (unknown path 404, wrong method 405), refusals of
the Authenticator (401, 403, over HTTPS with bearer tokens), and a real unforeseen exception
(500: the server's `services` table renamed away under it), whose body must be generic: the
incident id, never the exception's text. The gateway in front of an upstream whose handler
raises is checked the same way. The hub's 201 carries a `Location` on every API.
"""

from __future__ import annotations

import sqlite3
import threading
import urllib.request
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml  # type: ignore[import-untyped]

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, inventory_pb2_grpc
from interlude_server.rest.mapping import INVENTORY_BASE, ORDERING_BASE
from interlude_server.rest.performance.mapping import PM_BASE
from interlude_server.rest.sft.mapping import SFT_BASE
from tests.e2e.rest.test_parity import CIR, _modify_body
from tests.support.helpers import ALPHA, Stubs, rich_error
from tests.support.paths import REFERENCE
from tests.support.rest import INV, ORD, Reply, RestClient, gateway_process
from tests.support.security import Kit
from tests.support.server_process import ServerProcess, launch, serve_demo

MEF_OPENAPI = REFERENCE / "mef" / "interlude-sdk-kylie-copy" / "openapi"
# The Kylie file that defines the most Error{status} schemas (400 401 403 404 409 422 500 501).
PM_OPENAPI = MEF_OPENAPI / "mef-lso-interlude-performance-monitoring-openapi.yml"
ERROR_FIELDS = {"code", "reason", "message", "referenceError"}


def _mef_schemas() -> dict[str, Any]:
    """MEF's Error schemas by name, when MEF's published files are beside the checkout."""
    if not PM_OPENAPI.is_file():
        return {}
    schemas: dict[str, Any] = yaml.safe_load(PM_OPENAPI.read_text())["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if name.startswith("Error")}


SCHEMAS = _mef_schemas()


def _schema_of(status: int) -> tuple[set[str], set[str]] | None:
    """(the codes, the properties) MEF's Error{status} allows; None where MEF defines none."""
    schema = SCHEMAS.get(f"Error{status}")
    if schema is None:
        return None
    properties = set(SCHEMAS["Error"]["properties"])
    codes: set[str] = set()
    for part in schema["allOf"]:
        props = part.get("properties", {})
        properties |= set(props)
        code = props.get("code", {})
        if "$ref" in code:
            code = SCHEMAS[code["$ref"].rsplit("/", 1)[1]]
        codes |= set(code.get("enum", ()))
    return codes, properties


def assert_mef_error(reply: Reply, status: int, code: str, reason: str) -> list[dict[str, Any]]:
    """`reply` is the MEF error `status`/`code` with the stable `reason`; its entries."""
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["X-Interlude-Reason"] == reason
    entries: list[dict[str, Any]] = reply.body if status == 422 else [reply.body]
    assert isinstance(entries, list), reply.body
    assert entries, reply.body
    for entry in entries:
        assert set(entry) >= ERROR_FIELDS, entry
        assert entry["code"] == code or status == 422, entry
        assert isinstance(entry["reason"], str)
        assert 0 < len(entry["reason"]) <= 255
        assert isinstance(entry["message"], str)
        assert entry["message"]
        assert entry["referenceError"] == f"urn:mef:lso:interlude:error:{reason}"
        if status == 422:
            assert entry["propertyPath"] == "" or entry["propertyPath"].startswith("/")
        schema = _schema_of(status)
        if schema is not None:
            codes, properties = schema
            assert entry["code"] in codes, (entry["code"], sorted(codes))
            assert set(entry) <= properties, set(entry) - properties
    return entries


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One error: what the request is, and the status, MEF code and reason it must get."""

    name: str
    request: Callable[[RestClient], Reply]
    status: int
    code: str
    reason: str


def _stale_cancel(rest: RestClient) -> Reply:
    service = rest.get(f"{INV}/service/alpha-ovc-1-ep-2").body
    body = _modify_body(service, **{"/".join(CIR): 150})
    body["requestedStartDate"] = "2099-01-01T00:00:00Z"  # waits: stays cancellable
    created = rest.post(f"{ORD}/serviceOrder", body)
    assert created.status == 201, created.body
    return rest.call("POST", f"{ORD}/serviceOrder/{created.body['id']}/cancel", {}, {"If-Match": '"stale"'})


def _too_long_target(rest: RestClient) -> Reply:
    return rest.get(f"{INV}/service?externalId={'x' * 9000}")


def _too_long_header(rest: RestClient) -> Reply:
    return rest.call("GET", f"{INV}/service", headers={"X-Padding": "y" * 9000})


DEV_CASES = [
    Case(
        "400 unknown filter",
        lambda r: r.get(f"{INV}/service?colour=red"),
        400,
        "invalidQuery",
        "INVALID_FILTER",
    ),
    Case(
        "400 body not JSON",
        lambda r: r.call("POST", f"{ORD}/serviceOrder", None, {"Content-Type": "application/json"}),
        400,
        "invalidBody",
        "INVALID_BODY",
    ),
    Case("404 unknown path (aiohttp)", lambda r: r.get("/no/such/path"), 404, "notFound", "PATH_NOT_FOUND"),
    Case(
        "404 unknown id",
        lambda r: r.get(f"{INV}/service/no-such-service"),
        404,
        "notFound",
        "SERVICE_NOT_FOUND",
    ),
    Case(
        "404 another buyer's service",
        lambda r: r.get(f"{INV}/service/beta-uni-1"),
        404,
        "notFound",
        "SERVICE_NOT_FOUND",
    ),
    Case(
        "404 unknown hub registration",
        lambda r: r.get(f"{INV}/hub/nope"),
        404,
        "notFound",
        "HUB_SUBSCRIPTION_NOT_FOUND",
    ),
    Case(
        "404 unknown performance job",
        lambda r: r.get(f"{PM_BASE}/performanceJob/nope"),
        404,
        "notFound",
        "PERFORMANCE_RESOURCE_NOT_FOUND",
    ),
    Case(
        "404 unknown test job",
        lambda r: r.get(f"{SFT_BASE}/testJob/nope"),
        404,
        "notFound",
        "TEST_RESOURCE_NOT_FOUND",
    ),
    Case(
        "405 wrong method (aiohttp)",
        lambda r: r.call("PATCH", f"{INV}/service/alpha-uni-1", {}),
        405,
        "notImplemented",
        "METHOD_NOT_ALLOWED",
    ),
    Case("409 stale If-Match", _stale_cancel, 409, "conflict", "ETAG_MISMATCH"),
    Case("414 request target too long", _too_long_target, 414, "invalidQuery", "INVALID_REQUEST"),
    Case("422 order body", lambda r: r.post(f"{ORD}/serviceOrder", {"x": 1}), 422, "", "INVALID_REQUEST"),
    Case("431 header field too long", _too_long_header, 431, "otherIssue", "INVALID_REQUEST"),
    # 501: no in-process route answers it any more (every MEF filter is kept); the gateway's
    # hub does (tests/e2e/rest/test_gateway.py checks its body and message).
]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serve_demo(tmp_path_factory.mktemp("errors-dev"), "--rest-listen", "127.0.0.1:0")


@pytest.mark.parametrize("case", DEV_CASES, ids=[c.name for c in DEV_CASES])
def test_every_error_status_is_a_mef_error_body_with_a_message(dev_server: ServerProcess, case: Case) -> None:
    reply = case.request(RestClient(dev_server.rest_url))
    entries = assert_mef_error(reply, case.status, case.code, case.reason)
    if case.status == 405:
        assert reply.headers["Allow"] == "GET"
        assert "PATCH" in entries[0]["message"]
    if case.status == 404 and case.reason == "PATH_NOT_FOUND":
        assert "/no/such/path" in entries[0]["message"]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit.build(tmp_path_factory.mktemp("errors-pki"))


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
    args = ("--rest-listen", "127.0.0.1:0", "--auth", "token", *kit.tls_args(), *kit.token_args())
    yield from serve_demo(tmp_path_factory.mktemp("errors-token"), *args, credentials=kit.credentials())


AUTH_CASES = [
    # (name, the token (None: none), status, MEF code, reason)
    ("401 no credentials", None, 401, "missingCredentials", "UNAUTHENTICATED"),
    ("401 not a token", lambda kit: "not-a-token", 401, "invalidCredentials", "UNAUTHENTICATED"),
    (
        "403 scope missing",
        lambda kit: kit.issuer.mint("sp-alpha", ("read",)),
        403,
        "accessDenied",
        "MISSING_SCOPE",
    ),
]


@pytest.mark.parametrize(
    ("name", "token_of", "status", "code", "reason"), AUTH_CASES, ids=[c[0] for c in AUTH_CASES]
)
def test_authentication_refusals_are_mef_error_bodies_with_a_message(
    token_server: ServerProcess,
    kit: Kit,
    name: str,
    token_of: Callable[[Kit], str] | None,
    status: int,
    code: str,
    reason: str,
) -> None:
    token = token_of(kit) if token_of is not None else None
    rest = RestClient(f"https://{token_server.rest}", None, token=token, tls=kit.ssl_context())
    reply = rest.post(f"{INV}/hub", {"callback": "http://127.0.0.1:9/listener"})
    assert_mef_error(reply, status, code, reason)
    challenge = reply.headers["WWW-Authenticate"]  # RFC 6750
    assert challenge.startswith('Bearer realm="interlude"')
    if status == 403:
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="events"' in challenge  # registerListener's scope
    elif code == "invalidCredentials":
        assert 'error="invalid_token"' in challenge
    else:
        assert "error=" not in challenge  # no credentials: no error code (RFC 6750 3.1)


def test_an_unforeseen_exception_is_a_generic_500_naming_only_its_incident(tmp_path: Path) -> None:
    server = launch(tmp_path, "--seed", "demo", "--rest-listen", "127.0.0.1:0")
    try:
        rest = RestClient(server.rest_url)
        assert rest.get(f"{INV}/service/alpha-uni-1").status == 200
        with sqlite3.connect(tmp_path / "interlude.db") as db:  # the server's table goes away under it
            db.execute("ALTER TABLE services RENAME TO services_gone")
        # alpha-uni-1 is in the read cache now, so the reads that fail are of another service
        reply = rest.get(f"{INV}/service/alpha-evc-1")
        (entry,) = assert_mef_error(reply, 500, "internalError", "INTERNAL")
        said = f"{entry['reason']} {entry['message']}"
        for leaked in ("services", "no such table", "Error"):
            assert leaked not in said
        incident = entry["reason"].removeprefix("internal error (incident ").removesuffix(")")
        assert len(incident) == 32
        assert incident in entry["message"]
        # gRPC says the same: INTERNAL, ErrorInfo INTERNAL with the incident, no exception text.
        with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError) as caught:
            Stubs.on(channel).inventory.GetService(
                inventory_pb2.GetServiceRequest(id="alpha-evc-1"), metadata=ALPHA, timeout=10
            )
        err = rich_error(caught.value)
        assert (err.code, err.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
        assert err.message == f"internal error (incident {err.metadata['incident']})"
        faults = [line for line in server.logs().splitlines() if '"rest.fault"' in line]
        assert len(faults) == 1
        assert incident in faults[0]
        assert "no such table" in faults[0]  # the log has what the client is not told
    finally:
        assert server.stop() == 0


class _BrokenInventory(inventory_pb2_grpc.ServiceInventoryServiceServicer):
    """An upstream whose GetService raises (grpc answers UNKNOWN with the exception's text) and
    whose ListServices answers only after `release` is set (the gateway's --timeout passes)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def GetService(self, request: inventory_pb2.GetServiceRequest, context: grpc.ServicerContext) -> Any:
        raise RuntimeError("upstream secret: password=hunter2")

    def ListServices(self, request: inventory_pb2.ListServicesRequest, context: grpc.ServicerContext) -> Any:
        self.release.wait(30)
        return inventory_pb2.ListServicesResponse()


def test_the_gateway_answers_an_upstream_fault_500_and_an_upstream_timeout_504(tmp_path: Path) -> None:
    broken = _BrokenInventory()
    upstream = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    inventory_pb2_grpc.add_ServiceInventoryServiceServicer_to_server(broken, upstream)
    port = upstream.add_insecure_port("127.0.0.1:0")
    upstream.start()
    try:
        with gateway_process(tmp_path, f"127.0.0.1:{port}", "--timeout", "1") as base_url:
            reply = RestClient(base_url).get(f"{INV}/service/alpha-uni-1")
            (entry,) = assert_mef_error(reply, 500, "internalError", "INTERNAL")
            assert "hunter2" not in str(entry)
            assert "secret" not in str(entry)
            assert "incident" in entry["reason"]
            late = RestClient(base_url).get(f"{INV}/service")
            broken.release.set()
            (entry,) = assert_mef_error(late, 504, "internalError", "DEADLINE_EXCEEDED")
            assert "in time" in entry["message"]
        assert "hunter2" in (tmp_path / "gateway.log").read_text()  # the operator's log has it
    finally:
        broken.release.set()
        upstream.stop(None)


# --- the hub's Location ---------------------------------------------------------------------------


@pytest.mark.parametrize("base", [INVENTORY_BASE, ORDERING_BASE, PM_BASE, SFT_BASE])
def test_a_hub_registration_201_carries_the_location_of_the_registration(
    dev_server: ServerProcess, base: str
) -> None:
    rest = RestClient(dev_server.rest_url)
    reply = rest.post(f"{base}/hub", {"callback": "http://127.0.0.1:9/listener", "query": ""})
    assert reply.status == 201, reply.body
    location = reply.headers["Location"]
    assert location == f"{dev_server.rest_url}{base}/hub/{reply.body['id']}"
    request = urllib.request.Request(location, headers={"X-Interlude-Buyer": "sp-alpha"})
    with urllib.request.urlopen(request, timeout=10) as got:  # the Location is the resource
        assert got.status == 200
    assert rest.delete(location.removeprefix(dev_server.rest_url)).status == 204
    assert rest.get(location.removeprefix(dev_server.rest_url)).status == 404
