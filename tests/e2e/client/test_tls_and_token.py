"""The client's TLS, mutual TLS and bearer token against a TLS gRPC server with real
certificates: what the server sees (client certificate, `authorization`, buyer), and the
failures when a certificate is missing or not trusted. The server is a small in-process
ServiceInventoryService that records each call (server-side auth is issue F7's)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from interlude_client import InterludeClient, tls_credentials, tls_credentials_from_files
from interlude_client import errors as ce
from interlude_client.cli import exits
from interlude_client.cli import main as cli_main
from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, inventory_pb2_grpc
from tests.support.client_certs import Certs, make_certs


@dataclass
class Seen:
    metadata: dict[str, str]
    client_names: list[bytes]


@dataclass
class Recorder(inventory_pb2_grpc.ServiceInventoryServiceServicer):
    calls: list[Seen] = field(default_factory=list)

    def GetService(
        self, request: inventory_pb2.GetServiceRequest, context: Any
    ) -> inventory_pb2.GetServiceResponse:
        auth = context.auth_context()
        self.calls.append(Seen(dict(context.invocation_metadata()), auth.get("x509_common_name", [])))
        return inventory_pb2.GetServiceResponse(service=inventory_pb2.Service(id=request.id))

    def ListServices(
        self, request: inventory_pb2.ListServicesRequest, context: Any
    ) -> inventory_pb2.ListServicesResponse:
        return inventory_pb2.ListServicesResponse()


@dataclass
class TlsServer:
    target: str
    recorder: Recorder
    certs: Certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_server(certs: Certs) -> Iterator[TlsServer]:
    recorder = Recorder()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    inventory_pb2_grpc.add_ServiceInventoryServiceServicer_to_server(recorder, server)
    credentials = grpc.ssl_server_credentials(
        [(certs.server_key.read_bytes(), certs.server_cert.read_bytes())],
        root_certificates=certs.ca.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield TlsServer(f"localhost:{port}", recorder, certs)
    server.stop(None)


def test_mutual_tls_with_a_bearer_token_and_buyer(tls_server: TlsServer) -> None:
    certs = tls_server.certs
    tokens = iter(["token-1", "token-2"])
    credentials = tls_credentials_from_files(certs.ca, certs.client_cert, certs.client_key)
    with InterludeClient(
        tls_server.target, credentials=credentials, buyer="sp-alpha", token=lambda: next(tokens)
    ) as client:
        assert client.get_service("alpha-uni-1").id == "alpha-uni-1"
        assert client.get_service("alpha-uni-2").id == "alpha-uni-2"
    first, second = tls_server.recorder.calls[-2:]
    assert first.client_names == [b"sp-alpha"]  # the server authenticated our certificate
    assert first.metadata["authorization"] == "Bearer token-1"
    assert second.metadata["authorization"] == "Bearer token-2"  # a refreshed token is used at once
    assert first.metadata["x-interlude-buyer"] == "sp-alpha"


def test_without_a_client_certificate_the_handshake_fails(tls_server: TlsServer) -> None:
    credentials = tls_credentials(tls_server.certs.ca.read_bytes())
    with (
        InterludeClient(tls_server.target, credentials=credentials) as client,
        pytest.raises(ce.Unavailable),
    ):
        client.get_service("alpha-uni-1", timeout=5)


def test_a_server_not_signed_by_the_trusted_ca_is_refused(tls_server: TlsServer, tmp_path: Path) -> None:
    other = make_certs(tmp_path / "other")
    credentials = tls_credentials_from_files(other.ca, other.client_cert, other.client_key)
    with (
        InterludeClient(tls_server.target, credentials=credentials) as client,
        pytest.raises(ce.Unavailable),
    ):
        client.get_service("alpha-uni-1", timeout=5)


def test_a_certificate_without_its_key_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="both a client certificate and its key"):
        tls_credentials(cert=b"pem")


def test_the_cli_speaks_mutual_tls_with_a_token_file(
    tls_server: TlsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certs = tls_server.certs
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    common = ["--target", tls_server.target, "--ca", str(certs.ca), "--token-file", str(token_file)]
    mtls = [*common, "--cert", str(certs.client_cert), "--key", str(certs.client_key)]
    assert cli_main([*mtls, "-o", "json", "services", "get", "alpha-uni-9"]) == exits.OK
    assert '"id": "alpha-uni-9"' in capsys.readouterr().out
    assert tls_server.recorder.calls[-1].metadata["authorization"] == "Bearer from-a-file"
    assert cli_main([*common, "--cert", str(certs.client_cert), "services", "get", "x"]) == exits.USAGE
    assert "both a client certificate and its key" in capsys.readouterr().err
