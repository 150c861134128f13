"""TLS for HTTP transports (the REST adapter): the same files and rules as gRPC.

gRPC builds its credentials in api/tls.py; an HTTP server (aiohttp) takes the
ssl.SSLContext built here, and reads the verified client certificate of a
request with `peer_certificate_of(transport.get_extra_info("ssl_object"))`.
"""

from __future__ import annotations

import functools
import ssl

from interlude_server.auth.principal import PeerCertificate
from interlude_server.auth.settings import TlsFiles


def server_ssl_context(tls: TlsFiles) -> ssl.SSLContext:
    """TLS 1.2+ with the server certificate; with a client CA, a client certificate signed by
    it is required in the handshake (mTLS). Raises OSError/ssl.SSLError on bad files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert, tls.key)
    if tls.client_ca is not None:
        context.load_verify_locations(cafile=tls.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_certificate_of(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> PeerCertificate | None:
    """The client certificate the handshake verified, if any."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return _parsed(der) if der else None


@functools.lru_cache(maxsize=1024)
def _parsed(der: bytes) -> PeerCertificate:
    """Parsed once per certificate: a keep-alive client presents the same one on every request."""
    return PeerCertificate.from_der(der)
