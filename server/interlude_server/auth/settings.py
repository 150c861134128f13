"""Security flags of `interlude-server`, their checks, and what they build.

Checks that need no file access happen at parse time (an argparse error names
the flag); key and mapping files are read once at startup by `build_authenticator`.
Safe defaults: `--auth none` and plaintext are refused on a non-loopback
address unless `--insecure-allow-remote` is given.
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from interlude_server.auth.authenticator import AUTH_MODES, Authenticator, AuthMode
from interlude_server.auth.certificates import CertificateMap
from interlude_server.auth.tokens import TokenPolicy, TokenVerifier, key_source

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate chain and key (PEM); `client_ca` set means clients must present a
    certificate signed by it (mTLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class SecuritySettings:
    """Everything about who may call, over what."""

    auth: AuthMode = "none"
    tls: TlsFiles | None = None
    insecure_allow_remote: bool = False
    token_policy: TokenPolicy | None = None
    jwks_file: Path | None = None
    public_key_file: Path | None = None
    hs256_secret_file: Path | None = None
    client_cert_map: Path | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IPs; a wildcard or any other name is remote."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("security (see README: Secure deployment)")
    group.add_argument("--auth", choices=AUTH_MODES, default="none", help="how callers prove who they are")
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="server certificate chain")
    group.add_argument("--tls-key", type=Path, metavar="PEM", help="server private key")
    group.add_argument(
        "--tls-client-ca", type=Path, metavar="PEM", help="CA that signs client certificates (mTLS)"
    )
    group.add_argument(
        "--insecure-allow-remote",
        action="store_true",
        help="allow --auth none or plaintext on a non-loopback address (never in production)",
    )
    group.add_argument("--jwt-issuer", metavar="ISS", help="required `iss` of bearer tokens")
    group.add_argument("--jwt-audience", metavar="AUD", help="required `aud` of bearer tokens")
    group.add_argument("--jwt-jwks-file", type=Path, metavar="PATH", help="JWKS of the token issuer")
    group.add_argument("--jwt-public-key-file", type=Path, metavar="PEM", help="RSA/EC public key")
    group.add_argument(
        "--jwt-hs256-secret-file", type=Path, metavar="PATH", help="HS256 shared secret (development)"
    )
    group.add_argument("--jwt-buyer-claim", default="sub", metavar="CLAIM", help="claim naming the buyer")
    group.add_argument("--jwt-scope-claim", default="scope", metavar="CLAIM", help="claim holding scopes")
    group.add_argument(
        "--jwt-scope-prefix", default="", metavar="PREFIX", help="only scopes with this prefix count"
    )
    group.add_argument("--jwt-leeway", type=float, default=30.0, metavar="SECONDS", help="clock skew")
    group.add_argument(
        "--client-cert-map", type=Path, metavar="PATH", help="client certificate -> buyer mapping (JSON)"
    )
    group.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="N",
        help=f"largest request accepted (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )


def _check(ns: argparse.Namespace, hosts: list[str]) -> list[str]:
    """Every problem with the security flags, as argparse messages."""
    problems: list[str] = []
    mode: str = ns.auth
    if (ns.tls_cert is None) != (ns.tls_key is None):
        problems.append("--tls-cert and --tls-key go together")
    if ns.tls_client_ca is not None and ns.tls_cert is None:
        problems.append("--tls-client-ca needs --tls-cert/--tls-key")
    uses_token, uses_cert = mode in ("token", "token+mtls"), mode in ("mtls", "token+mtls")
    if uses_cert and (ns.tls_client_ca is None or ns.client_cert_map is None):
        problems.append(f"--auth {mode} needs --tls-client-ca and --client-cert-map")
    if not uses_cert and ns.client_cert_map is not None:
        problems.append("--client-cert-map is used only with --auth mtls or token+mtls")
    key_flags = [ns.jwt_jwks_file, ns.jwt_public_key_file, ns.jwt_hs256_secret_file]
    if uses_token:
        if not ns.jwt_issuer or not ns.jwt_audience:
            problems.append(f"--auth {mode} needs --jwt-issuer and --jwt-audience")
        if sum(k is not None for k in key_flags) != 1:
            problems.append(
                f"--auth {mode} needs exactly one of --jwt-jwks-file, --jwt-public-key-file,"
                " --jwt-hs256-secret-file"
            )
    elif any(k is not None for k in key_flags) or ns.jwt_issuer or ns.jwt_audience:
        problems.append("the --jwt-* flags are used only with --auth token or token+mtls")
    if ns.max_message_bytes < 1024:
        problems.append("--max-message-bytes must be at least 1024")
    remote = [h for h in hosts if not is_loopback(h)]
    if remote and not ns.insecure_allow_remote:
        if mode == "none":
            problems.append(
                f"--auth none on non-loopback {remote[0]!r} would serve every buyer's data to anyone;"
                " choose --auth token|mtls|token+mtls (or --insecure-allow-remote)"
            )
        elif ns.tls_cert is None:
            problems.append(
                f"credentials would cross the network in clear on {remote[0]!r}; give --tls-cert/--tls-key"
                " (or --insecure-allow-remote)"
            )
    return problems


def settings_from_args(
    parser: argparse.ArgumentParser, ns: argparse.Namespace, hosts: list[str]
) -> SecuritySettings:
    """The security settings; exits via parser.error naming every bad flag."""
    if problems := _check(ns, hosts):
        parser.error("; ".join(problems))
    policy = None
    if ns.auth in ("token", "token+mtls"):
        policy = TokenPolicy(
            issuer=ns.jwt_issuer,
            audience=ns.jwt_audience,
            buyer_claim=ns.jwt_buyer_claim,
            scope_claim=ns.jwt_scope_claim,
            scope_prefix=ns.jwt_scope_prefix,
            leeway_s=ns.jwt_leeway,
        )
    return SecuritySettings(
        auth=cast(AuthMode, ns.auth),
        tls=TlsFiles(ns.tls_cert, ns.tls_key, ns.tls_client_ca) if ns.tls_cert is not None else None,
        insecure_allow_remote=ns.insecure_allow_remote,
        token_policy=policy,
        jwks_file=ns.jwt_jwks_file,
        public_key_file=ns.jwt_public_key_file,
        hs256_secret_file=ns.jwt_hs256_secret_file,
        client_cert_map=ns.client_cert_map,
        max_message_bytes=ns.max_message_bytes,
    )


def build_authenticator(settings: SecuritySettings, default_buyer: str) -> Authenticator:
    """Read the key and mapping files; raises ValueError (KeyConfigError, MappingConfigError)."""
    tokens = None
    if settings.token_policy is not None:
        keys = key_source(settings.jwks_file, settings.public_key_file, settings.hs256_secret_file)
        tokens = TokenVerifier(keys, settings.token_policy)
    certificates = None
    if settings.client_cert_map is not None:
        certificates = CertificateMap.load(settings.client_cert_map, scopes_required=settings.auth == "mtls")
    return Authenticator(settings.auth, tokens=tokens, certificates=certificates, default_buyer=default_buyer)
