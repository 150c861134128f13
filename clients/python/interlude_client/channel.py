"""Channels to an Interlude server: the shipped service config, TLS/mTLS and call metadata.

`service_config.json` (next to this module) is a standard gRPC service config: per-method
deadlines and a retry policy. It is plain JSON so that a client in any language can load
it (grpc-js, grpc-go and grpc-java take the same document; the Node client in
clients/node does). What it says:

- reads (Get*/List*) are idempotent: 10 s deadline, up to 4 attempts on UNAVAILABLE;
- changes (CreateServiceOrder, UpdateService, SetAdministrativeState, CreateConnectivity,
  CancelServiceOrder) carry a `request_id`, so a retry is answered with the first
  response and creates nothing twice: 30 s deadline, the same retry on UNAVAILABLE
  (the client fills request_id when the caller leaves it empty);
- StreamEvents has neither: a stream runs as long as it is read, and the resumable
  iterator (interlude_client.streams) reconnects from its last token instead.

gRPC retries a call only while no response has arrived, so a retry never hides an answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import grpc

BUYER_METADATA = "x-interlude-buyer"
AUTHORIZATION_METADATA = "authorization"
ChannelOptions = Sequence[tuple[str, Any]]
Token = str | Callable[[], str]


def service_config() -> dict[str, Any]:
    """The shipped gRPC service config (deadlines and retry policy per method)."""
    text = resources.files(__package__).joinpath("service_config.json").read_text()
    config: dict[str, Any] = json.loads(text)
    return config


def channel_options(
    config: dict[str, Any] | None = None, extra: ChannelOptions = ()
) -> list[tuple[str, Any]]:
    """Channel options carrying the service config (the shipped one unless `config` is given)."""
    document = service_config() if config is None else config
    return [
        ("grpc.service_config", json.dumps(document)),
        ("grpc.enable_retries", 1),
        *extra,
    ]


def tls_credentials(
    ca: bytes | None = None, cert: bytes | None = None, key: bytes | None = None
) -> grpc.ChannelCredentials:
    """TLS channel credentials: trust `ca` (PEM; None means the system roots) and, for
    mutual TLS, present the client certificate chain `cert` with its private `key`."""
    if (cert is None) != (key is None):
        raise ValueError("mutual TLS needs both a client certificate and its key")
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def tls_credentials_from_files(
    ca_file: str | Path | None = None, cert_file: str | Path | None = None, key_file: str | Path | None = None
) -> grpc.ChannelCredentials:
    """`tls_credentials` from PEM files."""

    def read(path: str | Path | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return tls_credentials(read(ca_file), read(cert_file), read(key_file))


def _options(
    config: dict[str, Any] | None, server_name: str | None, extra: ChannelOptions
) -> list[tuple[str, Any]]:
    options = channel_options(config, extra)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return options


def create_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None = None,
    *,
    config: dict[str, Any] | None = None,
    server_name: str | None = None,
    options: ChannelOptions = (),
) -> grpc.Channel:
    """A sync channel with the service config; TLS when `credentials` are given, else plaintext.
    `server_name` overrides the name the server certificate is checked against."""
    opts = _options(config, server_name, options)
    if credentials is None:
        return grpc.insecure_channel(target, options=opts)
    return grpc.secure_channel(target, credentials, options=opts)


def create_aio_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None = None,
    *,
    config: dict[str, Any] | None = None,
    server_name: str | None = None,
    options: ChannelOptions = (),
) -> grpc.aio.Channel:
    """The grpc.aio twin of `create_channel`."""
    opts = _options(config, server_name, options)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=opts)
    return grpc.aio.secure_channel(target, credentials, options=opts)


def bearer(token: str) -> tuple[str, str]:
    """The metadata pair that sends `token` as an OAuth2-style bearer token."""
    return (AUTHORIZATION_METADATA, f"Bearer {token}")


@dataclass(frozen=True)
class CallMetadata:
    """What every call of a client sends: the buyer it acts as and its bearer token.

    `token` may be a callable, asked before every call, so a refreshed token is used
    at once. Sent as plain metadata: it works on TLS and (for local development)
    plaintext channels alike, where grpc's call credentials would refuse plaintext."""

    buyer: str | None = None
    token: Token | None = None

    def pairs(self, extra: Sequence[tuple[str, str]] = ()) -> tuple[tuple[str, str], ...]:
        found: list[tuple[str, str]] = []
        if self.buyer:
            found.append((BUYER_METADATA, self.buyer))
        if self.token is not None:
            token = self.token() if callable(self.token) else self.token
            if token:
                found.append(bearer(token))
        return (*found, *extra)
