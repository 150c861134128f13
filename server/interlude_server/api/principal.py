"""Who is calling, over gRPC: credentials from metadata and the TLS peer, to a buyer.

The RPC interceptor asks an AuthGate to admit each call (see
interlude_server.auth) and runs the handler as the admitted principal; the
servicers read the buyer through a BuyerResolver. In `--auth none` (development)
the buyer comes from the `x-interlude-buyer` metadata or the default buyer;
in every other mode that header is ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, TypeAlias

import grpc

from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.principal import (
    Credentials,
    PeerCertificate,
    Principal,
    bearer_token,
    current_principal,
)
from interlude_server.core.errors import Unauthenticated
from interlude_server.observability.tracing import TRACEPARENT, TRACESTATE

BUYER_METADATA = "x-interlude-buyer"
AUTHORIZATION_METADATA = "authorization"
REQUEST_ID_METADATA = "x-request-id"
DEFAULT_BUYER = "sp-alpha"

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Metadata: TypeAlias = Iterable[tuple[str, str | bytes]] | None


def metadata_value(metadata: Metadata, key: str) -> str:
    """The text value of metadata `key`; empty if absent."""
    for item_key, value in metadata or ():
        if item_key == key and isinstance(value, str):
            return value
    return ""


@functools.lru_cache(maxsize=1024)
def _certificate(pem: bytes) -> PeerCertificate:
    return PeerCertificate.from_pem(pem)


def peer_certificate(context: Context) -> PeerCertificate | None:
    """The client certificate the TLS handshake verified, if any."""
    pems = list((context.auth_context() or {}).get("x509_pem_cert", ()))
    return _certificate(pems[0]) if pems else None


class CallHeaders:
    """The metadata a call's stages read, found in one pass over it: the first text value of
    each key ('' when absent; binary values are skipped)."""

    __slots__ = ("authorization", "buyer", "request_id", "traceparent", "tracestate")

    def __init__(self, metadata: Metadata) -> None:
        found = ["", "", "", "", ""]
        slots = _HEADER_SLOTS
        for key, value in metadata or ():
            slot = slots.get(key)
            if slot is not None and not found[slot] and isinstance(value, str):
                found[slot] = value
        self.authorization, self.buyer, self.request_id, self.traceparent, self.tracestate = found


# Where CallHeaders keeps each key's value (the order of its assignment).
_HEADER_SLOTS = {
    AUTHORIZATION_METADATA: 0,
    BUYER_METADATA: 1,
    REQUEST_ID_METADATA: 2,
    TRACEPARENT: 3,
    TRACESTATE: 4,
}


def credentials_of(headers: CallHeaders, context: Context, certificate: bool = True) -> Credentials:
    """What a gRPC call presented: `authorization` metadata, client certificate (unless
    `certificate` is False: the authenticator maps none), dev header."""
    return Credentials(
        bearer=bearer_token(headers.authorization),
        certificate=peer_certificate(context) if certificate else None,
        dev_buyer=headers.buyer or None,
    )


# How many (method, buyer) decisions an `--auth none` gate keeps (buyers are the caller's to
# name in that mode, so the table is emptied when full rather than left to grow).
_DECISIONS_MAX = 4096


class AuthGate:
    """Admits a gRPC call: the principal it acts as (None for health and reflection),
    or a DomainError (Unauthenticated, MissingScope) that the interceptor sends as a rich status.

    With `--auth none`, a call without `authorization` metadata is admitted on its method and
    its `x-interlude-buyer` alone, the same way every time: that decision is made once per
    method and buyer and kept (a refusal is not kept: it is made, and logged, each time). A
    call with `authorization` metadata is always decided afresh, so a malformed value is
    refused in every mode."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self._decided: dict[tuple[str, str], Principal | None] | None = (
            {} if authenticator.mode == "none" else None
        )

    @property
    def honours_dev_header(self) -> bool:
        return self.authenticator.honours_dev_header

    def __call__(self, method: str, headers: CallHeaders, context: Context) -> Principal | None:
        decided = self._decided
        if decided is not None and not headers.authorization:
            key = (method, headers.buyer)
            if key in decided:
                return decided[key]
            principal = self.authenticator.admit(Credentials(dev_buyer=headers.buyer or None), method)
            if len(decided) >= _DECISIONS_MAX:
                decided.clear()
            decided[key] = principal
            return principal
        # The TLS peer's certificate is read (and parsed) only when certificates name buyers.
        certificate = self.authenticator.certificates is not None
        return self.authenticator.admit(lambda: credentials_of(headers, context, certificate), method)


class BuyerResolver:
    """The buyer a servicer acts for: the admitted principal's, else (auth none only)
    the `x-interlude-buyer` metadata or the default buyer."""

    def __init__(self, default_buyer: str = DEFAULT_BUYER, *, dev_header: bool = True) -> None:
        self.default_buyer = default_buyer
        self.dev_header = dev_header

    def __call__(self, context: Context) -> str:
        principal = current_principal()
        if principal is not None:
            return principal.buyer
        if not self.dev_header:  # no adapter admitted this call: fail closed
            raise Unauthenticated("the call carries no authenticated principal", "missing_credentials")
        return metadata_value(context.invocation_metadata(), BUYER_METADATA) or self.default_buyer
