"""What every command gets: the parsed connection options turned into a client, and the output."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf.message import Message

from interlude_client.channel import tls_credentials_from_files
from interlude_client.cli import exits
from interlude_client.cli.exits import UsageError
from interlude_client.cli.output import Column, Output
from interlude_client.client import DEFAULT_TARGET, InterludeClient
from interlude_client.errors import Unavailable

DEFAULT_CONNECT_TIMEOUT = 5.0
NOTHING_STORED = "validate-only: the server checked the request and accepted it; nothing was stored"


def count(text: str) -> int:
    """An argparse type: a whole number >= 0 (--limit, --page-size, --heartbeat...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0 (--timeout, --connect-timeout)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--target",
        default=env("INTERLUDE_TARGET", DEFAULT_TARGET),
        metavar="HOST:PORT",
        help=f"server address (env INTERLUDE_TARGET, default {DEFAULT_TARGET})",
    )
    group.add_argument(
        "--buyer",
        default=env("INTERLUDE_BUYER"),
        help="act as this buyer: metadata x-interlude-buyer (env INTERLUDE_BUYER)",
    )
    group.add_argument(
        "--token",
        default=env("INTERLUDE_TOKEN"),
        help="bearer token sent as `authorization: Bearer ...` (env INTERLUDE_TOKEN)",
    )
    group.add_argument("--token-file", type=Path, help="read the bearer token from this file")
    group.add_argument("--tls", action="store_true", help="use TLS (implied by --ca/--cert)")
    group.add_argument("--ca", type=Path, metavar="PEM", help="CA certificates to trust (default: system)")
    group.add_argument("--cert", type=Path, metavar="PEM", help="client certificate chain (mutual TLS)")
    group.add_argument("--key", type=Path, metavar="PEM", help="client private key (mutual TLS)")
    group.add_argument("--server-name", help="name to check the server certificate against")
    group.add_argument("--timeout", type=seconds, metavar="SECONDS", help="deadline of each call")
    group.add_argument(
        "--connect-timeout",
        type=seconds,
        default=env("INTERLUDE_CONNECT_TIMEOUT", str(DEFAULT_CONNECT_TIMEOUT)),  # converted by `type`
        metavar="SECONDS",
        help="a stream (events watch, pm stream) fails (exit 6) when no connection is up "
        f"within this time (env INTERLUDE_CONNECT_TIMEOUT, default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    group.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output form (default table)"
    )


@dataclass
class Context:
    """The output, and a client created on first use from the connection options."""

    args: argparse.Namespace
    output: Output
    _client: InterludeClient | None = field(default=None, init=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        return cls(args, Output(json=args.output == "json"))

    @property
    def timeout(self) -> float | None:
        value: float | None = self.args.timeout
        return value

    @property
    def client(self) -> InterludeClient:
        if self._client is None:
            args = self.args
            token = args.token
            credentials = None
            try:
                if args.token_file is not None:
                    token = args.token_file.read_text().strip()
                if args.tls or args.ca or args.cert or args.key:
                    credentials = tls_credentials_from_files(args.ca, args.cert, args.key)
            except (OSError, ValueError) as problem:
                raise UsageError(str(problem)) from problem
            self._client = InterludeClient(
                args.target,
                credentials=credentials,
                buyer=args.buyer,
                token=token,
                server_name=args.server_name,
            )
        return self._client

    def connected(self) -> InterludeClient:
        """The client, once its channel is up: a stream would otherwise retry an unreachable
        or wrong --target for ever. Raises Unavailable after --connect-timeout seconds."""
        client = self.client
        wait: float = self.args.connect_timeout
        try:
            grpc.channel_ready_future(client.channel).result(timeout=wait)
        except grpc.FutureTimeoutError:
            raise Unavailable(
                f"no connection to {self.args.target} within {wait:g} s (--connect-timeout)"
            ) from None
        return client

    def validated(self) -> None:
        """Say, on stderr, that a --validate-only request stored nothing."""
        self.output.err.write(NOTHING_STORED + "\n")

    def show_list(
        self, list_items: Callable[..., Iterable[Message]], filter_: Message | None, columns: Sequence[Column]
    ) -> int:
        """A List command: every item (pages of --page-size, at most --limit) as a table."""
        page_size, limit = getattr(self.args, "page_size", 0), getattr(self.args, "limit", None)
        items = list_items(filter_, page_size=page_size, limit=limit, timeout=self.timeout)
        self.output.table(items, columns)
        return exits.OK

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
