"""gRPC server credentials from the TLS files: TLS, or mTLS when a client CA is given.

With a client CA, the handshake itself refuses clients without a certificate
signed by it; which buyer a verified certificate acts for is the auth layer's
business (interlude_server.auth.certificates).
"""

from __future__ import annotations

import grpc

from interlude_server.auth.settings import TlsFiles


def server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """Raises OSError if a file cannot be read (grpc itself rejects bad PEM at bind time)."""
    client_ca = tls.client_ca.read_bytes() if tls.client_ca is not None else None
    return grpc.ssl_server_credentials(
        [(tls.key.read_bytes(), tls.cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
