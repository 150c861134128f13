"""The REST route tables (rest.routing, rest.operations) and the per-request logging context.

A row declares a route and its operation together: the operation comes from the row (the
RPC it calls, or its REST-only operationId), HEAD is answered only where a GET row says
so, an API this process does not serve answers 501 at its paths, and no two rows may
claim one route.
"""

from __future__ import annotations

import grpc
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from interlude_server.rest.backend import InProcessBackend, RpcFailure
from interlude_server.rest.middleware import errors_and_logging
from interlude_server.rest.operations import RestOperation, operations_of
from interlude_server.rest.routing import Route, RouteTable


class Probe:
    async def read(self, _request: web.Request) -> web.Response:
        return web.Response()


TABLE = RouteTable(
    "/base",
    "ServiceInventoryService",
    (
        Route("GET", "/thing", Probe.read, "listThing", "ListServices"),
        Route("GET", "/thing/{id}", Probe.read, "retrieveThing", "GetService", allow_head=True),
        Route("POST", "/hub", Probe.read, "registerListener"),
    ),
    lambda _backend, hub: Probe() if hub is None else None,
    absent="not served here",
)


def test_a_row_is_admitted_for_its_rpc_or_else_for_its_rest_only_operation_id() -> None:
    assert dict(TABLE.operations()) == {
        ("GET", "/base/thing"): RestOperation(
            "listThing", "/mef.lso.interlude.v1.ServiceInventoryService/ListServices"
        ),
        ("GET", "/base/thing/{id}"): RestOperation(
            "retrieveThing", "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
        ),
        ("POST", "/base/hub"): RestOperation("registerListener", "registerListener"),
    }


def test_head_is_answered_only_where_a_get_row_allows_it() -> None:
    app = web.Application()
    app.add_routes(TABLE.route_defs(InProcessBackend([]), None))
    served = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    assert served == {
        ("GET", "/base/thing"),
        ("GET", "/base/thing/{id}"),
        ("HEAD", "/base/thing/{id}"),
        ("POST", "/base/hub"),
    }


async def test_an_api_this_process_does_not_serve_answers_501_at_each_of_its_paths() -> None:
    hub = object()  # the probe table is served only without one
    defs = TABLE.route_defs(InProcessBackend([]), hub)  # type: ignore[arg-type]
    assert [(d.method, d.path) for d in defs] == [
        ("*", "/base/thing"),
        ("*", "/base/thing/{id}"),
        ("*", "/base/hub"),
    ]
    with pytest.raises(RpcFailure) as refused:
        await defs[0].handler(make_mocked_request("GET", "/base/thing"))
    assert refused.value.status.code == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert refused.value.status.message == "not served here"


def test_two_rows_for_one_route_are_refused() -> None:
    with pytest.raises(ValueError, match="two route table rows"):
        operations_of((TABLE, TABLE))


async def test_the_request_context_is_bound_while_served_and_cleared_after() -> None:
    seen: list[dict[str, object]] = []

    async def handler(_request: web.Request) -> web.StreamResponse:
        seen.append(structlog.contextvars.get_contextvars())
        return web.Response()

    structlog.contextvars.bind_contextvars(stale="from an earlier request")
    request = make_mocked_request("GET", "/base/thing/7", headers={"X-Request-Id": "req-7"})
    await errors_and_logging(request, handler)
    (bound,) = seen
    assert (bound["method"], bound["path"], bound["request_id"]) == ("GET", "/base/thing/7", "req-7")
    assert "stale" not in bound
    assert structlog.contextvars.get_contextvars() == {}
