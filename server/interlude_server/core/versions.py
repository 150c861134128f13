"""What a running server is: its package version, the contract it serves, its gRPC runtime.

`--version` of `interlude-server` and `interlude-rest-gateway` print `describe()`; an operator
pastes it into a bug report.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import common_pb2

DISTRIBUTION = "interlude-grpc"
CONTRACT = common_pb2.DESCRIPTOR.package  # mef.lso.interlude.v1, read from the generated bindings


def package_version(distribution: str) -> str:
    """The installed version of `distribution`, or `unknown` when it is not installed."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def describe(program: str, contract: str = CONTRACT) -> str:
    """`program VERSION`, the contract package, and the grpcio and protobuf versions in use."""
    return (
        f"{program} {package_version(DISTRIBUTION)}\n"
        f"contract {contract}\n"
        f"grpcio {package_version('grpcio')}, protobuf {package_version('protobuf')}"
    )


def add_version_flag(parser: argparse.ArgumentParser, contract: str = CONTRACT) -> None:
    """`--version`: print `describe(parser.prog, contract)` as it is (argparse's own action
    rewraps it)."""

    class _Version(argparse.Action):
        def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
            sys.stdout.write(describe(parser.prog, contract) + "\n")
            parser.exit()

    parser.add_argument(
        "--version",
        nargs=0,
        action=_Version,
        help="print the package, contract, grpcio and protobuf versions and exit",
    )
