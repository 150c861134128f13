"""The one decision every transport asks for: who is calling, and may they do this.

Modes (`--auth`):
- `none`: development only; the buyer is the `x-interlude-buyer` header or the
  default buyer, with every scope.
- `token`: a JWT bearer token names the buyer (configurable claim) and scopes.
- `mtls`: the verified client certificate names the buyer and scopes (mapping file).
- `token+mtls`: both are required and must name the same buyer; the certificate's
  scopes, if mapped, cap the token's.
Outside `none`, the development header is ignored. Denials are logged with
their cause; credentials never are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import structlog

from interlude_server.auth.certificates import CertificateMap
from interlude_server.auth.principal import Credentials, Principal
from interlude_server.auth.scopes import ALL_SCOPES, is_public, required_scope
from interlude_server.auth.tokens import TokenVerifier
from interlude_server.core.errors import DomainError, MissingScope, Unauthenticated

AuthMode = Literal["none", "token", "mtls", "token+mtls"]
AUTH_MODES: tuple[str, ...] = get_args(AuthMode)

_log = structlog.get_logger("interlude_server.auth")


class Authenticator:
    """Turns the credentials of a call into a Principal, or refuses the call."""

    def __init__(
        self,
        mode: AuthMode,
        *,
        tokens: TokenVerifier | None = None,
        certificates: CertificateMap | None = None,
        default_buyer: str = "",
    ) -> None:
        if mode in ("token", "token+mtls") and tokens is None:
            raise ValueError(f"--auth {mode} needs a token verifier")
        if mode in ("mtls", "token+mtls") and certificates is None:
            raise ValueError(f"--auth {mode} needs a client certificate mapping")
        self.mode = mode
        self.tokens = tokens
        self.certificates = certificates
        self.default_buyer = default_buyer

    @property
    def honours_dev_header(self) -> bool:
        return self.mode == "none"

    def authenticate(self, credentials: Credentials) -> Principal:
        """The principal the credentials prove; raises Unauthenticated."""
        if self.mode == "none":
            buyer = credentials.dev_buyer or self.default_buyer
            return Principal(buyer, ALL_SCOPES, "dev", "none")
        by_token = self._by_token(credentials) if self.tokens is not None else None
        if self.certificates is None:
            assert by_token is not None  # the constructor ensures one verifier per mode
            return by_token
        if credentials.certificate is None:
            raise Unauthenticated("a client certificate is required", "missing_credentials")
        grant = self.certificates.grant_for(credentials.certificate)
        if by_token is None:
            subject = credentials.certificate.subject
            return Principal(grant.buyer, grant.scopes or frozenset(), subject, "mtls")
        if by_token.buyer != grant.buyer:
            raise Unauthenticated(
                "the token and the client certificate name different buyers", "buyer_mismatch"
            )
        scopes = by_token.scopes if grant.scopes is None else by_token.scopes & grant.scopes
        return Principal(by_token.buyer, scopes, by_token.subject, "token+mtls", by_token.expires_at)

    def _by_token(self, credentials: Credentials) -> Principal:
        assert self.tokens is not None
        if credentials.bearer is None:
            raise Unauthenticated("a bearer token is required", "missing_credentials")
        return self.tokens.verify(credentials.bearer)

    def authorize(self, principal: Principal, operation: str) -> None:
        """Raises MissingScope unless the principal holds the scope `operation` needs."""
        scope = required_scope(operation)
        if scope not in principal.scopes:
            raise MissingScope(operation, scope)

    def admit(self, credentials: Credentials | Callable[[], Credentials], operation: str) -> Principal | None:
        """Authenticate and authorize one call of `operation`; None for public operations.

        `credentials` may be a function that reads them from the call, so a malformed
        header is refused like any other credential. Every refusal is logged as
        `auth.denied` with the operation and the cause.
        """
        if is_public(operation):
            return None
        principal: Principal | None = None
        try:
            if callable(credentials):
                credentials = credentials()
            if credentials.dev_buyer is not None and not self.honours_dev_header:
                _log.warning("auth.dev_header_ignored", operation=operation, auth=self.mode)
            principal = self.authenticate(credentials)
            self.authorize(principal, operation)
        except DomainError as exc:
            _log.warning(
                "auth.denied",
                operation=operation,
                auth=self.mode,
                reason=exc.reason,
                cause=getattr(exc, "cause", None) or getattr(exc, "scope", ""),
                subject=principal.subject if principal else "",
                principal_buyer=principal.buyer if principal else "",
            )
            raise
        return principal
