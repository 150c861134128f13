"""TLS for the HTTP side: a real asyncio TLS server with the context the REST adapter will use;
the verified client certificate maps to its buyer exactly as over gRPC."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from interlude_server.auth.authenticator import Authenticator
from interlude_server.auth.certificates import CertificateMap
from interlude_server.auth.principal import Credentials, PeerCertificate
from interlude_server.auth.settings import TlsFiles
from interlude_server.auth.tls import peer_certificate_of, server_ssl_context
from interlude_server.core.errors import Unauthenticated
from tests.support.security import ALPHA_SUBJECT, BETA_SAN, Issued, Kit, has_subject_alternative_names

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _handshake(kit: Kit, client: Issued | None) -> str:
    """Connect with `client`'s certificate: the buyer the server admitted, the cause it refused
    with, or `handshake_failed` when the connection never reached the application."""
    tls = TlsFiles(kit.root / "server.crt", kit.root / "server.key", kit.root / "sp-ca.ca.crt")
    auth = Authenticator("mtls", certificates=CertificateMap.load(kit.cert_map, scopes_required=True))

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        certificate = peer_certificate_of(writer.get_extra_info("ssl_object"))
        try:
            answer = auth.authenticate(Credentials(certificate=certificate)).buyer
        except Unauthenticated as exc:
            answer = exc.cause
        writer.write(answer.encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ssl_context(tls))
    port = server.sockets[0].getsockname()[1]
    context = ssl.create_default_context(cadata=kit.partner_ca.pem.decode())
    if client is not None:
        cert, key = client.write(kit.root, f"client-{id(client)}")
        context.load_cert_chain(cert, key)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        data = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()
        return data.decode() or "handshake_failed"
    except (ssl.SSLError, ConnectionError):
        return "handshake_failed"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit.build(Path(tmp_path_factory.mktemp("http-pki")))


async def test_mapped_client_certificates_are_admitted_as_their_buyer(kit: Kit) -> None:
    assert await _handshake(kit, kit.alpha_client) == "sp-alpha"
    assert await _handshake(kit, kit.beta_client) == "sp-beta"


async def test_missing_or_foreign_client_certificates_fail_the_handshake(kit: Kit) -> None:
    assert await _handshake(kit, None) == "handshake_failed"
    assert await _handshake(kit, kit.rogue_client) == "handshake_failed"


async def test_a_verified_but_unmapped_certificate_is_refused_by_the_authenticator(kit: Kit) -> None:
    assert await _handshake(kit, kit.unmapped_client) == "unknown_certificate"


async def test_a_certificate_without_subject_alternative_names_is_read_by_its_subject_alone(kit: Kit) -> None:
    assert not has_subject_alternative_names(kit.alpha_client)
    certificate = PeerCertificate.from_pem(kit.alpha_client.cert)
    assert (certificate.subject, certificate.sans) == (ALPHA_SUBJECT, ())
    with_san = PeerCertificate.from_pem(kit.beta_client.cert)
    assert with_san.sans == (f"URI:{BETA_SAN}",)


async def test_an_unreadable_certificate_is_unauthenticated_not_an_exception() -> None:
    with pytest.raises(Unauthenticated) as raised:
        PeerCertificate.from_der(b"\x30\x03\x02\x01\x00")
    assert raised.value.cause == "unreadable_certificate"
