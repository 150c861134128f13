"""A REST route and the operation it is admitted for, declared together in one row.

Each feature's routes module declares its tables: one per MEF API base path, each row
(HTTP method, path, handler, MEF operationId, the RPC it calls), the handler being a
method of the feature's API object. From the same rows come the aiohttp routes (rest.app)
and the operation each request is admitted for (rest.operations, rest.admission), so a
route cannot be served without an operation, and so without a scope.

The operation is the full gRPC method the route calls, or, for a REST-only route (the
hub), its operationId, one of auth.scopes.REST_ONLY_SCOPES. Its scope is
auth.scopes.required_scope of it, the very table gRPC uses, so a REST call and the RPC
behind it can never need different scopes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import hdrs, web

from interlude_server.auth.scopes import required_scope
from interlude_server.rest.backend import Backend, RpcFailure, not_implemented
from interlude_server.rest.errors import ANSWER_AS, AnswerAs
from interlude_server.rest.hub.subscriptions import HubApi

Api = TypeVar("Api")
ApiHandler = Callable[[Api, web.Request], Awaitable[web.StreamResponse]]
_V1 = "/mef.lso.interlude.v1."
_PATTERN = re.compile(r"\{(\w+):[^}]+\}")  # a path variable with its own pattern


@dataclass(frozen=True)
class RestOperation:
    """`operation_id` as MEF names it; `operation` is what Authenticator.admit checks."""

    operation_id: str
    operation: str

    @property
    def scope(self) -> str:
        return required_scope(self.operation)


@dataclass(frozen=True)
class Route(Generic[Api]):
    """One row: `handler(api, request)` serves `method` at `path` (below its table's base)
    as MEF's `operation_id`, calling the table service's `rpc` ("": a REST-only operation)."""

    method: str
    path: str
    handler: ApiHandler[Api]
    operation_id: str
    rpc: str = ""
    # GET only: aiohttp also answers HEAD with the handler (admitted as no operation, so
    # refused in-process). Kept on the routes that have always had it.
    allow_head: bool = False
    # (status, AnswerAs): what this operation answers instead of a status of the error table
    # (rest.errors.REST_CODES) that its MEF file does not list for it.
    errors: tuple[tuple[int, AnswerAs], ...] = ()


# MEF's resource operations follow one naming rule, and so do the contract's RPCs: a
# resource named `TestJob` in the RPCs lives at `/testJob`, and `POST /testJob`,
# `GET /testJob`, `GET /testJob/{id}` are createTestJob, listTestJob, retrieveTestJob
# onto CreateTestJob, ListTestJobs, GetTestJob.


def collection(noun: str) -> str:
    """The path of a resource's collection (`TestJob`: `/testJob`)."""
    return "/" + noun[0].lower() + noun[1:]


def create_route(noun: str, handler: ApiHandler[Api]) -> Route[Api]:
    return Route("POST", collection(noun), handler, f"create{noun}", f"Create{noun}")


def list_route(noun: str, handler: ApiHandler[Api], plural: str = "", allow_head: bool = False) -> Route[Api]:
    """`plural`: the RPC's, when it is not `{noun}s` (`ServicePolicies`)."""
    return Route("GET", collection(noun), handler, f"list{noun}", f"List{plural or noun + 's'}", allow_head)


def retrieve_route(noun: str, handler: ApiHandler[Api], allow_head: bool = False) -> Route[Api]:
    return Route("GET", collection(noun) + "/{id}", handler, f"retrieve{noun}", f"Get{noun}", allow_head)


@dataclass(frozen=True)
class RouteTable(Generic[Api]):
    """The routes of one MEF API: its `base` path, the gRPC `service` its rows call (short
    name), the rows, and `serve`, which makes the API object their handlers are methods of
    from what this process serves. `serve` giving None means the process does not serve
    the API (the gateway has no hub): its paths then answer 501 with `absent`."""

    base: str
    service: str
    rows: tuple[Route[Api], ...]
    serve: Callable[[Backend, HubApi | None], Api | None]
    absent: str = ""

    def operations(self) -> Iterator[tuple[tuple[str, str], RestOperation]]:
        """((method, path template), operation) of every row."""
        for row in self.rows:
            operation = f"{_V1}{self.service}/{row.rpc}" if row.rpc else row.operation_id
            # As aiohttp names the matched route: a variable's pattern (`{location:.+}`) left out.
            template = _PATTERN.sub(r"{\1}", self.base + row.path)
            yield (row.method, template), RestOperation(row.operation_id, operation)

    def route_defs(self, backend: Backend, hub: HubApi | None) -> list[web.RouteDef]:
        api = self.serve(backend, hub)
        if api is None:
            paths = dict.fromkeys(self.base + row.path for row in self.rows)
            return [web.route("*", path, self._unavailable) for path in paths]
        return [self._route_def(row, api) for row in self.rows]

    def _route_def(self, row: Route[Api], api: Api) -> web.RouteDef:
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]] = functools.partial(row.handler, api)
        if row.errors:
            handler = _answering(handler, dict(row.errors))
        if row.method == hdrs.METH_GET:
            return web.get(self.base + row.path, handler, allow_head=row.allow_head)
        return web.route(row.method, self.base + row.path, handler)

    async def _unavailable(self, _request: web.Request) -> web.Response:
        raise RpcFailure(not_implemented(self.absent))


def _answering(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]], instead: dict[int, AnswerAs]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`handler`, its request marked with the statuses its operation answers instead (read by
    the error middleware, rest.errors.answered_as)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        request[ANSWER_AS] = instead
        return await handler(request)

    return answer
