"""Test-time PKI and token issuing: CAs, server and client certificates, JWKS, JWTs, and a Kit
of all of them with the flags of secured servers.

Everything is generated with the cryptography package when a test runs; no
key or certificate is ever committed. EC P-256 keys keep generation fast.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUER = "https://idp.partner.example"
AUDIENCE = "interlude-partner"
ALL = ("read", "order", "pm", "test", "events")


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, org: str = "") -> x509.Name:
    """O then CN, as issued in practice; its RFC 4514 string reads `CN=...,O=...`."""
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Issued:
    """A certificate and its private key, both PEM."""

    cert: bytes
    key: bytes

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert.write_bytes(self.cert)
        key.write_bytes(self.key)
        return cert, key


@dataclass
class CertificateAuthority:
    """A self-signed CA that issues leaf certificates."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        subject = _name(self.name)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.ca.crt"
        path.write_bytes(self.pem)
        return path

    def issue(
        self,
        common_name: str,
        *,
        org: str = "",
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        uris: tuple[str, ...] = (),
        server: bool = False,
        expired: bool = False,
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=2), now - dt.timedelta(days=1))
            if expired
            else (
                now - dt.timedelta(minutes=5),
                now + dt.timedelta(hours=2),
            )
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        sans += [x509.UniformResourceIdentifier(u) for u in uris]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, org))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def server_cert(self) -> Issued:
        return self.issue("interlude.test", dns=("localhost",), ips=("127.0.0.1",), server=True)


class TokenIssuer:
    """An OAuth2 authorization server stand-in: signs access tokens with its RSA key."""

    def __init__(self, kid: str = "key-1", issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def write_jwks(self, path: Path, *others: TokenIssuer) -> Path:
        path.write_text(json.dumps({"keys": [self.jwk(), *(o.jwk() for o in others)]}))
        return path

    def write_public_pem(self, path: Path) -> Path:
        path.write_bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return path

    def claims(self, buyer: str, scopes: tuple[str, ...] = ALL, ttl: float = 300.0) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": buyer,
            "scope": " ".join(scopes),
            "iat": now,
            "nbf": now - 1,
            "exp": now + int(ttl),
            "jti": uuid.uuid4().hex,
        }

    def mint(
        self,
        buyer: str = "sp-alpha",
        scopes: tuple[str, ...] = ALL,
        *,
        omit: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        """A signed token for `buyer`; `claims` override, `omit` removes standard claims."""
        body = {**self.claims(buyer, scopes), **claims}
        for name in omit:
            body.pop(name, None)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


def has_subject_alternative_names(issued: Issued) -> bool:
    """Whether the certificate carries a SubjectAlternativeName extension at all."""
    certificate = x509.load_pem_x509_certificate(issued.cert)
    try:
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return True


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata carrying the token."""
    return (("authorization", f"Bearer {token}"),)


ALPHA_SUBJECT = "CN=sof.alpha.example,O=Alpha SP"
BETA_SAN = "spiffe://beta.example/sof"


@dataclass
class Kit:
    """Everything a secured deployment needs, generated into `root`.

    `alpha_client` (mapped by subject) and `unmapped_client` carry no SubjectAlternativeName
    extension at all; `beta_client` is mapped by its URI SAN.
    """

    root: Path
    partner_ca: CertificateAuthority
    sp_ca: CertificateAuthority
    rogue_ca: CertificateAuthority
    alpha_client: Issued
    beta_client: Issued
    unmapped_client: Issued
    rogue_client: Issued
    issuer: TokenIssuer
    jwks: Path
    cert_map: Path

    @classmethod
    def build(cls, root: Path) -> Kit:
        partner_ca, sp_ca, rogue_ca = (CertificateAuthority(n) for n in ("partner-ca", "sp-ca", "rogue-ca"))
        partner_ca.server_cert().write(root, "server")
        partner_ca.write(root)
        sp_ca.write(root)
        issuer = TokenIssuer()
        cert_map = root / "clients.json"
        cert_map.write_text(
            json.dumps(
                {
                    "clients": [
                        {
                            "subject": ALPHA_SUBJECT,
                            "buyer": "sp-alpha",
                            "scopes": ["read", "order", "events"],
                        },
                        {"san": f"URI:{BETA_SAN}", "buyer": "sp-beta", "scopes": ["read"]},
                    ]
                }
            )
        )
        return cls(
            root=root,
            partner_ca=partner_ca,
            sp_ca=sp_ca,
            rogue_ca=rogue_ca,
            alpha_client=sp_ca.issue("sof.alpha.example", org="Alpha SP"),
            beta_client=sp_ca.issue("beta-orchestrator", uris=(BETA_SAN,)),
            unmapped_client=sp_ca.issue("stranger.example", org="Nobody"),
            rogue_client=rogue_ca.issue("sof.alpha.example", org="Alpha SP"),
            issuer=issuer,
            jwks=issuer.write_jwks(root / "jwks.json"),
            cert_map=cert_map,
        )

    def tls_args(self, mtls: bool = False) -> list[str]:
        args = ["--tls-cert", str(self.root / "server.crt"), "--tls-key", str(self.root / "server.key")]
        if mtls:
            args += [
                "--tls-client-ca",
                str(self.root / "sp-ca.ca.crt"),
                "--client-cert-map",
                str(self.cert_map),
            ]
        return args

    def token_args(self) -> list[str]:
        return ["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE, "--jwt-jwks-file", str(self.jwks)]

    def credentials(
        self, client: Issued | None = None, trust: CertificateAuthority | None = None
    ) -> grpc.ChannelCredentials:
        """Channel credentials trusting `trust` (default: the Partner's CA), presenting `client` if given."""
        return grpc.ssl_channel_credentials(
            root_certificates=(trust or self.partner_ca).pem,
            private_key=client.key if client else None,
            certificate_chain=client.cert if client else None,
        )

    def ssl_context(
        self, client: Issued | None = None, trust: CertificateAuthority | None = None
    ) -> ssl.SSLContext:
        """An HTTPS client context trusting `trust` (default: the Partner's CA), presenting `client`."""
        context = ssl.create_default_context(cadata=(trust or self.partner_ca).pem.decode())
        if client is not None:
            cert, key = client.write(self.root / "clients", uuid.uuid4().hex)
            context.load_cert_chain(cert, key)
        return context


def _other_key_same_kid(kit: Kit) -> str:
    return TokenIssuer(kid=kit.issuer.kid).mint("sp-alpha")


# Refused credentials: (case, the call metadata of the case, the `cause` it is refused with).
REFUSED: list[tuple[str, Callable[[Kit], tuple[tuple[str, str], ...]], str]] = [
    ("missing", lambda kit: (), "missing_credentials"),
    ("expired", lambda kit: bearer(kit.issuer.mint(exp=int(time.time()) - 600)), "token_expired"),
    ("not yet valid", lambda kit: bearer(kit.issuer.mint(nbf=int(time.time()) + 600)), "token_not_yet_valid"),
    ("wrong audience", lambda kit: bearer(kit.issuer.mint(aud="another-partner")), "invalid_audience"),
    ("wrong issuer", lambda kit: bearer(kit.issuer.mint(iss="https://evil.example")), "invalid_issuer"),
    ("bad signature", lambda kit: bearer(_other_key_same_kid(kit)), "invalid_signature"),
    ("unknown key", lambda kit: bearer(TokenIssuer(kid="key-9").mint()), "unknown_key"),
    ("no exp", lambda kit: bearer(kit.issuer.mint(omit=("exp",))), "missing_claim"),
    ("no buyer", lambda kit: bearer(kit.issuer.mint(omit=("sub",))), "missing_claim"),
    (
        "alg none",
        lambda kit: bearer(
            jwt.encode(kit.issuer.claims("sp-alpha"), "", algorithm="none", headers={"kid": "key-1"})
        ),
        "disallowed_algorithm",
    ),
    ("not a jwt", lambda kit: bearer("not-a-token"), "malformed_token"),
    ("basic auth", lambda kit: (("authorization", "Basic c3A6cHc="),), "malformed_authorization"),
]
