"""REST test helpers: a small synchronous client and a recording MEF listener."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

INV = "/mefApi/interlude/serviceInventory/v2"
ORD = "/mefApi/interlude/serviceOrderingManagement/v1"
CAT = "/mefApi/interlude/serviceCatalog/v1"
SFT = "/mefApi/interlude/serviceFunctionTesting/v3"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class RestClient:
    """Blocking JSON over HTTP(S) against one base URL, as a given buyer.

    `buyer` is sent as the development `X-Interlude-Buyer` header (None: not sent);
    `token` as `Authorization: Bearer`; `tls` is the client's SSL context for https URLs
    (trusted CA and, for mTLS, the client certificate).
    """

    def __init__(
        self,
        base_url: str,
        buyer: str | None = "sp-alpha",
        *,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url
        self.buyer = buyer
        self.token = token
        self.tls = tls

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if self.buyer is not None:
            request.add_header("X-Interlude-Buyer", self.buyer)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.tls) as response:
                raw, status, got = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, dict(error.headers)
        return Reply(status, got, json.loads(raw) if raw else None)

    def get(self, path: str) -> Reply:
        return self.call("GET", path)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return self.call("POST", path, body, headers)

    def delete(self, path: str) -> Reply:
        return self.call("DELETE", path)


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes


@dataclass
class Listener:
    """A buyer's MEF listener on 127.0.0.1: records every notification POSTed to it.

    Runs its own event loop on a thread; `down()` really closes the port (the
    server sees connection refused) and `up()` opens the same port again.
    """

    port: int = 0
    received: list[Delivery] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _runner: web.AppRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/buyer"

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            self.received.append(Delivery(request.path, dict(request.headers), json.loads(raw), raw))
        return web.Response(status=204)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/buyer/{tail:.*}", self._receive)
        # A delivery still arriving must not hold the listener open for aiohttp's default 60 s.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def up(self) -> None:
        self._run(self._start())

    def down(self) -> None:
        if self._runner is not None:
            self._run(self._runner.cleanup())
            self._runner = None

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.body for d in self.received]

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self.received)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.bodies()):
            assert time.monotonic() < deadline, f"listener has {len(self.bodies())} events; timed out"
            time.sleep(0.05)


@contextlib.contextmanager
def gateway_process(workdir: Path, upstream: str, *extra: str) -> Iterator[str]:
    """A real `interlude-rest-gateway` in front of `upstream`; yields its base URL."""
    ready = workdir / "gateway.ready"
    command = [
        sys.executable, "-m", "interlude_server.runtime.gateway", "--upstream", upstream,
        "--listen", "127.0.0.1:0", "--ready-file", str(ready), "--log-format", "json", *extra,
    ]  # fmt: skip
    with (workdir / "gateway.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert proc.poll() is None, (workdir / "gateway.log").read_text()
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.05)
        yield "http://" + ready.read_text().strip()
    finally:
        proc.terminate()
        code = proc.wait(10)
    assert code == 0
