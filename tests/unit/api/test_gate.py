"""The metadata a call's stages read (one pass), and the gate's decisions under `--auth none`,
which it makes once per method and buyer: the same principal each time, never a refusal
kept, and a call with `authorization` metadata always decided afresh."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from interlude_server.api import principal as api_principal
from interlude_server.api.principal import AuthGate, CallHeaders
from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.scopes import ALL_SCOPES
from interlude_server.core.errors import MissingScope, Unauthenticated

GET_SERVICE = "/mef.lso.interlude.v1.ServiceInventoryService/GetService"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
UNMAPPED = "/mef.lso.interlude.v1.ServiceInventoryService/NoSuchMethod"


class NoContext:
    """A servicer context the `--auth none` gate must not need (no certificate is read)."""

    def auth_context(self) -> Any:
        raise AssertionError("auth none reads no peer certificate")


NO_CONTEXT: Any = NoContext()


def _headers(*pairs: tuple[str, str | bytes]) -> CallHeaders:
    return CallHeaders(pairs)


def test_call_headers_keep_the_first_text_value_of_each_key_and_skip_binary_ones() -> None:
    headers = _headers(
        ("user-agent", "grpc-python"),
        ("x-interlude-buyer", b"binary"),
        ("x-interlude-buyer", "sp-beta"),
        ("x-interlude-buyer", "sp-gamma"),
        ("x-request-id", "req-7"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", "rojo=1"),
        ("authorization", "Bearer abc"),
        ("authorization", "Bearer other"),
    )
    assert (headers.buyer, headers.request_id, headers.authorization) == ("sp-beta", "req-7", "Bearer abc")
    assert headers.traceparent.startswith("00-0af7651916cd43dd")
    assert headers.tracestate == "rojo=1"
    empty = CallHeaders(None)
    fields = (empty.authorization, empty.buyer, empty.request_id, empty.traceparent, empty.tracestate)
    assert fields == ("", "", "", "", "")


def test_auth_none_admits_each_method_and_buyer_once_and_keeps_the_decision() -> None:
    gate = AuthGate(Authenticator("none", default_buyer="sp-alpha"))
    first = gate(GET_SERVICE, _headers(("x-interlude-buyer", "sp-beta")), NO_CONTEXT)
    again = gate(GET_SERVICE, _headers(("x-interlude-buyer", "sp-beta")), NO_CONTEXT)
    assert first is not None
    assert first is again
    assert (first.buyer, first.scopes) == ("sp-beta", ALL_SCOPES)
    default = gate(GET_SERVICE, _headers(), NO_CONTEXT)
    assert default is not None
    assert default.buyer == "sp-alpha"
    assert gate(HEALTH_CHECK, _headers(("x-interlude-buyer", "sp-beta")), NO_CONTEXT) is None


def test_auth_none_refuses_a_malformed_authorization_every_time() -> None:
    gate = AuthGate(Authenticator("none", default_buyer="sp-alpha"))
    buyer = ("x-interlude-buyer", "sp-beta")
    assert gate(GET_SERVICE, _headers(buyer), NO_CONTEXT) is not None  # a decision kept for this pair
    for _ in range(2):
        with pytest.raises(Unauthenticated) as raised:
            gate(GET_SERVICE, _headers(buyer, ("authorization", "Basic abc")), NO_CONTEXT)
        assert raised.value.cause == "malformed_authorization"
    # a well-formed bearer token is decided afresh too, and auth none ignores it
    admitted = gate(GET_SERVICE, _headers(buyer, ("authorization", "Bearer abc")), NO_CONTEXT)
    assert admitted is not None
    assert admitted.buyer == "sp-beta"


def test_a_refusal_is_not_kept_it_is_made_and_logged_each_time() -> None:
    gate = AuthGate(Authenticator("none", default_buyer="sp-alpha"))
    with capture_logs() as logs:
        for _ in range(3):
            with pytest.raises(MissingScope):
                gate(UNMAPPED, _headers(), NO_CONTEXT)
    assert [entry["event"] for entry in logs] == ["auth.denied"] * 3


def test_the_kept_decisions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_principal, "_DECISIONS_MAX", 3)
    gate = AuthGate(Authenticator("none", default_buyer="sp-alpha"))
    first = gate(GET_SERVICE, _headers(("x-interlude-buyer", "b0")), NO_CONTEXT)
    for n in range(1, 4):
        gate(GET_SERVICE, _headers(("x-interlude-buyer", f"b{n}")), NO_CONTEXT)
    assert len(gate._decided or {}) == 1  # full at b3: emptied, then b3's decision kept
    kept = gate(GET_SERVICE, _headers(("x-interlude-buyer", "b3")), NO_CONTEXT)
    assert kept is gate(GET_SERVICE, _headers(("x-interlude-buyer", "b3")), NO_CONTEXT)
    again = gate(GET_SERVICE, _headers(("x-interlude-buyer", "b0")), NO_CONTEXT)
    assert again is not first
    assert again == first
