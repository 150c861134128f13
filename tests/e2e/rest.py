"""REST test helpers: a small synchronous client and a recording MEF listener."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """Blocking JSON over HTTP against one base URL, as a given buyer."""

    def __init__(self, base_url: str, buyer: str = "sp-alpha") -> None:
        self.base_url = base_url
        self.buyer = buyer

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("X-Interlude-Buyer", self.buyer)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
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
        self._runner = web.AppRunner(app, access_log=None)
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
