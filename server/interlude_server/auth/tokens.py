"""JWT bearer tokens (MEF 128.1 client credentials): signature, lifetime, issuer, audience.

The verifier trusts exactly one key source, chosen at startup: a JWKS file
(RS256/ES256 keys selected by `kid`; re-read when the file changes, so keys
rotate without a restart), a PEM public key, or an HS256 shared secret for
development. The algorithms a token may use follow from the key type, never
from the token, so an RSA public key can never be used as an HMAC secret.
Every failure becomes Unauthenticated with a stable `cause`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from interlude_server.auth.principal import Principal
from interlude_server.core.errors import Unauthenticated

RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
MIN_SECRET_BYTES = 32
JWKS_RECHECK_S = 1.0


class KeyConfigError(ValueError):
    """A key file is missing, unreadable or of a kind the verifier does not accept."""


@dataclass(frozen=True)
class VerificationKey:
    key: Any
    algorithms: tuple[str, ...]


class KeySource(Protocol):
    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key (and its algorithms) that must have signed a token with this header."""


def _algorithms_of(key: Any, where: str) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise KeyConfigError(f"{where}: RSA keys shorter than 2048 bits are refused")
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_ALGORITHMS:
        return (EC_ALGORITHMS[key.curve.name],)
    raise KeyConfigError(f"{where}: expected an RSA or EC (P-256/384/521) public key")


class PemKey:
    """One PEM public key (RSA or EC)."""

    def __init__(self, path: Path) -> None:
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise KeyConfigError(f"{path}: not a readable PEM public key ({exc})") from exc
        self._key = VerificationKey(key, _algorithms_of(key, str(path)))

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        return self._key


class SharedSecret:
    """An HS256 secret read from a file (never from the command line: it would show in `ps`)."""

    def __init__(self, path: Path) -> None:
        try:
            secret = path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise KeyConfigError(f"{path}: cannot read the shared secret ({exc})") from exc
        if len(secret) < MIN_SECRET_BYTES:
            raise KeyConfigError(f"{path}: an HS256 secret needs at least {MIN_SECRET_BYTES} bytes")
        self._key = VerificationKey(secret, ("HS256",))

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        return self._key


class JwksFile:
    """A JWKS document on disk, re-read when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._checked = 0.0
        self._keys: dict[str, VerificationKey] = {}
        self._load()

    def _load(self) -> None:
        try:
            mtime = self._path.stat().st_mtime
            document = json.loads(self._path.read_text())
            keys = document["keys"]
            if not isinstance(keys, list) or not keys:
                raise ValueError("'keys' must be a non-empty array")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyConfigError(f"{self._path}: not a readable JWKS document ({exc})") from exc
        loaded: dict[str, VerificationKey] = {}
        for index, data in enumerate(keys):
            where = f"{self._path} keys[{index}]"
            if not isinstance(data, dict) or data.get("kty") not in ("RSA", "EC"):
                raise KeyConfigError(f"{where}: only RSA and EC public keys are accepted")
            if "d" in data:
                raise KeyConfigError(f"{where}: a private key does not belong in a JWKS file")
            try:
                key = jwt.PyJWK(data).key
            except jwt.PyJWKError as exc:
                raise KeyConfigError(f"{where}: {exc}") from exc
            algorithms = _algorithms_of(key, where)
            if (alg := data.get("alg")) is not None:
                if alg not in algorithms:
                    raise KeyConfigError(f"{where}: alg {alg!r} does not fit the key type")
                algorithms = (alg,)
            loaded[str(data.get("kid", ""))] = VerificationKey(key, algorithms)
        self._keys, self._mtime = loaded, mtime

    def _refresh(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < JWKS_RECHECK_S:
                return
            self._checked = now
            try:
                changed = self._path.stat().st_mtime != self._mtime
            except OSError:
                return  # keep serving with the keys we have
            if changed:
                try:
                    self._load()
                except KeyConfigError:
                    return  # a half-written file: keep the previous keys, retry next time

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        self._refresh()
        kid = header.get("kid")
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        key = self._keys.get(str(kid)) if kid is not None else None
        if key is None:
            raise Unauthenticated("the token was signed with a key this server does not trust", "unknown_key")
        return key


@dataclass(frozen=True)
class TokenPolicy:
    """What a valid token must say, and where the buyer and scopes are in it."""

    issuer: str
    audience: str
    buyer_claim: str = "sub"
    scope_claim: str = "scope"
    scope_prefix: str = ""
    leeway_s: float = 30.0


# pyjwt's exceptions, most specific first, and the cause each is reported as.
_CAUSES: Sequence[tuple[type[Exception], str, str]] = (
    (jwt.ExpiredSignatureError, "token_expired", "the token has expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid", "the token is not valid yet"),
    (jwt.InvalidAudienceError, "invalid_audience", "the token is not meant for this server"),
    (jwt.InvalidIssuerError, "invalid_issuer", "the token comes from an issuer this server does not trust"),
    (jwt.InvalidSignatureError, "invalid_signature", "the token signature does not verify"),
    (jwt.InvalidAlgorithmError, "disallowed_algorithm", "the token's algorithm is not accepted for this key"),
    (jwt.MissingRequiredClaimError, "missing_claim", "the token lacks a required claim"),
    (jwt.InvalidIssuedAtError, "invalid_issued_at", "the token's iat claim is not valid"),
    (jwt.DecodeError, "malformed_token", "the token is not a well-formed JWT"),
    (jwt.InvalidTokenError, "invalid_token", "the token is not valid"),
)


def _refusal(exc: Exception) -> Unauthenticated:
    for kind, cause, message in _CAUSES:
        if isinstance(exc, kind):
            if isinstance(exc, jwt.MissingRequiredClaimError):
                message = f"{message}: {exc.claim}"
            return Unauthenticated(message, cause)
    return Unauthenticated("the token is not valid", "invalid_token")  # pragma: no cover


def scopes_of(value: object, prefix: str) -> frozenset[str]:
    """Scopes from an OAuth2 `scope` string (space-separated) or a `scp`-style list;
    with a prefix (e.g. `interlude:`), only the scopes that carry it, without it."""
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    else:
        items = []
    return frozenset(item[len(prefix) :] for item in items if item.startswith(prefix) and item != prefix)


class TokenVerifier:
    """Verifies a bearer token and returns the principal it names.

    A client sends the same token on every call until it expires, and checking a signature
    is the dearest part of a call (an RS256 verification is tens of microseconds). So the
    principals of the last `remembered` tokens verified are kept: a token seen before is
    accepted again without its signature checked while it is unexpired (`exp` plus the
    leeway, by `clock`) and the key that verified it is still the one its header names (a
    JWKS file that changed, or a key gone, makes it be verified in full again)."""

    def __init__(
        self,
        keys: KeySource,
        policy: TokenPolicy,
        *,
        remembered: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.policy = policy
        self.remembered = remembered
        self.clock = clock
        self.hits = 0
        self._verified: OrderedDict[str, tuple[VerificationKey, Principal]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.key_for(header)
        except jwt.PyJWTError as exc:
            raise _refusal(exc) from None
        known = self._verified.get(token)
        if known is not None:
            verified_by, principal = known
            expires_at = principal.expires_at
            if verified_by is key and expires_at is not None and self.clock() < expires_at:
                self._verified.move_to_end(token)
                self.hits += 1
                return principal
            del self._verified[token]
        principal = self._decoded(token, key)
        if self.remembered > 0:
            self._verified[token] = (key, principal)
            if len(self._verified) > self.remembered:
                self._verified.popitem(last=False)
        return principal

    def _decoded(self, token: str, key: VerificationKey) -> Principal:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(key.algorithms),
                audience=self.policy.audience,
                issuer=self.policy.issuer,
                leeway=self.policy.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc) from None
        buyer = claims.get(self.policy.buyer_claim)
        if not isinstance(buyer, str) or not buyer:
            raise Unauthenticated(
                f"the token lacks a required claim: {self.policy.buyer_claim}", "missing_claim"
            )
        scopes = scopes_of(claims.get(self.policy.scope_claim), self.policy.scope_prefix)
        subject = claims.get("sub")
        expires_at = float(claims["exp"]) + self.policy.leeway_s
        return Principal(buyer, scopes, subject if isinstance(subject, str) else buyer, "token", expires_at)


def key_source(
    jwks_file: Path | None, public_key_file: Path | None, hs256_secret_file: Path | None
) -> KeySource:
    """The one configured key source (the flags parser ensures exactly one is given)."""
    if jwks_file is not None:
        return JwksFile(jwks_file)
    if public_key_file is not None:
        return PemKey(public_key_file)
    if hs256_secret_file is not None:
        return SharedSecret(hs256_secret_file)
    raise KeyConfigError("token auth needs a JWKS file, a PEM public key or an HS256 secret file")
