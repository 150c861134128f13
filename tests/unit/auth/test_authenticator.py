"""The transport-agnostic decision: modes, certificate mapping, scopes, the scope table."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from google.protobuf.descriptor import ServiceDescriptor
from structlog.testing import capture_logs

from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.certificates import CertificateMap, MappingConfigError
from interlude_server.auth.principal import (
    Credentials,
    PeerCertificate,
    Principal,
    acting_as,
    bearer_token,
    current_principal,
    within_validity,
)
from interlude_server.auth.scopes import (
    ALL_SCOPES,
    REST_ONLY_SCOPES,
    RPC_SCOPES,
    UNMAPPED,
    is_public,
    required_scope,
)
from interlude_server.auth.tokens import PemKey, TokenPolicy, TokenVerifier
from interlude_server.core.errors import MissingScope, Unauthenticated
from tests.support.paths import README
from tests.support.security import AUDIENCE, ISSUER, CertificateAuthority, TokenIssuer

LIST = "/mef.lso.interlude.v1.ServiceInventoryService/ListServices"
ALPHA_CERT = PeerCertificate("CN=sof.alpha.example,O=Alpha SP", ("DNS:sof.alpha.example",))
BETA_CERT = PeerCertificate("CN=beta,O=Beta", ("URI:spiffe://beta.example/sof",))


def _map(tmp_path: Path, clients: list[dict[str, object]], scopes_required: bool = True) -> CertificateMap:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"clients": clients}))
    return CertificateMap.load(path, scopes_required=scopes_required)


@pytest.fixture
def cert_map(tmp_path: Path) -> CertificateMap:
    return _map(
        tmp_path,
        [
            {"subject": "CN=sof.alpha.example, O=Alpha SP", "buyer": "sp-alpha", "scopes": ["read", "order"]},
            {"san": "URI:spiffe://beta.example/sof", "buyer": "sp-beta", "scopes": ["read"]},
        ],
    )


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture
def tokens(issuer: TokenIssuer, tmp_path: Path) -> TokenVerifier:
    return TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), TokenPolicy(ISSUER, AUDIENCE))


def _cause(auth: Authenticator, credentials: Credentials) -> str:
    with pytest.raises(Unauthenticated) as raised:
        auth.admit(credentials, LIST)
    return raised.value.cause


def test_every_rpc_of_every_contract_service_has_a_scope(contract_services: list[ServiceDescriptor]) -> None:
    contract = {f"/{s.full_name}/{m.name}" for s in contract_services for m in s.methods}
    assert contract - set(RPC_SCOPES) == set(), "RPCs without a scope: add them to auth/scopes.py"
    assert set(RPC_SCOPES) - contract == set(), "scopes for RPCs the contract does not have"
    assert set(RPC_SCOPES.values()) | set(REST_ONLY_SCOPES.values()) <= ALL_SCOPES


def test_unknown_operations_fail_closed_and_health_is_public() -> None:
    assert required_scope("/mef.lso.interlude.v1.NewService/Anything") == UNMAPPED
    assert required_scope("registerListener") == "events"
    assert is_public("/grpc.health.v1.Health/Check")
    assert is_public("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    assert not is_public(LIST)


def test_auth_none_acts_for_the_dev_header_or_the_default_buyer() -> None:
    auth = Authenticator("none", default_buyer="sp-alpha")
    assert auth.admit(Credentials(dev_buyer="sp-beta"), LIST) == auth.authenticate(
        Credentials(dev_buyer="sp-beta")
    )
    principal = auth.admit(Credentials(), LIST)
    assert principal is not None
    assert (principal.buyer, principal.scopes) == ("sp-alpha", ALL_SCOPES)
    assert auth.admit(Credentials(), "/grpc.health.v1.Health/Check") is None


def test_token_mode_ignores_the_dev_header_and_logs_denials(
    tokens: TokenVerifier, issuer: TokenIssuer
) -> None:
    auth = Authenticator("token", tokens=tokens)
    principal = auth.admit(Credentials(bearer=issuer.mint("sp-alpha"), dev_buyer="sp-beta"), LIST)
    assert principal is not None
    assert principal.buyer == "sp-alpha"
    with capture_logs() as logs:
        assert _cause(auth, Credentials(dev_buyer="sp-beta")) == "missing_credentials"
    denied = [e for e in logs if e["event"] == "auth.denied"]
    assert denied[0]["cause"] == "missing_credentials"
    assert denied[0]["operation"] == LIST
    assert any(e["event"] == "auth.dev_header_ignored" for e in logs)


def test_a_missing_scope_is_refused_naming_it(tokens: TokenVerifier, issuer: TokenIssuer) -> None:
    auth = Authenticator("token", tokens=tokens)
    with pytest.raises(MissingScope) as raised:
        auth.admit(Credentials(bearer=issuer.mint("sp-alpha", ("order",))), LIST)
    assert raised.value.scope == "read"
    assert raised.value.reason == "MISSING_SCOPE"


def test_mtls_maps_subject_or_san_to_buyer_and_scopes(cert_map: CertificateMap) -> None:
    auth = Authenticator("mtls", certificates=cert_map)
    alpha = auth.admit(Credentials(certificate=ALPHA_CERT), LIST)
    beta = auth.authenticate(Credentials(certificate=BETA_CERT))
    assert alpha is not None
    assert (alpha.buyer, alpha.scopes) == ("sp-alpha", frozenset({"read", "order"}))
    assert (beta.buyer, beta.scopes, beta.via) == ("sp-beta", frozenset({"read"}), "mtls")
    assert _cause(auth, Credentials(certificate=PeerCertificate("CN=x"))) == "unknown_certificate"
    assert _cause(auth, Credentials()) == "missing_credentials"
    both = PeerCertificate(ALPHA_CERT.subject, BETA_CERT.sans)
    assert _cause(auth, Credentials(certificate=both)) == "ambiguous_certificate"


def test_token_plus_mtls_needs_both_to_agree(
    cert_map: CertificateMap, tokens: TokenVerifier, issuer: TokenIssuer
) -> None:
    auth = Authenticator("token+mtls", tokens=tokens, certificates=cert_map)
    principal = auth.authenticate(
        Credentials(bearer=issuer.mint("sp-alpha", ("read", "pm")), certificate=ALPHA_CERT)
    )
    assert (principal.buyer, principal.scopes, principal.via) == (
        "sp-alpha",
        frozenset({"read"}),
        "token+mtls",
    )
    assert (
        _cause(auth, Credentials(bearer=issuer.mint("sp-beta"), certificate=ALPHA_CERT)) == "buyer_mismatch"
    )
    assert _cause(auth, Credentials(bearer=issuer.mint("sp-alpha"))) == "missing_credentials"
    assert _cause(auth, Credentials(certificate=ALPHA_CERT)) == "missing_credentials"


def test_a_real_certificate_reads_as_its_rfc4514_subject_and_typed_sans() -> None:
    ca = CertificateAuthority("ca")
    issued = ca.issue(
        "sof.alpha.example",
        org="Alpha SP",
        dns=("SOF.Alpha.Example",),
        uris=("spiffe://a/b",),
        ips=("10.0.0.1",),
    )
    cert = PeerCertificate.from_pem(issued.cert)
    assert cert.subject == "CN=sof.alpha.example,O=Alpha SP"
    assert set(cert.sans) == {"DNS:sof.alpha.example", "URI:spiffe://a/b", "IP:10.0.0.1"}


@pytest.mark.parametrize(
    ("clients", "message"),
    [
        ([{"buyer": "b", "scopes": []}], "exactly one of subject or san"),
        ([{"san": "CN=x", "buyer": "b", "scopes": []}], "a SAN starts with"),
        ([{"san": "DNS:x", "buyer": "", "scopes": []}], "buyer"),
        ([{"san": "DNS:x", "buyer": "b"}], "scopes: required"),
        ([{"san": "DNS:x", "buyer": "b", "scopes": ["root"]}], "unknown"),
        (
            [{"san": "DNS:x", "buyer": "b", "scopes": []}, {"san": "DNS:X", "buyer": "c", "scopes": []}],
            "repeats",
        ),
    ],
)
def test_a_bad_mapping_file_is_refused(
    tmp_path: Path, clients: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(MappingConfigError, match=message):
        _map(tmp_path, clients)


def test_bearer_header_parsing() -> None:
    assert bearer_token(None) is None
    assert bearer_token("  ") is None
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc") == "abc"
    for bad in ("Basic abc", "Bearer", "Bearer a b", "abc"):
        with pytest.raises(Unauthenticated) as raised:
            bearer_token(bad)
        assert raised.value.cause == "malformed_authorization"
        assert raised.value.mef_code == "invalidCredentials"


def test_the_principal_is_scoped_to_the_block() -> None:
    principal = Authenticator("none", default_buyer="sp-beta").authenticate(Credentials())
    assert current_principal() is None
    with acting_as(principal):
        assert current_principal() == principal
    assert current_principal() is None
    assert Unauthenticated("m", "missing_credentials").mef_code == "missingCredentials"


def test_the_readme_scope_table_matches_the_enforced_one() -> None:
    readme = README.read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines() if line.startswith("| `")}
    for method, scope in RPC_SCOPES.items():
        service, rpc = method.rsplit("/", 1)
        row = rows[scope]
        whole_service = f"every RPC of {service.rsplit('.', 1)[1]}"
        assert f"`{rpc}`" in row or whole_service in row, f"README: {method} under `{scope}`"
        for other, line in rows.items():
            if other != scope and other in ALL_SCOPES:
                assert f"`{rpc}`" not in line, f"README lists {method} under `{other}` too"


async def test_a_stream_runs_only_while_its_token_is_valid() -> None:
    async def forever() -> None:
        await asyncio.sleep(30)

    async def own_timeout() -> None:
        raise TimeoutError("the handler's own")

    soon = Principal("sp-alpha", frozenset(), "s", "token", expires_at=time.time() + 0.05)
    with pytest.raises(Unauthenticated) as raised:
        await within_validity(soon, forever)
    assert raised.value.cause == "token_expired"
    with pytest.raises(TimeoutError, match="the handler's own"):
        await within_validity(
            Principal("b", frozenset(), "s", "token", expires_at=time.time() + 30), own_timeout
        )
    assert await within_validity(None, lambda: asyncio.sleep(0, "done")) == "done"
