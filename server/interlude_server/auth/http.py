"""The HTTP form of authentication, for the REST adapter: credentials from a request,
and the MEF error (401/403) of a refusal.

The adapter calls `http_credentials(request.headers, transport.get_extra_info("ssl_object"))`,
`Authenticator.admit(credentials, operation)`, and on Unauthenticated or MissingScope answers
`http_refusal(exc)`. Nothing here imports aiohttp.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from interlude_server.auth.principal import Credentials, bearer_token
from interlude_server.auth.tls import peer_certificate_of
from interlude_server.core.errors import MissingScope, Unauthenticated

AUTHORIZATION_HEADER = "authorization"
BUYER_HEADER = "x-interlude-buyer"
REALM = "interlude"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def http_credentials(
    headers: Mapping[str, str], ssl_object: ssl.SSLObject | ssl.SSLSocket | None = None
) -> Credentials:
    """What an HTTP request presented: `Authorization: Bearer`, client certificate, dev header."""
    return Credentials(
        bearer=bearer_token(_header(headers, AUTHORIZATION_HEADER)),
        certificate=peer_certificate_of(ssl_object),
        dev_buyer=_header(headers, BUYER_HEADER) or None,
    )


@dataclass(frozen=True)
class HttpRefusal:
    """Status, MEF error `code`, `reason` text and headers (RFC 6750 `WWW-Authenticate`)."""

    status: int
    code: str
    reason: str
    headers: Mapping[str, str]


def http_refusal(exc: Unauthenticated | MissingScope) -> HttpRefusal:
    """401 `missingCredentials`/`invalidCredentials`, or 403 `accessDenied` naming the scope."""
    if isinstance(exc, MissingScope):
        challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{exc.scope}"'
        return HttpRefusal(403, "accessDenied", exc.message, {"WWW-Authenticate": challenge})
    challenge = f'Bearer realm="{REALM}"'
    if exc.cause != "missing_credentials":
        challenge += ', error="invalid_token"'
    return HttpRefusal(401, exc.mef_code, exc.message, {"WWW-Authenticate": challenge})
