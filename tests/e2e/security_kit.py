"""A test PKI, a token issuer and the flag sets of secured servers, built per test module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import grpc

from tests.security import AUDIENCE, ISSUER, CertificateAuthority, Issued, TokenIssuer

ALPHA_SUBJECT = "CN=sof.alpha.example,O=Alpha SP"
BETA_SAN = "spiffe://beta.example/sof"


@dataclass
class Kit:
    """Everything a secured deployment needs, generated into `root`."""

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
