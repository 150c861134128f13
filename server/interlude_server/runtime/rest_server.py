"""Run a REST application on a listen address (port 0 picks a free port), over HTTPS when
TLS files are given (the same --tls-* files as gRPC; with --tls-client-ca, mTLS).

Over-long requests get MEF error bodies: aiohttp reads request targets and header fields up to
READ_LIMIT bytes (its own default, 8190, would answer a plain-text 400 before the app sees the
request), and the outermost middleware refuses a target over MAX_TARGET with 414 and a header
field over MAX_HEADER_FIELD with 431, both reason INVALID_REQUEST. What aiohttp's parser itself
refuses (a line past READ_LIMIT, a request that is not HTTP) gets a MEF body too: the server's
connection handler answers it (414/431 INVALID_REQUEST, or 400 INVALID_BODY) instead of
aiohttp's plain text, logging one line, not a traceback.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from aiohttp import web, web_protocol
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from interlude_server.api.binding import ServiceBinding
from interlude_server.api.overload import LoadLimiter
from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.tls import server_ssl_context
from interlude_server.config import Config, Listen
from interlude_server.observability.metrics import Metrics
from interlude_server.rest.admission import Admit
from interlude_server.rest.app import build_app
from interlude_server.rest.backend import InProcessBackend
from interlude_server.rest.common import Handler, error_response
from interlude_server.rest.errors import MefError, request_too_large, unparsable_request
from interlude_server.rest.hub.delivery import Dispatcher
from interlude_server.rest.hub.subscriptions import HubApi
from interlude_server.rest.middleware import ACCESS, METRICS
from interlude_server.rest.readiness import Readiness
from interlude_server.store.interface.store import Store

MAX_TARGET = 8190  # bytes of the request target (path and query); longer is 414
MAX_HEADER_FIELD = 8190  # bytes of one header field (name and value); longer is 431
READ_LIMIT = 65536  # what aiohttp reads of a request line or header field before its own 400
log = structlog.get_logger(__name__)


@web.middleware
async def within_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """414 / 431 with a MEF body for a request target or header field past the limits."""
    err = None
    if len(request.raw_path) > MAX_TARGET:
        err = request_too_large(414, f"the request target is longer than {MAX_TARGET} bytes")
    elif any(len(name) + len(value) > MAX_HEADER_FIELD for name, value in request.raw_headers):
        err = request_too_large(431, f"a header field is longer than {MAX_HEADER_FIELD} bytes")
    if err is None:
        return await handler(request)
    log.info("rest.too_large", status=err.http, method=request.method, target_bytes=len(request.raw_path))
    response = error_response(err)
    response.force_close()
    return response


def _unparsed(exc: BaseException | None) -> MefError | None:
    """The MEF error for a request aiohttp's parser refused; None for any other error."""
    if isinstance(exc, LineTooLong):
        # The C parser raises from its URL callback for the request line, and aiohttp's own
        # words name it ("Status line is too long" in 3.9); anything else is a header field.
        frames = _frame_names(exc)
        if any("url" in f for f in frames) or "status line" in str(exc).lower():
            return request_too_large(414, f"the request target is longer than {MAX_TARGET} bytes")
        return request_too_large(431, f"a header field is longer than {MAX_HEADER_FIELD} bytes")
    if isinstance(exc, HttpProcessingError):
        return unparsable_request(str(exc.message))
    return None


def _frame_names(exc: BaseException) -> list[str]:
    names, tb = [], exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return names


class _MefRequestHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering what its parser refuses with a MEF error body."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        err = _unparsed(exc) if status == 400 else None
        if err is None:
            return super().handle_error(request, status, exc, message)
        log.info("rest.unparsable", status=err.http, error=str(message or exc)[:200])
        response = error_response(err)
        response.force_close()
        return response


class _MefServer(web.Server):
    """aiohttp's server, its connections handled by _MefRequestHandler."""

    def __call__(self) -> web_protocol.RequestHandler:
        handler = super().__call__()
        handler.__class__ = _MefRequestHandler  # same layout (no slots added): only the method differs
        return handler


@dataclass(frozen=True)
class RestServer:
    runner: web.AppRunner
    listen: Listen  # with the port actually bound

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_rest(
    listen: Listen,
    app: web.Application,
    shutdown_timeout: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
) -> RestServer:
    """Bind and serve `app`; raises OSError if the address cannot be bound. `reuse_port`: the
    processes of `--workers N` share the port (SO_REUSEPORT); otherwise a port in use fails.
    `app` gets the `within_limits` middleware, outermost."""
    app.middlewares.insert(0, within_limits)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        max_line_size=READ_LIMIT,
        max_field_size=READ_LIMIT,
    )
    await runner.setup()
    if runner.server is not None:
        runner.server.__class__ = _MefServer  # aiohttp has no hook for the connection handler class
    site = web.TCPSite(runner, listen.host, listen.port, reuse_port=reuse_port, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = int(runner.addresses[0][1])
    return RestServer(runner, Listen(listen.host, port))


@dataclass(frozen=True)
class InProcessRest:
    """The REST adapter inside interlude-server: its HTTP server and hub delivery."""

    server: RestServer
    dispatcher: Dispatcher

    async def stop(self, grace: float) -> None:
        """Stop taking requests, then let deliveries in flight finish and record their cursors."""
        await self.server.stop()
        await self.dispatcher.close(grace)


async def start_in_process(
    config: Config,
    store: Store,
    dispatcher: Dispatcher,
    bindings: Sequence[ServiceBinding],
    authenticator: Authenticator,
    limiter: LoadLimiter | None = None,
    metrics: Metrics | None = None,
    readiness: Readiness | None = None,
) -> InProcessRest:
    """Serve REST on `config.rest_listen` over the servicers of `bindings`, admitting each request
    with the gRPC server's `authenticator`, shedding past the gRPC server's `limiter` (counting
    each in `metrics`, if given) and answering `/readyz` from `readiness`, and resume hub
    delivery. Raises OSError (bind, TLS files)."""
    assert config.rest_listen is not None
    security = config.security
    hub = HubApi(store, dispatcher, dispatcher.settings.callbacks)
    app = build_app(
        InProcessBackend(bindings), hub, Admit(authenticator), security.max_message_bytes, limiter, readiness
    )
    if metrics is not None:
        app[METRICS] = metrics.rest()
    app[ACCESS] = config.access
    tls = server_ssl_context(security.tls) if security.tls is not None else None
    server = await start_rest(
        config.rest_listen, app, ssl_context=tls, reuse_port=config.worker_index is not None
    )
    await dispatcher.open()
    return InProcessRest(server, dispatcher)
