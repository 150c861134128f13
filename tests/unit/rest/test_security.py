"""The REST security tables: every route has an operation and a scope (and the README says so),
and the hub's callback policy (SSRF guard) refuses what it must."""

from __future__ import annotations

import pytest

from interlude_server.auth.callbacks import CallbackPolicy
from interlude_server.auth.scopes import ALL_SCOPES
from interlude_server.rest.admission import Forward
from interlude_server.rest.app import build_app
from interlude_server.rest.backend import InProcessBackend
from interlude_server.rest.hub.subscriptions import HubApi
from interlude_server.rest.operations import REST_OPERATIONS, UNLISTED, rest_operation
from tests.support.paths import README


class _NoDeliveries:
    def start(self, sub: object) -> None: ...

    async def forget(self, sub_id: str) -> None: ...


def _routes(with_hub: bool = True) -> set[tuple[str, str]]:
    hub = HubApi(store=None, deliveries=_NoDeliveries()) if with_hub else None  # type: ignore[arg-type]
    app = build_app(InProcessBackend([]), hub, Forward("sp-alpha"), 1 << 20)
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


PROBES = {("GET", "/healthz"), ("GET", "/readyz")}


def test_every_rest_route_has_an_operation_with_a_grantable_scope() -> None:
    routes = _routes()
    assert routes - PROBES == set(REST_OPERATIONS), "a route lacks an entry, or an entry names no route"
    for key, operation in REST_OPERATIONS.items():
        assert operation.scope in ALL_SCOPES, (key, operation)


def test_the_probes_are_served_outside_every_mef_api_and_its_scopes() -> None:
    assert _routes() >= PROBES
    assert _routes(with_hub=False) >= PROBES
    for method, path in PROBES:
        assert not path.startswith("/mefApi/")
        assert rest_operation(method, path) is UNLISTED  # no MEF operation, so no scope table row


def test_the_gateway_serves_the_same_routes_but_any_method_on_a_hub_path_is_501() -> None:
    hub = {(method, template) for method, template in REST_OPERATIONS if "/hub" in template}
    assert hub, "every API carries a /hub"
    expected = (set(REST_OPERATIONS) - hub) | {("*", template) for _m, template in hub}
    assert _routes(with_hub=False) - PROBES == expected


def test_an_unlisted_route_needs_a_scope_no_one_has() -> None:
    assert rest_operation("PATCH", "/mefApi/interlude/serviceInventory/v2/service/{id}") is UNLISTED
    assert UNLISTED.scope not in ALL_SCOPES


def test_the_readme_lists_every_rest_operation_with_its_scope() -> None:
    text = README.read_text()
    for (method, template), operation in REST_OPERATIONS.items():
        short = template.removeprefix("/mefApi/interlude/")
        row = f"| `{method} {short}` | `{operation.operation_id}` | `{operation.scope}` |"
        assert row in text, f"README's REST scope table lacks {row}"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://listener.sp.example/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http://",
        "listener.sp.example/x",
        "http://user:secret@listener.sp.example/x",
        "http://[::1",
    ],
)
def test_a_callback_must_be_a_plain_http_url(url: str) -> None:
    assert CallbackPolicy().problem(url) is not None


def test_without_an_allow_list_any_http_host_is_a_callback() -> None:
    assert CallbackPolicy().problem("https://listener.sp.example:8443/mef") is None
    assert CallbackPolicy().problem("http://127.0.0.1:9/x") is None


def test_the_allow_list_matches_hosts_domains_and_networks() -> None:
    policy = CallbackPolicy(["listener.sp.example", "*.alpha.example", "203.0.113.0/24", "::1/128"])
    allowed = [
        "https://LISTENER.sp.example/x",
        "https://hooks.alpha.example/x",
        "https://a.b.alpha.example:8443/x",
        "http://203.0.113.7:8080/x",
        "http://[::1]:9/x",
    ]
    refused = [
        "https://sp.example/x",
        "https://alpha.example/x",  # the suffix form needs a name below the domain
        "https://evilalpha.example/x",
        "http://203.0.114.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/x",
    ]
    assert [u for u in allowed if policy.problem(u) is not None] == []
    assert [u for u in refused if policy.problem(u) is None] == []


@pytest.mark.parametrize("entry", ["*", "*.", "", "10.0.0.0/33", "a*b.example"])
def test_a_malformed_allow_list_entry_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        CallbackPolicy([entry])
