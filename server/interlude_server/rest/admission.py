"""Who a REST request acts for: checked here (in-process), or forwarded (gateway).

In-process, `Admit` runs the shared Authenticator on the request's credentials
(`Authorization: Bearer`, the client certificate of the TLS connection, the
development `X-Interlude-Buyer` header, honoured only with `--auth none`) for
the operation of the matched route (rest.operations), exactly as the gRPC
interceptor does for an RPC. In gateway mode, `Forward` checks nothing itself:
the caller's `authorization` header travels upstream as metadata and the
upstream server admits the call.
"""

from __future__ import annotations

import ssl
from typing import Protocol

from aiohttp import web

from interlude_server.api.principal import AUTHORIZATION_METADATA, BUYER_METADATA
from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.http import http_credentials
from interlude_server.core.errors import Unauthenticated
from interlude_server.rest.backend import Caller, Metadata
from interlude_server.rest.operations import rest_operation


class Admission(Protocol):
    def __call__(self, request: web.Request) -> Caller:
        """The caller of a request whose route matched; raises Unauthenticated/MissingScope."""


def route_template(request: web.Request) -> str:
    """The matched route's path template (`/mefApi/.../service/{id}`)."""
    return request.match_info.route.resource.canonical if request.match_info.route.resource else ""


def _ssl_object(request: web.Request) -> ssl.SSLObject | None:
    transport = request.transport
    found = transport.get_extra_info("ssl_object") if transport is not None else None
    return found if isinstance(found, ssl.SSLObject) else None


class Admit:
    """In-process: the principal of each request, from the shared Authenticator."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def __call__(self, request: web.Request) -> Caller:
        operation = rest_operation(request.method, route_template(request))
        principal = self.authenticator.admit(
            lambda: http_credentials(request.headers, _ssl_object(request)), operation.operation
        )
        if principal is None:  # no REST operation is public; never serve one unscoped
            message = f"{operation.operation_id} is not served without a principal"
            raise Unauthenticated(message, "missing_credentials")
        return Caller(principal.buyer, principal)


class Forward:
    """Gateway: forward the caller's credentials; the upstream decides.

    A request with `Authorization` forwards it alone (the buyer is the upstream's to
    find); one without forwards the development buyer header (or `--default-buyer`),
    which only an upstream in auth none mode honours. `Caller.buyer` is then a claim,
    used for logs only.
    """

    def __init__(self, default_buyer: str) -> None:
        self.default_buyer = default_buyer

    def __call__(self, request: web.Request) -> Caller:
        if authorization := request.headers.get(AUTHORIZATION_METADATA):
            forward: Metadata = ((AUTHORIZATION_METADATA, authorization),)
            return Caller("", forward=forward)
        buyer = request.headers.get(BUYER_METADATA) or self.default_buyer
        return Caller(buyer, forward=((BUYER_METADATA, buyer),))
