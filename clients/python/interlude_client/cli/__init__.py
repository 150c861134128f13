"""`interlude`: the Service Provider's command line over the typed client.

    interlude --buyer sp-alpha services list
    interlude -o json orders get ORDER_ID
    interlude update alpha-ovc-1-ep-1 --set ingressBandwidthProfilePerOvcEndPoint.cir.irValue=200 --follow
    interlude tests run y1564-sat alpha-evc-1-ep-1 alpha-evc-1-ep-2 --follow

Each command group lives in its own module with a `register(commands)` function that
adds its subcommands and sets `run(args, ctx) -> exit code`; adding a group (e.g. `pm`,
`tests`, `fm`) is one module and one entry in COMMAND_MODULES. Exit codes: see `exits`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from interlude_client.cli import catalog, events, exits, fm, orders, pm, services, tests
from interlude_client.cli.context import Context, add_connection_options
from interlude_client.errors import InterludeError

COMMAND_MODULES = (services, catalog, orders, events, pm, tests, fm)


def _version() -> str:
    try:
        return version("interlude-grpc")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `interlude`."""
    parser = argparse.ArgumentParser(
        prog="interlude",
        description="MEF LSO Interlude client (gRPC).",
        epilog=exits.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_connection_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of `interlude`; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return exits.USAGE
    ctx = Context.from_args(args)
    try:
        code: int = args.run(args, ctx)
        return code
    except InterludeError as error:
        ctx.output.error(error)
        return exits.for_error(error)
    except exits.UsageError as problem:
        ctx.output.problem(str(problem))
        return exits.USAGE
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return exits.PIPE_CLOSED
    finally:
        ctx.close()


def _silence_stdout() -> None:
    """After the reader of stdout went away (`| head`): point stdout at /dev/null, so that
    Python's own flush at exit does not print a BrokenPipeError of its own."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured in tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
