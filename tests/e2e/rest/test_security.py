"""REST security against real server processes: HTTPS and mTLS on `--rest-listen`, bearer tokens
through the same Authenticator as gRPC, the per-route scope table, and the gateway's forwarding.

Certificates, keys and tokens are generated when the module runs (tests/support/security.py).
"""

from __future__ import annotations

import functools
import json
import ssl
import urllib.error
from collections.abc import Callable, Iterator

import pytest

from interlude_server.rest.operations import REST_OPERATIONS
from tests.support.rest import INV, ORD, RestClient, gateway_process
from tests.support.security import (
    ALL,
    REFUSED,
    CertificateAuthority,
    Issued,
    Kit,
    has_subject_alternative_names,
)
from tests.support.server_process import ServerProcess, serve_demo

Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit.build(tmp_path_factory.mktemp("pki"))


def _serve(
    tmp_path_factory: pytest.TempPathFactory, name: str, kit: Kit, *args: str
) -> Iterator[ServerProcess]:
    """A secured server with the REST adapter; gRPC health is checked with alpha's certificate
    when the server wants one."""
    client = kit.alpha_client if "--tls-client-ca" in args else None
    workdir = tmp_path_factory.mktemp(name)
    yield from serve_demo(workdir, "--rest-listen", "127.0.0.1:0", *args, credentials=kit.credentials(client))


# The secured servers of this module, by mode: the flags after `--auth MODE`.
MODES: dict[str, Callable[[Kit], list[str]]] = {
    "token": lambda kit: [
        *kit.tls_args(),
        *kit.token_args(),
        *("--jwt-leeway", "1", "--max-message-bytes", "65536"),
        *("--hub-callback-allow", "127.0.0.0/8", "--hub-callback-allow", "*.sp-alpha.example"),
    ],
    "mtls": lambda kit: kit.tls_args(mtls=True),
    "token+mtls": lambda kit: [*kit.tls_args(mtls=True), *kit.token_args()],
}


def _server_of(mode: str) -> Callable[[pytest.TempPathFactory, Kit], Iterator[ServerProcess]]:
    def serve(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
        yield from _serve(tmp_path_factory, f"rest-{mode}", kit, "--auth", mode, *MODES[mode](kit))

    return serve


token_server = pytest.fixture(scope="module", name="token_server")(_server_of("token"))
mtls_server = pytest.fixture(scope="module", name="mtls_server")(_server_of("mtls"))
both_server = pytest.fixture(scope="module", name="both_server")(_server_of("token+mtls"))


def _https(server: ServerProcess) -> str:
    return f"https://{server.rest}"


def _client(
    server: ServerProcess,
    kit: Kit,
    token: str | None = None,
    *,
    client: Issued | None = None,
    trust: CertificateAuthority | None = None,
) -> RestClient:
    """An HTTPS client of the REST port, sending no development buyer header."""
    return RestClient(_https(server), None, token=token, tls=kit.ssl_context(client, trust))


def _authorization(metadata: Metadata) -> dict[str, str]:
    return {"Authorization": dict(metadata)["authorization"]} if metadata else {}


def _services(rest: RestClient) -> set[str]:
    reply = rest.get(f"{INV}/service?limit=200")
    assert reply.status == 200, reply.body
    return {s["id"] for s in reply.body}


def _only(ids: set[str], prefix: str) -> bool:
    """Non-empty, and every id is of the buyer the prefix names."""
    return bool(ids) and all(i.startswith(prefix) for i in ids)


# --- tokens ----------------------------------------------------------------------------------------


def test_a_valid_token_acts_for_its_buyer_and_the_dev_header_is_ignored(
    token_server: ServerProcess, kit: Kit
) -> None:
    alpha = _services(_client(token_server, kit, kit.issuer.mint("sp-alpha")))
    beta = _services(_client(token_server, kit, kit.issuer.mint("sp-beta")))
    assert _only(alpha, "alpha-")
    assert _only(beta, "beta-")
    # A token for alpha with the development header naming beta still acts for alpha.
    spoof = RestClient(
        _https(token_server), "sp-beta", token=kit.issuer.mint("sp-alpha"), tls=kit.ssl_context()
    )
    assert _services(spoof) == alpha
    # The header alone proves nothing.
    header_only = RestClient(_https(token_server), "sp-beta", tls=kit.ssl_context()).get(f"{INV}/service")
    assert (header_only.status, header_only.body["code"]) == (401, "missingCredentials")
    assert "auth.dev_header_ignored" in token_server.logs()


@pytest.mark.parametrize(("case", "metadata_of", "cause"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_or_missing_tokens_are_401_with_the_mef_code(
    token_server: ServerProcess,
    kit: Kit,
    case: str,
    metadata_of: Callable[[Kit], Metadata],
    cause: str,
) -> None:
    headers = _authorization(metadata_of(kit))
    reply = _client(token_server, kit).call("GET", f"{ORD}/serviceOrder", headers=headers)
    assert reply.status == 401, case
    expected = "missingCredentials" if cause == "missing_credentials" else "invalidCredentials"
    assert reply.body["code"] == expected
    assert reply.body["referenceError"].endswith(":UNAUTHENTICATED")
    assert reply.headers["X-Interlude-Reason"] == "UNAUTHENTICATED"
    challenge = reply.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="interlude"')
    assert ('error="invalid_token"' in challenge) == (cause != "missing_credentials")
    denied = [
        json.loads(line)
        for line in token_server.logs().splitlines()
        if '"auth.denied"' in line and f'"cause": "{cause}"' in line
    ]
    assert denied, f"no auth.denied with cause {cause}"
    for key, value in headers.items():
        assert value.split()[-1] not in token_server.logs(), f"{key} was logged"


def _concrete(template: str) -> str:
    return template.replace("{id}", "no-such-id")


def test_every_rest_operation_needs_its_scope(token_server: ServerProcess, kit: Kit) -> None:
    problems: list[str] = []
    for (method, template), operation in REST_OPERATIONS.items():
        body: dict[str, str] | None = {} if method == "POST" else None
        others = tuple(s for s in ALL if s != operation.scope)
        without = _client(token_server, kit, kit.issuer.mint(scopes=others))
        refused = without.call(method, _concrete(template), body)
        if refused.status != 403 or refused.body["code"] != "accessDenied":
            problems.append(f"{method} {template} without {operation.scope!r}: {refused.status}")
        elif f'scope="{operation.scope}"' not in refused.headers.get("WWW-Authenticate", ""):
            problems.append(f"{method} {template}: the challenge does not name {operation.scope!r}")
        only = _client(token_server, kit, kit.issuer.mint(scopes=(operation.scope,)))
        admitted = only.call(method, _concrete(template), body)
        if admitted.status in (401, 403):
            problems.append(f"{method} {template} with only {operation.scope!r}: {admitted.status}")
    assert not problems, "\n".join(problems)


def test_a_body_over_the_size_limit_is_refused(token_server: ServerProcess, kit: Kit) -> None:
    rest = _client(token_server, kit, kit.issuer.mint())
    reply = rest.post(f"{ORD}/serviceOrder", {"note": "x" * 70_000})
    assert reply.status == 400
    assert reply.headers["X-Interlude-Reason"] == "INVALID_BODY"
    assert "65536" in reply.body["reason"]


def test_hub_callbacks_are_held_to_the_allow_list(token_server: ServerProcess, kit: Kit) -> None:
    rest = _client(token_server, kit, kit.issuer.mint())
    allowed = rest.post(f"{ORD}/hub", {"callback": "http://127.0.0.1:9/listener"})
    assert allowed.status == 201, allowed.body
    assert rest.delete(f"{ORD}/hub/{allowed.body['id']}").status == 204
    for refused in ("http://169.254.169.254/latest", "https://sp-beta.example/x", "file:///etc/passwd"):
        reply = rest.post(f"{ORD}/hub", {"callback": refused})
        assert reply.status == 422, refused
        assert [(v["propertyPath"], v["code"]) for v in reply.body] == [("/callback", "invalidValue")]


# --- transport -------------------------------------------------------------------------------------


def _handshake_fails(call: Callable[[], object]) -> bool:
    try:
        call()
    except (urllib.error.URLError, ssl.SSLError, ConnectionError):
        return True
    return False


def test_https_needs_the_partner_ca_and_plaintext_is_refused(token_server: ServerProcess, kit: Kit) -> None:
    token = kit.issuer.mint()
    assert _client(token_server, kit, token).get(f"{INV}/service").status == 200
    rogue = _client(token_server, kit, token, trust=kit.rogue_ca)
    assert _handshake_fails(lambda: rogue.get(f"{INV}/service"))
    plain = RestClient(f"http://{token_server.rest}", None, token=token)
    assert _handshake_fails(lambda: plain.get(f"{INV}/service"))


def test_mtls_maps_the_client_certificate_to_its_buyer_and_scopes(
    mtls_server: ServerProcess, kit: Kit
) -> None:
    assert _only(_services(_client(mtls_server, kit, client=kit.alpha_client)), "alpha-")
    beta = _client(mtls_server, kit, client=kit.beta_client)  # mapped with the `read` scope only
    assert _only(_services(beta), "beta-")
    order = beta.post(f"{ORD}/serviceOrder", {})
    assert (order.status, order.body["code"]) == (403, "accessDenied")
    unmapped = _client(mtls_server, kit, client=kit.unmapped_client).get(f"{INV}/service")
    assert (unmapped.status, unmapped.body["code"]) == (401, "invalidCredentials")


def test_a_client_certificate_without_subject_alternative_names_maps_by_subject_or_is_refused(
    mtls_server: ServerProcess, kit: Kit
) -> None:
    assert not has_subject_alternative_names(kit.alpha_client)
    assert not has_subject_alternative_names(kit.unmapped_client)
    unmapped = _client(mtls_server, kit, client=kit.unmapped_client).get(f"{INV}/service")
    assert (unmapped.status, unmapped.body["code"]) == (401, "invalidCredentials")
    assert unmapped.headers["X-Interlude-Reason"] == "UNAUTHENTICATED"
    assert _only(_services(_client(mtls_server, kit, client=kit.alpha_client)), "alpha-")


def test_mtls_handshake_fails_without_a_certificate_from_the_client_ca(
    mtls_server: ServerProcess, kit: Kit
) -> None:
    expired = kit.sp_ca.issue("sof.alpha.example", org="Alpha SP", expired=True)
    for client in (None, kit.rogue_client, expired):
        rest = _client(mtls_server, kit, client=client)
        assert _handshake_fails(functools.partial(rest.get, f"{INV}/service")), client


def test_token_and_certificate_must_name_the_same_buyer(both_server: ServerProcess, kit: Kit) -> None:
    same = _client(both_server, kit, kit.issuer.mint("sp-alpha"), client=kit.alpha_client)
    assert _only(_services(same), "alpha-")
    # Alpha's certificate entry grants `order`: the (empty) order reaches validation.
    assert same.post(f"{ORD}/serviceOrder", {}).status == 422
    crossed = _client(both_server, kit, kit.issuer.mint("sp-beta"), client=kit.alpha_client).get(
        f"{INV}/service"
    )
    assert (crossed.status, crossed.body["code"]) == (401, "invalidCredentials")
    no_token = _client(both_server, kit, client=kit.alpha_client).get(f"{INV}/service")
    assert (no_token.status, no_token.body["code"]) == (401, "missingCredentials")
    capped = _client(both_server, kit, kit.issuer.mint("sp-beta"), client=kit.beta_client)  # `read` only
    assert (capped.post(f"{ORD}/serviceOrder", {}).status, capped.get(f"{INV}/service").status) == (403, 200)


# --- gateway ---------------------------------------------------------------------------------------


def test_the_gateway_forwards_the_callers_authorization_upstream(
    token_server: ServerProcess, kit: Kit, tmp_path_factory: pytest.TempPathFactory
) -> None:
    upstream_ca = kit.partner_ca.write(kit.root / "upstream")
    workdir = tmp_path_factory.mktemp("gw")
    with gateway_process(workdir, token_server.target, "--upstream-ca", str(upstream_ca)) as url:
        missing = RestClient(url, "sp-beta").get(f"{INV}/service")
        assert (missing.status, missing.body["code"]) == (401, "missingCredentials")
        expired = RestClient(url, None, token=kit.issuer.mint(exp=1)).get(f"{INV}/service")
        assert (expired.status, expired.body["code"]) == (401, "invalidCredentials")
        assert _only(_services(RestClient(url, None, token=kit.issuer.mint("sp-beta"))), "beta-")
