"""Security flags: what parses, what is refused and why (checked in-process with parse_args)."""

from __future__ import annotations

from pathlib import Path

import pytest

from interlude_server.auth.settings import is_loopback, settings_from_args
from interlude_server.config import build_parser, parse_args
from interlude_server.observability.logging import REDACTED, redact_secrets

TOKEN = ["--jwt-issuer", "https://idp", "--jwt-audience", "partner"]


def _refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as raised:
        parse_args(list(args))
    assert raised.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--grpc-listen", "0.0.0.0:50051"], "--auth none on non-loopback '0.0.0.0'"),
        (["--grpc-listen", "[::]:50051"], "--auth none on non-loopback '::'"),
        (["--grpc-listen", "10.1.2.3:1", "--auth", "token", *TOKEN, "--jwt-jwks-file", "j"], "in clear"),
        (["--tls-cert", "c"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "ca"], "--tls-client-ca needs --tls-cert"),
        (["--auth", "token", "--jwt-jwks-file", "j"], "needs --jwt-issuer and --jwt-audience"),
        (["--auth", "token", *TOKEN], "exactly one of --jwt-jwks-file"),
        (["--auth", "token", *TOKEN, "--jwt-jwks-file", "j", "--jwt-public-key-file", "p"], "exactly one"),
        (
            ["--auth", "mtls", "--tls-cert", "c", "--tls-key", "k"],
            "needs --tls-client-ca and --client-cert-map",
        ),
        (["--jwt-jwks-file", "j"], "used only with --auth token"),
        (["--client-cert-map", "m"], "used only with --auth mtls"),
        (["--max-message-bytes", "10"], "at least 1024"),
    ],
)
def test_unsafe_or_incomplete_security_flags_are_refused(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert expected in _refusal(capsys, *args)


def test_remote_binding_is_allowed_with_tls_or_when_insecurity_is_explicit(tmp_path: Path) -> None:
    remote = ["--grpc-listen", "0.0.0.0:50051"]
    assert parse_args([*remote, "--insecure-allow-remote"]).security.auth == "none"
    tls = ["--tls-cert", "c", "--tls-key", "k"]
    config = parse_args([*remote, "--auth", "token", *TOKEN, "--jwt-jwks-file", "j", *tls])
    assert config.security.tls is not None
    assert config.security.token_policy is not None
    assert config.security.token_policy.audience == "partner"
    mtls = parse_args([*remote, "--auth", "mtls", *tls, "--tls-client-ca", "ca", "--client-cert-map", "m"])
    assert mtls.security.tls is not None
    assert mtls.security.tls.client_ca == Path("ca")


def test_loopback_is_only_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.5.5.5", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com", ""))


def test_credentials_are_redacted_from_log_events() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzcC1hbHBoYSJ9.c2lnbmF0dXJl"
    event = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "authorization": "Bearer abc",
            "Token": "t",
            "error": f"bad header 'Bearer {token}' then raw {token}",
            "resume_token": "eyJzZXEiOjF9",
            "count": 3,
        },
    )
    assert event["authorization"] == REDACTED
    assert event["Token"] == REDACTED
    assert token not in event["error"]
    assert "Bearer [redacted]" in event["error"]
    assert event["resume_token"] == "eyJzZXEiOjF9"  # not a credential, kept for diagnosis
    assert event["count"] == 3


def test_redaction_finds_tokens_in_any_letter_case_and_keeps_other_text() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzcC1hbHBoYSJ9.c2lnbmF0dXJl"
    event = redact_secrets(
        None,
        "info",
        {"a": "BEARER abc.def", "b": f"x{token}y", "c": "bearer-less text, no token", "d": "plain"},
    )
    assert event["a"] == "BEARER [redacted]"
    assert token not in event["b"]
    assert event["c"] == "bearer-less text, no token"
    assert event["d"] == "plain"


def test_rest_serves_beside_authenticated_grpc_but_not_in_clear_on_a_remote_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    args = ["--rest-listen", "0.0.0.0:8080", "--auth", "token", *TOKEN, "--jwt-jwks-file", "j"]
    assert settings_from_args(parser, parser.parse_args(args), ["127.0.0.1"]).auth == "token"
    with pytest.raises(SystemExit):
        settings_from_args(parser, parser.parse_args(args), ["127.0.0.1", "0.0.0.0"])
    assert "credentials would cross the network in clear on '0.0.0.0'" in capsys.readouterr().err
