"""`interlude`: the Service Provider's command line (a skeleton; issue F8 builds it)."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

DEFAULT_TARGET = "127.0.0.1:50051"
COMMANDS = {
    "services": "query the service inventory",
    "orders": "create, follow and cancel service orders",
    "events": "stream service events",
    "perf": "performance jobs, reports and data",
    "tests": "service tests and their results",
}


def _version() -> str:
    try:
        return version("interlude-grpc")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `interlude`."""
    parser = argparse.ArgumentParser(prog="interlude", description="MEF LSO Interlude client (gRPC).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--target", default=DEFAULT_TARGET, metavar="HOST:PORT", help=f"server (default {DEFAULT_TARGET})"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        commands.add_parser(name, help=f"{summary} (not implemented yet, F8)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of `interlude`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    sys.stderr.write(f"interlude {args.command}: not implemented yet (F8)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
