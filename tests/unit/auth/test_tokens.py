"""Bearer-token verification: each key source, each refusal with its cause, scope parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from interlude_server.auth.tokens import (
    JwksFile,
    KeyConfigError,
    PemKey,
    SharedSecret,
    TokenPolicy,
    TokenVerifier,
    key_source,
    scopes_of,
)
from interlude_server.core.errors import Unauthenticated
from tests.support.security import AUDIENCE, ISSUER, TokenIssuer

POLICY = TokenPolicy(issuer=ISSUER, audience=AUDIENCE)


def _cause(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as raised:
        verifier.verify(token)
    return raised.value.cause


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


def test_a_pem_verified_token_names_buyer_subject_and_scopes(issuer: TokenIssuer, tmp_path: Path) -> None:
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), POLICY)
    principal = verifier.verify(issuer.mint("sp-beta", ("read", "events", "unknown")))
    assert principal.buyer == "sp-beta"
    assert principal.subject == "sp-beta"
    assert principal.scopes == {"read", "events", "unknown"}
    assert principal.via == "token"


def test_the_buyer_and_scope_claims_are_configurable(issuer: TokenIssuer, tmp_path: Path) -> None:
    policy = TokenPolicy(
        ISSUER, AUDIENCE, buyer_claim="buyer_id", scope_claim="scp", scope_prefix="interlude:"
    )
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), policy)
    token = issuer.mint("client-42", buyer_id="sp-alpha", scp=["interlude:read", "other:order", "interlude:"])
    principal = verifier.verify(token)
    assert (principal.buyer, principal.subject, principal.scopes) == (
        "sp-alpha",
        "client-42",
        frozenset({"read"}),
    )


def test_jwks_selects_the_key_by_kid_and_follows_rotation(tmp_path: Path) -> None:
    old, new = TokenIssuer(kid="old"), TokenIssuer(kid="new")
    path = old.write_jwks(tmp_path / "jwks.json")
    keys = JwksFile(path)
    verifier = TokenVerifier(keys, POLICY)
    assert verifier.verify(old.mint()).buyer == "sp-alpha"
    assert _cause(verifier, new.mint()) == "unknown_key"
    new.write_jwks(path)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    keys._checked = 0.0  # skip the once-a-second recheck delay
    assert verifier.verify(new.mint()).buyer == "sp-alpha"
    keys._checked = 0.0
    assert _cause(verifier, old.mint()) == "unknown_key"


def test_es256_keys_verify_es256_tokens(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "ec.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    claims = TokenIssuer().claims("sp-alpha")
    token = jwt.encode(claims, key, algorithm="ES256")
    assert TokenVerifier(PemKey(pem), POLICY).verify(token).buyer == "sp-alpha"


def test_hs256_shared_secret_for_development(tmp_path: Path, issuer: TokenIssuer) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"x" * 40 + b"\n")
    verifier = TokenVerifier(SharedSecret(secret), POLICY)
    assert (
        verifier.verify(jwt.encode(issuer.claims("sp-beta"), b"x" * 40, algorithm="HS256")).buyer == "sp-beta"
    )
    assert (
        _cause(verifier, jwt.encode(issuer.claims("sp-beta"), b"y" * 40, algorithm="HS256"))
        == "invalid_signature"
    )
    secret.write_bytes(b"short")
    with pytest.raises(KeyConfigError, match="at least 32 bytes"):
        SharedSecret(secret)


def test_an_rsa_public_key_is_never_an_hmac_secret(issuer: TokenIssuer, tmp_path: Path) -> None:
    """The classic algorithm confusion: an HS256 token keyed with the public PEM is refused."""
    pem_path = issuer.write_public_pem(tmp_path / "k.pem")
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(issuer.claims("sp-alpha")).encode())
    signature = hmac.new(pem_path.read_bytes(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{_b64(signature)}"
    assert _cause(TokenVerifier(PemKey(pem_path), POLICY), forged) == "disallowed_algorithm"


@pytest.mark.parametrize(
    ("overrides", "omit", "cause"),
    [
        ({"exp": -120}, (), "token_expired"),  # exp and nbf: seconds from when the test runs
        ({"nbf": +120}, (), "token_not_yet_valid"),
        ({"aud": "someone-else"}, (), "invalid_audience"),
        ({"iss": "https://other.example"}, (), "invalid_issuer"),
        ({}, ("exp",), "missing_claim"),
        ({}, ("aud",), "missing_claim"),
        ({}, ("iss",), "missing_claim"),
        ({}, ("sub",), "missing_claim"),
        ({"sub": ""}, (), "missing_claim"),
    ],
)
def test_claim_checks_refuse_with_their_cause(
    issuer: TokenIssuer, tmp_path: Path, overrides: dict[str, Any], omit: tuple[str, ...], cause: str
) -> None:
    # Times are made here, not at collection: the suite may run this minutes after collecting.
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "nbf") else v for k, v in overrides.items()}
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), POLICY)
    assert _cause(verifier, issuer.mint("sp-alpha", omit=omit, **claims)) == cause


def test_clock_skew_within_the_leeway_is_tolerated(issuer: TokenIssuer, tmp_path: Path) -> None:
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), POLICY)
    assert verifier.verify(issuer.mint(exp=int(time.time()) - 5)).buyer == "sp-alpha"


def test_bad_key_files_are_refused_at_startup(tmp_path: Path) -> None:
    (tmp_path / "garbage").write_text("not a key")
    (tmp_path / "private.json").write_text(
        json.dumps({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "x"}]})
    )
    (tmp_path / "oct.json").write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(KeyConfigError, match="PEM public key"):
        PemKey(tmp_path / "garbage")
    with pytest.raises(KeyConfigError, match="private key"):
        JwksFile(tmp_path / "private.json")
    with pytest.raises(KeyConfigError, match="only RSA and EC"):
        JwksFile(tmp_path / "oct.json")
    with pytest.raises(KeyConfigError, match="needs a JWKS file"):
        key_source(None, None, None)


def test_scopes_come_from_a_string_or_a_list() -> None:
    assert scopes_of("read  order", "") == {"read", "order"}
    assert scopes_of(["read", 7, "pm"], "") == {"read", "pm"}
    assert scopes_of(None, "") == frozenset()
    assert scopes_of("x:read read", "x:") == {"read"}


def test_a_token_seen_before_is_accepted_without_its_signature_checked_again(
    issuer: TokenIssuer, tmp_path: Path
) -> None:
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), POLICY)
    token = issuer.mint("sp-beta", ("read",))
    first = verifier.verify(token)
    assert verifier.hits == 0
    assert verifier.verify(token) is first
    assert verifier.hits == 1
    # A forged token is never a hit: another string, verified (and refused) in full.
    header, body, _ = token.split(".")
    assert _cause(verifier, f"{header}.{body}.{_b64(b'not the signature')}") == "invalid_signature"


def test_a_remembered_token_past_its_expiry_is_verified_in_full_again(
    issuer: TokenIssuer, tmp_path: Path
) -> None:
    now = [time.time()]
    policy = TokenPolicy(issuer=ISSUER, audience=AUDIENCE, leeway_s=0.0)
    verifier = TokenVerifier(
        PemKey(issuer.write_public_pem(tmp_path / "k.pem")), policy, clock=lambda: now[0]
    )
    token = issuer.mint(exp=int(now[0]) + 60)
    assert verifier.verify(token).buyer == "sp-alpha"
    now[0] += 61  # past its exp by the verifier's clock: not a hit, so verified in full again
    # pyjwt reads the real clock, which has not moved: the full verification still accepts it,
    # which shows it was done (a hit would not have run it).
    assert verifier.verify(token).buyer == "sp-alpha"
    assert verifier.hits == 0


def test_a_remembered_token_is_refused_once_its_key_is_rotated_out(tmp_path: Path) -> None:
    old, new = TokenIssuer(kid="old"), TokenIssuer(kid="new")
    path = old.write_jwks(tmp_path / "jwks.json")
    keys = JwksFile(path)
    verifier = TokenVerifier(keys, POLICY)
    token = old.mint()
    assert verifier.verify(token).buyer == "sp-alpha"
    assert verifier.verify(token).buyer == "sp-alpha"
    assert verifier.hits == 1
    new.write_jwks(path)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    keys._checked = 0.0  # skip the once-a-second recheck delay
    assert _cause(verifier, token) == "unknown_key"


def test_the_verifier_remembers_a_bounded_number_of_tokens(issuer: TokenIssuer, tmp_path: Path) -> None:
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), POLICY, remembered=2)
    tokens = [issuer.mint(f"sp-{n}") for n in range(3)]
    for token in tokens:
        verifier.verify(token)
    verifier.verify(tokens[0])  # the oldest was let go: verified in full
    assert verifier.hits == 0
    verifier.verify(tokens[2])
    assert verifier.hits == 1


def test_a_remembered_token_is_refused_once_it_has_expired(issuer: TokenIssuer, tmp_path: Path) -> None:
    policy = TokenPolicy(issuer=ISSUER, audience=AUDIENCE, leeway_s=0.0)
    verifier = TokenVerifier(PemKey(issuer.write_public_pem(tmp_path / "k.pem")), policy)
    expiry = int(time.time()) + 2  # at least a second ahead: exp is whole seconds
    token = issuer.mint(exp=expiry)
    assert verifier.verify(token).buyer == "sp-alpha"
    time.sleep(max(0.0, expiry - time.time()) + 0.05)
    assert _cause(verifier, token) == "token_expired"
