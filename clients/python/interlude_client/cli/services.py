"""`interlude services list|get`: the buyer's service inventory."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TypeVar

from interlude_client.cli import exits
from interlude_client.cli.context import Context, count
from interlude_client.cli.output import Column, enum_label, short_type
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

V = TypeVar("V", bound=int)

SERVICE_COLUMNS: list[Column] = [
    ("ID", lambda s: s.id),
    ("TYPE", lambda s: short_type(s.service_configuration.type)),
    ("STATE", lambda s: enum_label(s, "state")),
    ("ADMIN", lambda s: enum_label(s, "administrative_state")),
    ("OPER", lambda s: enum_label(s, "operational_state")),
    ("EXTERNAL ID", lambda s: s.external_id),
]


def add_list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=count, help="show at most this many")
    parser.add_argument("--page-size", type=count, default=0, help="items per call (default: the server's)")


def enum_value(enum: _EnumTypeWrapper[V], prefix: str, name: str) -> V:
    """An enum value from its short name, case-insensitive (`active` -> SERVICE_STATE_ACTIVE)."""
    try:
        value = enum.Value(prefix + name.upper().replace("-", "_"))
    except ValueError:
        choices = ", ".join(
            n.removeprefix(prefix).lower() for n in list(enum.keys()) if not n.endswith("UNSPECIFIED")
        )
        raise exits.UsageError(f"unknown value {name!r}; one of: {choices}") from None
    return value


def _list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = inventory_pb2.ServiceFilter(
        state=[enum_value(common_pb2.ServiceState, "SERVICE_STATE_", s) for s in args.state or ()],
        service_configuration_type=args.type or [],
        related_service_id=args.related or "",
    )
    return ctx.show_list(ctx.client.list_services, filter_, SERVICE_COLUMNS)


def _get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_service(args.id, timeout=ctx.timeout))
    return exits.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("services", help="query the service inventory")
    sub = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list services (every page)")
    listing.add_argument("--state", action="append", help="lifecycle state, e.g. active (repeatable)")
    listing.add_argument("--type", action="append", metavar="URN", help="service configuration @type")
    listing.add_argument("--related", metavar="ID", help="services related to this one")
    add_list_options(listing)
    listing.set_defaults(run=_list)
    get = sub.add_parser("get", help="one service, with its configuration and states")
    get.add_argument("id")
    get.set_defaults(run=_get)
