"""Client certificates to buyers: the mapping file of mTLS deployments.

The TLS layer has already verified the certificate chain against the client
CA; this file only says which buyer a verified certificate acts for, by its
exact subject or by one of its subject alternative names:

    {"clients": [
      {"subject": "CN=sof.alpha.example,O=Alpha SP", "buyer": "sp-alpha", "scopes": ["read", "order"]},
      {"san": "URI:spiffe://beta.example/sof", "buyer": "sp-beta", "scopes": ["read", "events"]}
    ]}

`scopes` is what the certificate grants in `--auth mtls`; with `--auth token+mtls`
it caps the token's scopes (absent = no cap).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from interlude_server.auth.principal import PeerCertificate
from interlude_server.auth.scopes import ALL_SCOPES
from interlude_server.core.errors import Unauthenticated

SAN_TYPES = ("DNS:", "URI:", "IP:", "email:")


class MappingConfigError(ValueError):
    """The mapping file is unreadable or says something ambiguous."""


@dataclass(frozen=True)
class CertificateGrant:
    """What one mapped certificate identity stands for."""

    buyer: str
    scopes: frozenset[str] | None  # None: no cap (token+mtls only)
    identity: str


def _normal_subject(subject: str) -> str:
    """RFC 4514 form (`CN=...,O=...`, most specific first, as `openssl x509 -noout -subject
    -nameopt RFC2253` prints it); blanks around `,` `=` `+` are tolerated."""
    compact = re.sub(r"\s*([,=+])\s*", r"\1", subject.strip())
    try:
        return x509.Name.from_rfc4514_string(compact).rfc4514_string()
    except ValueError as exc:
        raise ValueError(f"subject {subject!r} is not an RFC 4514 name ({exc})") from exc


def _normal_san(san: str) -> str:
    kind = next((t for t in SAN_TYPES if san.startswith(t)), None)
    if kind is None:
        raise ValueError(f"a SAN starts with one of {', '.join(SAN_TYPES)}")
    return san.lower() if kind == "DNS:" else san


def _entry(index: int, item: object, scopes_required: bool) -> tuple[str, CertificateGrant]:
    where = f"clients[{index}]"
    if not isinstance(item, dict):
        raise MappingConfigError(f"{where}: expected an object")
    buyer = item.get("buyer")
    if not isinstance(buyer, str) or not buyer:
        raise MappingConfigError(f"{where}.buyer: a non-empty string is required")
    if ("subject" in item) == ("san" in item):
        raise MappingConfigError(f"{where}: give exactly one of subject or san")
    try:
        identity = (
            f"subject:{_normal_subject(str(item['subject']))}"
            if "subject" in item
            else f"san:{_normal_san(str(item['san']))}"
        )
    except ValueError as exc:
        raise MappingConfigError(f"{where}: {exc}") from exc
    scopes = item.get("scopes")
    if scopes is None and scopes_required:
        raise MappingConfigError(f'{where}.scopes: required with --auth mtls (e.g. ["read"])')
    if scopes is not None:
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise MappingConfigError(f"{where}.scopes: expected an array of scope names")
        if unknown := set(scopes) - ALL_SCOPES:
            raise MappingConfigError(f"{where}.scopes: unknown {sorted(unknown)}; known {sorted(ALL_SCOPES)}")
    grant = CertificateGrant(buyer, frozenset(scopes) if scopes is not None else None, identity)
    return identity, grant


class CertificateMap:
    """Maps a verified client certificate to the buyer it acts for."""

    def __init__(self, grants: dict[str, CertificateGrant]) -> None:
        self._grants = grants

    @classmethod
    def load(cls, path: Path, *, scopes_required: bool) -> CertificateMap:
        try:
            document = json.loads(path.read_text())
            clients = document["clients"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MappingConfigError(f'{path}: expected JSON {{"clients": [...]}} ({exc})') from exc
        if not isinstance(clients, list):
            raise MappingConfigError(f"{path}: clients must be an array")
        grants: dict[str, CertificateGrant] = {}
        for index, item in enumerate(clients):
            identity, grant = _entry(index, item, scopes_required)
            if identity in grants:
                raise MappingConfigError(f"{path}: clients[{index}] repeats {identity}")
            grants[identity] = grant
        return cls(grants)

    def grant_for(self, certificate: PeerCertificate) -> CertificateGrant:
        """The grant of the certificate's subject or SANs; refused if none, or if they disagree."""
        identities = [f"subject:{certificate.subject}", *(f"san:{_normal_san(s)}" for s in certificate.sans)]
        found = {g.buyer: g for i in identities if (g := self._grants.get(i)) is not None}
        if not found:
            raise Unauthenticated("the client certificate is not mapped to a buyer", "unknown_certificate")
        if len(found) > 1:
            raise Unauthenticated(
                "the client certificate maps to more than one buyer", "ambiguous_certificate"
            )
        return next(iter(found.values()))
