"""What every REST handler shares: JSON responses, the caller, the query, the body, links,
a List RPC as one MEF page, and the create request a POST's body asks for."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any

import grpc
from aiohttp import web

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.api.errors import FieldViolation, rich_status
from interlude_server.core.text import json_problems
from interlude_server.rest import mapping as m
from interlude_server.rest import query
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


def request_id(request: web.Request) -> str:
    """The idempotency key of a mutating request (`X-Request-Id`; "" for none)."""
    return request.headers.get(REQUEST_ID_HEADER, "")


def if_match(request: web.Request) -> str:
    """The etag the request is conditional on (`If-Match`, unquoted; "" for none)."""
    return request.headers.get("If-Match", "").strip('"')


def etag(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"'} if etag else {}


def params(request: web.Request) -> dict[str, list[str]]:
    """The query with every value of a repeated parameter."""
    return {name: request.query.getall(name) for name in request.query}


_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def field_name(noun: str) -> str:
    """The message field of a resource named in an RPC (`TestProfile` -> `test_profile`)."""
    return _WORD.sub("_", noun).lower()


async def create_request(
    request: web.Request, messages: ModuleType, noun: str, parse: Callable[[Any], Any]
) -> tuple[str, Any]:
    """The Create{noun} request (of the generated `messages`) a POST's body asks for, and its
    field: `parse` reads the body, whose errors then point below that field."""
    value = parse(await json_body(request))
    field = field_name(noun)
    request[BODY_ROOT] = field
    return field, getattr(messages, f"Create{noun}Request")(request_id=request_id(request), **{field: value})


async def page_response(
    win: query.Window,
    req: Any,
    call: Callable[[Any], Awaitable[Any]],
    field: str,
    render: Callable[[Any], Any],
    ids_when_skipping: bool = False,
) -> web.Response:
    """The MEF page `win` of a List RPC, with its count headers: `call` sends `req` (the
    List request, its filter set) once per keyset page; the items, the response's `field`,
    are rendered by `render`. `ids_when_skipping`: a page walked past asks for ids only."""

    async def fetch(size: int, token: str, skipping: bool) -> tuple[Sequence[Any], str, int]:
        req.page_size, req.page_token = size, token
        if ids_when_skipping:
            req.ClearField("read_mask")
            if skipping:
                req.read_mask.paths.append("id")
        r = await call(req)
        return getattr(r, field), r.next_page_token, r.total_size

    page = await query.page_at(fetch, win)
    return respond([render(x) for x in page.items], headers=page.headers(win.offset))


@functools.lru_cache(maxsize=64)
def _hrefs(base: str) -> m.Hrefs:
    return m.Hrefs(base)


def hrefs(request: web.Request) -> m.Hrefs:
    return _hrefs(f"{request.scheme}://{request.host}")


async def json_body(request: web.Request) -> Any:
    """The parsed JSON body; refused (400 INVALID_BODY) when it is not JSON, too large, or
    holds what no layer below can keep: non-finite numbers (`NaN`, `Infinity`, `1e400`) and
    lone surrogates (`"\\ud800"`), each named by its JSON Pointer, all at once."""
    doc = await _parsed(request)
    problems = list(json_problems(doc))
    if problems:
        raise RpcFailure(
            rich_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                common_pb2.ERROR_REASON_INVALID_BODY,
                "the body holds non-finite numbers or invalid Unicode",
                field_violations=[
                    FieldViolation(field=path, description=problem, reason="invalidValue")
                    for path, problem in problems
                ],
            )
        )
    return doc


async def _parsed(request: web.Request) -> Any:
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
