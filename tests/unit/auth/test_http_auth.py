"""The HTTP form the REST adapter will use: header credentials and MEF 401/403 refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.http import http_credentials, http_refusal
from interlude_server.auth.tokens import PemKey, TokenPolicy, TokenVerifier
from interlude_server.core.errors import MissingScope, Unauthenticated
from tests.support.security import AUDIENCE, ISSUER, TokenIssuer

LIST = "/mef.lso.interlude.v1.ServiceInventoryService/ListServices"


def test_headers_are_read_case_insensitively_and_the_dev_header_kept_for_auth_none() -> None:
    credentials = http_credentials({"AUTHORIZATION": "Bearer a.b.c", "X-Interlude-Buyer": "sp-beta"})
    assert (credentials.bearer, credentials.dev_buyer, credentials.certificate) == ("a.b.c", "sp-beta", None)
    assert http_credentials({}).bearer is None


def test_refusals_become_mef_401_and_403(tmp_path: Path) -> None:
    issuer = TokenIssuer()
    pem = issuer.write_public_pem(tmp_path / "k.pem")
    auth = Authenticator("token", tokens=TokenVerifier(PemKey(pem), TokenPolicy(ISSUER, AUDIENCE)))
    cases = [
        ({}, 401, "missingCredentials", 'Bearer realm="interlude"'),
        ({"Authorization": "Bearer nope"}, 401, "invalidCredentials", 'error="invalid_token"'),
        ({"Authorization": f"Bearer {issuer.mint(scopes=('order',))}"}, 403, "accessDenied", 'scope="read"'),
    ]
    for headers, status, code, challenge in cases:
        with pytest.raises((Unauthenticated, MissingScope)) as raised:
            auth.admit(http_credentials(headers), LIST)
        assert isinstance(raised.value, Unauthenticated | MissingScope)
        refusal = http_refusal(raised.value)
        assert (refusal.status, refusal.code) == (status, code)
        assert challenge in refusal.headers["WWW-Authenticate"]
    principal = auth.admit(http_credentials({"authorization": f"Bearer {issuer.mint('sp-beta')}"}), LIST)
    assert principal is not None
    assert principal.buyer == "sp-beta"
