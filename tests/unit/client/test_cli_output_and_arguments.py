"""The `interlude` CLI without a server: how it prints numbers, and which arguments it
refuses before it connects (a usage error: exit 2 with argparse's message)."""

from __future__ import annotations

import io
import json

import pytest
from google.protobuf import struct_pb2

from interlude_client import cli
from interlude_client.cli import exits
from interlude_client.cli.output import Output, as_dict, whole_numbers
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2


def _service() -> inventory_pb2.Service:
    attributes = struct_pb2.Struct()
    attributes.update({"maximumFrameSize": 1522, "cir": {"irValue": 100}, "ratio": 0.5, "vlans": [10, 20]})
    return inventory_pb2.Service(
        id="uni-1",
        service_configuration=common_pb2.ExtensionPayload(type="urn:x", attributes=attributes),
    )


def test_struct_numbers_that_are_whole_print_as_integers_in_json() -> None:
    out = io.StringIO()
    Output(json=True, out=out).one(_service())
    text = out.getvalue()
    assert '"maximumFrameSize": 1522' in text  # (a Struct's keys come in no fixed order)
    assert '"maximumFrameSize": 1522.0' not in text
    assert ".0" not in text.replace("0.5", "")
    attributes = json.loads(text)["serviceConfiguration"]["attributes"]
    assert attributes == {"maximumFrameSize": 1522, "cir": {"irValue": 100}, "ratio": 0.5, "vlans": [10, 20]}
    assert isinstance(attributes["maximumFrameSize"], int)


def test_struct_numbers_that_are_whole_print_as_integers_in_a_table() -> None:
    out = io.StringIO()
    Output(out=out).one(_service())
    (line,) = [row for row in out.getvalue().splitlines() if row.startswith("serviceConfiguration")]
    assert '"maximumFrameSize":1522' in line
    assert '"maximumFrameSize":1522.0' not in line
    assert '"vlans":[10,20]' in line
    assert '"ratio":0.5' in line


def test_maps_print_with_sorted_keys_so_one_resource_prints_one_text() -> None:
    """upb keeps a map's (a Struct's) entries in an order that changes with every process:
    the CLI sorts them, and leaves message fields in their proto order."""
    keys = [f"k{n:02d}" for n in range(24, 0, -1)]
    attributes = struct_pb2.Struct()
    attributes.update({key: {"z": 1, "a": [{"y": 2, "b": 3}]} for key in keys})
    service = inventory_pb2.Service(
        id="uni-1",
        href="/uni-1",
        service_configuration=common_pb2.ExtensionPayload(type="urn:x", attributes=attributes),
    )
    data = as_dict(service)
    assert list(data)[:2] == ["id", "href"]
    printed = data["serviceConfiguration"]["attributes"]
    assert list(printed) == sorted(keys)
    assert all(list(value) == ["a", "z"] and list(value["a"][0]) == ["b", "y"] for value in printed.values())
    out = io.StringIO()
    Output(json=True, out=out).one(service)
    assert out.getvalue().index('"k01"') < out.getvalue().index('"k24"')


def test_whole_numbers_keeps_everything_else() -> None:
    assert whole_numbers({"a": [1.0, 2.5, "3.0", True, None], "b": float("inf")}) == {
        "a": [1, 2.5, "3.0", True, None],
        "b": float("inf"),
    }
    assert type(as_dict(_service())["serviceConfiguration"]["attributes"]["cir"]["irValue"]) is int


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["services", "list", "--limit", "-5"], "argument --limit: must be 0 or more, got -5"),
        (["orders", "list", "--page-size", "-1"], "argument --page-size: must be 0 or more, got -1"),
        (["events", "watch", "--limit", "-1"], "argument --limit: must be 0 or more, got -1"),
        (["pm", "stream", "--limit", "-2"], "argument --limit: must be 0 or more, got -2"),
        (["events", "watch", "--heartbeat", "-3"], "argument --heartbeat: must be 0 or more, got -3"),
        (
            ["pm", "profiles", "update", "p", "--granularity", "-1 min"],
            "argument --granularity: must be 0 or more, got -1 min",
        ),
        (["pm", "jobs", "modify", "j", "--priority", "-1"], "argument --priority: must be 0 or more, got -1"),
        (
            ["pm", "jobs", "create", "--execution-duration=-15min"],
            "argument --execution-duration: must be 0 or more, got -15min",
        ),
        (["pm", "jobs", "create", "--cron", "0 */5 * * *"], "argument --cron: want six fields"),
        (["pm", "reports", "create", "--start", "yesterday"], "argument --start: want an RFC 3339 time"),
        (
            ["pm", "reports", "create", "--granularity", "15 parsecs"],
            "argument --granularity: want a number and a unit",
        ),
        (["pm", "reports", "file", "r", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (
            ["fm", "jobs", "create", "ping", "a", "b", "--priority", "-1"],
            "argument --priority: must be 0 or more",
        ),
        (
            ["fm", "jobs", "create", "ping", "a", "b", "--end-after", "-1"],
            "argument --end-after: must be 0 or more",
        ),
        (["fm", "jobs", "create", "y1564", "a", "b"], "argument procedure: want one of loopback, linktrace"),
        (["fm", "jobs", "list", "--limit", "-3"], "argument --limit: must be 0 or more, got -3"),
        (["--timeout", "-1", "services", "list"], "argument --timeout: must be more than 0 seconds, got -1"),
        (["--timeout", "0", "services", "list"], "argument --timeout: must be more than 0 seconds, got 0"),
        (["--timeout", "nan", "services", "list"], "argument --timeout: must be more than 0 seconds"),
        (["--timeout", "soon", "services", "list"], "argument --timeout: invalid number of seconds: 'soon'"),
        (["--connect-timeout", "-2", "events", "watch"], "argument --connect-timeout: must be more than 0"),
    ],
)
def test_negative_counts_and_timeouts_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--target", "127.0.0.1:1", *argv])
    assert exited.value.code == exits.USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: interlude")
    assert f"error: {message}" in err


def test_a_bad_connect_timeout_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INTERLUDE_CONNECT_TIMEOUT", "-1")
    with pytest.raises(SystemExit) as exited:
        cli.main(["events", "watch"])
    assert exited.value.code == exits.USAGE
    assert "argument --connect-timeout: must be more than 0 seconds, got -1" in capsys.readouterr().err


def test_the_exit_codes_are_in_the_help() -> None:
    epilog = cli.build_parser().epilog or ""
    assert "141  the reader of the output went away" in epilog
    assert exits.PIPE_CLOSED == 141
