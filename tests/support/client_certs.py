"""Real X.509 certificates for TLS tests, made with the openssl command (ECDSA P-256 keys,
quick to make): a CA, a server certificate for `localhost`/127.0.0.1 and a client
certificate, all signed by the CA."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command is required for TLS tests"
    subprocess.run([openssl, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _new_key(directory: Path, name: str, subject: str, *request: str) -> None:
    """A new P-256 key `name.key` and, per `request`, a CSR or a self-signed certificate."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-subj", subject, *request, cwd=directory)  # fmt: skip


def _issue(directory: Path, name: str, subject: str, extensions: str) -> None:
    """A key and a certificate `name.pem` signed by the CA, with these X.509 extensions."""
    (directory / f"{name}.ext").write_text(extensions)
    _new_key(directory, name, subject, "-out", f"{name}.csr")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
             cwd=directory)  # fmt: skip


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    _new_key(directory, "ca", "/CN=interlude test CA", "-x509", "-days", "2", "-out", "ca.pem")
    _issue(
        directory,
        "server",
        "/CN=localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    _issue(directory, "client", "/CN=sp-alpha", "extendedKeyUsage=clientAuth\n")
    return Certs(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
    )
