"""The principal of a call and the credentials it is derived from.

The principal of the call being served lives in a context variable: the
transport adapter sets it (`acting_as`) before it runs the operation, and the
servicers read the buyer from it, so one servicer serves gRPC and REST alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509

from interlude_server.core.errors import Unauthenticated


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the buyer it acts for and the scopes it was granted.

    `subject` names the credential that proved it (token `sub`, certificate subject,
    or `dev` in auth none mode) for logs; `via` is the auth mode that admitted it;
    `expires_at` (epoch seconds, leeway included) is when its token stops being valid.
    """

    buyer: str
    scopes: frozenset[str]
    subject: str
    via: str
    expires_at: float | None = None


@dataclass(frozen=True)
class PeerCertificate:
    """A client certificate the TLS layer already verified against the client CA.

    `subject` is the RFC 4514 string (`CN=sof,O=Alpha SP`); `sans` are the subject
    alternative names, each typed as in OpenSSL's text form: `DNS:`, `URI:`, `IP:`, `email:`.
    """

    subject: str
    sans: tuple[str, ...] = ()

    @classmethod
    def from_pem(cls, pem: bytes) -> PeerCertificate:
        return cls._read(lambda: x509.load_pem_x509_certificate(pem))

    @classmethod
    def from_der(cls, der: bytes) -> PeerCertificate:
        """From the DER form, e.g. ssl.SSLObject.getpeercert(binary_form=True) on the REST side."""
        return cls._read(lambda: x509.load_der_x509_certificate(der))

    @classmethod
    def _read(cls, load: Callable[[], x509.Certificate]) -> PeerCertificate:
        """Parse a certificate the TLS layer accepted; one this library cannot read (a malformed
        extension, say) refuses the call as Unauthenticated instead of raising in the handshake."""
        try:
            return cls.of(load())
        except ValueError as exc:
            raise Unauthenticated(
                f"the client certificate could not be read: {exc}", cause="unreadable_certificate"
            ) from exc

    @classmethod
    def of(cls, cert: x509.Certificate) -> PeerCertificate:
        subject = cert.subject.rfc4514_string()
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            # No SAN extension (an empty one is not valid X.509): mapped by subject alone.
            return cls(subject)
        sans = [f"DNS:{n.lower()}" for n in names.get_values_for_type(x509.DNSName)]
        sans += [f"URI:{n}" for n in names.get_values_for_type(x509.UniformResourceIdentifier)]
        sans += [f"IP:{n}" for n in names.get_values_for_type(x509.IPAddress)]
        sans += [f"email:{n}" for n in names.get_values_for_type(x509.RFC822Name)]
        return cls(subject, tuple(sans))


@dataclass(frozen=True)
class Credentials:
    """What a call presented. `bearer` is the raw token (no `Bearer ` prefix);
    `dev_buyer` is the `x-interlude-buyer` development header, honoured in auth none only."""

    bearer: str | None = None
    certificate: PeerCertificate | None = None
    dev_buyer: str | None = field(default=None)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (RFC 6750); None if absent.

    The same header form serves gRPC (`authorization` metadata) and REST.
    """
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(
            "the authorization header must be 'Bearer <token>'", cause="malformed_authorization"
        )
    return token


_current: ContextVar[Principal | None] = ContextVar("interlude_principal", default=None)


def current_principal() -> Principal | None:
    """The principal of the call being served, if an adapter admitted one."""
    return _current.get()


@contextlib.contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Run the block as `principal` (the transport adapter wraps each call in it)."""
    token = act_as(principal)
    try:
        yield
    finally:
        stop_acting(token)


def act_as(principal: Principal | None) -> Token[Principal | None]:
    """`acting_as` without a context manager, for the per-call path: what `stop_acting` takes."""
    return _current.set(principal)


def stop_acting(token: Token[Principal | None]) -> None:
    _current.reset(token)


T = TypeVar("T")


async def within_validity(principal: Principal | None, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call` (a long-lived stream) only while the principal's token is valid: at expiry it
    ends with Unauthenticated(token_expired), and the client resumes with a fresh token."""
    if principal is None or principal.expires_at is None:
        return await call()
    deadline = asyncio.timeout(max(principal.expires_at - time.time(), 0.0))
    try:
        async with deadline:
            return await call()
    except TimeoutError:
        if not deadline.expired():  # the call's own timeout, not the token's
            raise
    raise Unauthenticated(
        "the token expired during the stream; reconnect with a fresh token and your last resume token",
        "token_expired",
    )
