"""Transport and caller security against real server processes: TLS, mTLS, JWT bearer tokens,
scopes, and the safe defaults (binding, startup checks, logs without secrets).

Certificates, keys and tokens are generated when the module runs (tests/support/security.py).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from interlude_grpc.mef.lso.interlude.v1 import (
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    performance_pb2,
    performance_pb2_grpc,
)
from interlude_server.auth.scopes import RPC_SCOPES
from tests.support.helpers import Stubs, rich_error
from tests.support.rpc import invoke, methods, path
from tests.support.security import ALL, REFUSED, Kit, bearer, has_subject_alternative_names
from tests.support.server_process import ServerProcess, serve_demo, server_command


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit.build(tmp_path_factory.mktemp("pki"))


def _serve(
    tmp_path_factory: pytest.TempPathFactory, name: str, credentials: grpc.ChannelCredentials, *args: str
) -> Iterator[ServerProcess]:
    yield from serve_demo(tmp_path_factory.mktemp(name), *args, credentials=credentials)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
    yield from _serve(
        tmp_path_factory,
        "token",
        kit.credentials(),
        "--auth",
        "token",
        *kit.tls_args(),
        *kit.token_args(),
        "--max-message-bytes",
        "65536",
        "--jwt-leeway",
        "1",
    )


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
    yield from _serve(
        tmp_path_factory,
        "mtls",
        kit.credentials(kit.alpha_client),
        "--auth",
        "mtls",
        *kit.tls_args(mtls=True),
    )


@pytest.fixture(scope="module")
def both_server(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[ServerProcess]:
    yield from _serve(
        tmp_path_factory,
        "both",
        kit.credentials(kit.alpha_client),
        "--auth",
        "token+mtls",
        *kit.tls_args(mtls=True),
        *kit.token_args(),
    )


@pytest.fixture(scope="module")
def token_channel(token_server: ServerProcess, kit: Kit) -> Iterator[grpc.Channel]:
    with grpc.secure_channel(token_server.target, kit.credentials()) as channel:
        yield channel


def _health(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        return grpc.StatusCode.OK


def _service_ids(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> set[str]:
    response = Stubs.on(channel).inventory.ListServices(
        inventory_pb2.ListServicesRequest(page_size=200), metadata=metadata
    )
    return {s.id for s in response.services}


# --- TLS -------------------------------------------------------------------------------------------


def test_tls_handshake_succeeds_with_the_partner_ca_and_fails_otherwise(
    token_server: ServerProcess, kit: Kit
) -> None:
    assert _health(token_server.target, kit.credentials()) == grpc.StatusCode.OK
    assert _health(token_server.target, kit.credentials(trust=kit.rogue_ca)) == grpc.StatusCode.UNAVAILABLE
    assert _health(token_server.target, None) == grpc.StatusCode.UNAVAILABLE  # plaintext to a TLS port


def test_mtls_handshake_needs_a_client_certificate_from_the_client_ca(
    mtls_server: ServerProcess, kit: Kit
) -> None:
    assert _health(mtls_server.target, kit.credentials(kit.alpha_client)) == grpc.StatusCode.OK
    assert _health(mtls_server.target, kit.credentials()) == grpc.StatusCode.UNAVAILABLE  # no certificate
    assert _health(mtls_server.target, kit.credentials(kit.rogue_client)) == grpc.StatusCode.UNAVAILABLE
    expired = kit.sp_ca.issue("sof.alpha.example", org="Alpha SP", expired=True)  # mapped, but expired
    assert _health(mtls_server.target, kit.credentials(expired)) == grpc.StatusCode.UNAVAILABLE


# --- tokens ----------------------------------------------------------------------------------------


def test_a_valid_token_acts_for_its_buyer_only(token_channel: grpc.Channel, kit: Kit) -> None:
    alpha = _service_ids(token_channel, bearer(kit.issuer.mint("sp-alpha")))
    beta = _service_ids(token_channel, bearer(kit.issuer.mint("sp-beta")))
    assert alpha
    assert beta
    assert all(s.startswith("alpha-") for s in alpha)
    assert all(s.startswith("beta-") for s in beta)


@pytest.mark.parametrize(("case", "metadata_of", "cause"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_or_missing_tokens_are_unauthenticated_with_their_cause(
    token_channel: grpc.Channel,
    kit: Kit,
    case: str,
    metadata_of: Callable[[Kit], tuple[tuple[str, str], ...]],
    cause: str,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        Stubs.on(token_channel).inventory.ListServices(
            inventory_pb2.ListServicesRequest(), metadata=metadata_of(kit)
        )
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED, case
    assert error.reason == "UNAUTHENTICATED"
    assert error.metadata["cause"] == cause


def test_the_dev_buyer_header_is_ignored_with_tokens(token_channel: grpc.Channel, kit: Kit) -> None:
    token = bearer(kit.issuer.mint("sp-alpha"))
    seen = _service_ids(token_channel, (*token, ("x-interlude-buyer", "sp-beta")))
    assert seen == _service_ids(token_channel, token)
    with pytest.raises(grpc.RpcError) as raised:  # and it is no credential on its own
        _service_ids(token_channel, (("x-interlude-buyer", "sp-beta"),))
    assert rich_error(raised.value).code == grpc.StatusCode.UNAUTHENTICATED


def test_health_and_reflection_need_no_token(
    token_server: ServerProcess, token_channel: grpc.Channel
) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(token_channel)
    (response,) = list(
        stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    )
    assert "mef.lso.interlude.v1.ServiceInventoryService" in {
        s.name for s in response.list_services_response.service
    }


# --- scopes ----------------------------------------------------------------------------------------


def test_every_rpc_needs_its_scope(
    token_channel: grpc.Channel, kit: Kit, contract_services: list[ServiceDescriptor]
) -> None:
    """Each contract RPC refuses a token holding every scope but its own, and admits one holding
    only its own (it may still fail for other reasons: unimplemented, invalid request)."""
    checked = 0
    for method in methods(contract_services):
        scope = RPC_SCOPES[path(method)]
        without = invoke(
            token_channel,
            method,
            metadata=bearer(kit.issuer.mint(scopes=tuple(s for s in ALL if s != scope))),
        )
        assert (without.code, without.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE"), path(
            method
        )
        assert without.metadata["required_scope"] == scope
        only = invoke(token_channel, method, metadata=bearer(kit.issuer.mint(scopes=(scope,))))
        assert only.code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), (
            path(method),
            only,
        )
        checked += 1
    assert checked == len(RPC_SCOPES)


def test_a_stream_ends_when_its_token_expires(token_channel: grpc.Channel, kit: Kit) -> None:
    token = bearer(kit.issuer.mint("sp-alpha", exp=int(time.time()) + 1))
    request = events_pb2.StreamEventsRequest(heartbeat_interval=duration_pb2.Duration(seconds=1))
    stream = events_pb2_grpc.EventServiceStub(token_channel).StreamEvents(request, metadata=token, timeout=20)
    responses: list[events_pb2.StreamEventsResponse] = []
    with pytest.raises(grpc.RpcError) as raised:
        responses.extend(stream)
    error = rich_error(raised.value)
    assert (error.code, error.metadata["cause"]) == (grpc.StatusCode.UNAUTHENTICATED, "token_expired")
    assert any(r.HasField("sync") for r in responses), "the stream was admitted and served first"


# --- mTLS and token+mTLS ---------------------------------------------------------------------------


def test_mtls_certificates_act_for_their_mapped_buyer_with_their_scopes(
    mtls_server: ServerProcess, kit: Kit
) -> None:
    with grpc.secure_channel(mtls_server.target, kit.credentials(kit.alpha_client)) as channel:
        seen = _service_ids(channel, (("x-interlude-buyer", "sp-beta"),))
        assert seen
        assert all(s.startswith("alpha-") for s in seen)
    with grpc.secure_channel(
        mtls_server.target, kit.credentials(kit.beta_client)
    ) as channel:  # mapped by SAN
        seen = _service_ids(channel, ())
        assert seen
        assert all(s.startswith("beta-") for s in seen)
        stream = events_pb2_grpc.EventServiceStub(channel).StreamEvents(
            events_pb2.StreamEventsRequest(), timeout=5
        )
        with pytest.raises(grpc.RpcError) as raised:
            next(iter(stream))
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE")
        assert error.metadata["required_scope"] == "events"


def test_a_verified_but_unmapped_certificate_is_unauthenticated(mtls_server: ServerProcess, kit: Kit) -> None:
    with (
        grpc.secure_channel(mtls_server.target, kit.credentials(kit.unmapped_client)) as channel,
        pytest.raises(grpc.RpcError) as raised,
    ):
        _service_ids(channel, (("x-interlude-buyer", "sp-alpha"),))
    error = rich_error(raised.value)
    assert (error.code, error.metadata["cause"]) == (grpc.StatusCode.UNAUTHENTICATED, "unknown_certificate")


def test_a_client_certificate_without_subject_alternative_names_maps_by_subject_or_is_refused(
    mtls_server: ServerProcess, kit: Kit
) -> None:
    """A certificate with no SAN extension never breaks the handshake: mapped by its subject it
    acts for that buyer; unmapped it is UNAUTHENTICATED with a cause, and the server keeps serving."""
    assert not has_subject_alternative_names(kit.alpha_client)
    assert not has_subject_alternative_names(kit.unmapped_client)
    with grpc.secure_channel(mtls_server.target, kit.credentials(kit.unmapped_client)) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            _service_ids(channel, ())
        error = rich_error(raised.value)
        assert (error.code, error.reason, error.metadata["cause"]) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "UNAUTHENTICATED",
            "unknown_certificate",
        )
    with grpc.secure_channel(mtls_server.target, kit.credentials(kit.alpha_client)) as channel:
        seen = _service_ids(channel, ())
    assert seen
    assert all(s.startswith("alpha-") for s in seen)


def test_token_and_certificate_must_name_the_same_buyer(both_server: ServerProcess, kit: Kit) -> None:
    with grpc.secure_channel(both_server.target, kit.credentials(kit.alpha_client)) as channel:
        assert all(s.startswith("alpha-") for s in _service_ids(channel, bearer(kit.issuer.mint("sp-alpha"))))
        for metadata, cause in (
            (bearer(kit.issuer.mint("sp-beta")), "buyer_mismatch"),
            ((), "missing_credentials"),
        ):
            with pytest.raises(grpc.RpcError) as raised:
                _service_ids(channel, metadata)
            error = rich_error(raised.value)
            assert (error.code, error.metadata["cause"]) == (grpc.StatusCode.UNAUTHENTICATED, cause)


def test_the_certificates_scopes_cap_the_tokens(both_server: ServerProcess, kit: Kit) -> None:
    # The alpha certificate is mapped with read, order, events: a token's `pm` does not pass it.
    with grpc.secure_channel(both_server.target, kit.credentials(kit.alpha_client)) as channel:
        stub = performance_pb2_grpc.PerformanceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListPerformanceJobs(
                performance_pb2.ListPerformanceJobsRequest(),
                metadata=bearer(kit.issuer.mint("sp-alpha")),
                timeout=5,
            )
    error = rich_error(raised.value)
    assert (error.code, error.metadata["required_scope"]) == (grpc.StatusCode.PERMISSION_DENIED, "pm")


# --- safe defaults ---------------------------------------------------------------------------------


def _refused_start(tmp_path: Path, *args: str) -> str:
    """Run a server that must refuse to start; its output."""
    done = subprocess.run(
        server_command(tmp_path, *args), capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2, done
    assert not (tmp_path / "ready").exists()
    return done.stdout + done.stderr


def test_auth_none_is_refused_on_a_non_loopback_address(tmp_path: Path) -> None:
    out = _refused_start(tmp_path, "--grpc-listen", "0.0.0.0:0")
    assert "--auth none on non-loopback '0.0.0.0'" in out


def test_an_unreadable_key_source_stops_startup(tmp_path: Path, kit: Kit) -> None:
    bad = tmp_path / "jwks.json"
    bad.write_text('{"keys": []}')
    args = ["--auth", "token", "--jwt-issuer", "i", "--jwt-audience", "a", "--jwt-jwks-file", str(bad)]
    assert "security.invalid" in _refused_start(tmp_path, *args)


def test_an_oversized_request_is_refused(token_channel: grpc.Channel, kit: Kit) -> None:
    stubs = Stubs.on(token_channel)
    token = bearer(kit.issuer.mint("sp-alpha"))
    big = inventory_pb2.ListServicesRequest(page_token="x" * 70_000)
    with pytest.raises(grpc.RpcError) as raised:
        stubs.inventory.ListServices(big, metadata=token, timeout=5)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    small = inventory_pb2.ListServicesRequest(page_size=1)
    assert len(stubs.inventory.ListServices(small, metadata=token, timeout=5).services) == 1


def test_tokens_never_reach_the_logs_and_denials_are_logged_with_their_cause(
    token_server: ServerProcess, token_channel: grpc.Channel, kit: Kit
) -> None:
    good, expired = kit.issuer.mint("sp-alpha"), kit.issuer.mint("sp-alpha", exp=int(time.time()) - 600)
    _service_ids(token_channel, bearer(good))
    with pytest.raises(grpc.RpcError):
        _service_ids(token_channel, bearer(expired))
    deadline = time.monotonic() + 5
    while '"token_expired"' not in token_server.logs():
        assert time.monotonic() < deadline, "no auth.denied event logged"
        time.sleep(0.05)
    logs = token_server.logs()
    for token in (good, expired):
        for part in token.split("."):
            assert part not in logs
    denied = [line for line in logs.splitlines() if '"auth.denied"' in line and '"token_expired"' in line]
    assert denied
    assert '"operation": "/mef.lso.interlude.v1.ServiceInventoryService/ListServices"' in denied[0]
    finished = [json.loads(line) for line in logs.splitlines() if '"rpc.finished"' in line]
    codes = {(e["code"], e["buyer"]) for e in finished if e["method"].endswith("/ListServices")}
    assert ("OK", "sp-alpha") in codes  # the buyer the token proved, not a header
    assert ("UNAUTHENTICATED", "") in codes
