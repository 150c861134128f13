"""What every REST handler shares: JSON responses, the caller, the query, the body, links."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from aiohttp import web

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api.errors import rich_status
from interlude_server.rest import mapping as m
from interlude_server.rest.backend import Caller, RpcFailure
from interlude_server.rest.errors import REASON_HEADER, MefError

JSON = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "X-Request-Id"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY_ROOT = "body_root"  # set by a handler: the message field its body maps to, for error pointers
CALLER = "caller"


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_JSON_ONLY = {"Content-Type": JSON}  # aiohttp copies headers, so sharing this dict is safe


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = _ENCODE(data).encode()
    return web.Response(
        body=body, status=status, headers={"Content-Type": JSON, **headers} if headers else _JSON_ONLY
    )


def error_response(err: MefError) -> web.Response:
    return respond(err.body, err.http, {REASON_HEADER: err.reason, **dict(err.headers)})


def caller(request: web.Request) -> Caller:
    """Who the request acts for; set by the `admitted` middleware before any handler runs."""
    found: Caller = request[CALLER]
    return found


def etag(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"'} if etag else {}


def params(request: web.Request) -> dict[str, list[str]]:
    """The query with every value of a repeated parameter."""
    return {name: request.query.getall(name) for name in request.query}


@functools.lru_cache(maxsize=64)
def _hrefs(base: str) -> m.Hrefs:
    return m.Hrefs(base)


def hrefs(request: web.Request) -> m.Hrefs:
    return _hrefs(f"{request.scheme}://{request.host}")


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except web.HTTPRequestEntityTooLarge as exc:
        raise RpcFailure(
            rich_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                common_pb2.ERROR_REASON_INVALID_BODY,
                f"the body is larger than {request.client_max_size} bytes (--max-message-bytes)",
            )
        ) from exc
    except ValueError as exc:
        raise RpcFailure(
            rich_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                common_pb2.ERROR_REASON_INVALID_BODY,
                f"the body is not JSON: {exc}",
            )
        ) from exc
