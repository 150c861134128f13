"""What every command gets: the parsed connection options turned into a client, and the output."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import Message

from interlude_client.channel import tls_credentials_from_files
from interlude_client.cli import exits
from interlude_client.cli.exits import UsageError
from interlude_client.cli.output import Column, Output
from interlude_client.client import DEFAULT_TARGET, InterludeClient


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
    group.add_argument("--timeout", type=float, metavar="SECONDS", help="deadline of each call")
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
