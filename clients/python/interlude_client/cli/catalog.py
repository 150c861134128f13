"""`interlude catalog [list|get|policy|policies]`: specifications and the buyer's policies."""

from __future__ import annotations

import argparse

from interlude_client.cli import exits
from interlude_client.cli.context import Context
from interlude_client.cli.output import Column, enum_label
from interlude_client.cli.services import add_list_options

SPEC_COLUMNS: list[Column] = [
    ("ID", lambda s: s.id),
    ("NAME", lambda s: s.name),
    ("@TYPE", lambda s: s.target_service_schema.type),
    ("STATUS", lambda s: enum_label(s, "lifecycle_status")),
]
POLICY_COLUMNS: list[Column] = [
    ("SPECIFICATION", lambda p: p.service_specification_id),
    ("RULES", lambda p: str(len(p.characteristic_policy))),
    ("ADMIN STATE", lambda p: "changeable" if p.administrative_state_changeable else "fixed"),
    ("CONNECTIVITY", lambda p: ",".join(r.connectivity_type.split(":")[5] for r in p.connectivity_rule)),
]


def _list(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.show_list(ctx.client.list_service_specifications, None, SPEC_COLUMNS)


def _get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_service_specification(args.id, timeout=ctx.timeout))
    return exits.OK


def _policy(args: argparse.Namespace, ctx: Context) -> int:
    ctx.output.one(ctx.client.get_service_policy(args.specification_id, timeout=ctx.timeout))
    return exits.OK


def _policies(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.show_list(ctx.client.list_service_policies, None, POLICY_COLUMNS)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("catalog", help="service specifications and policies (default: list)")
    group.set_defaults(run=_list)
    sub = group.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="list service specifications")
    add_list_options(listing)
    listing.set_defaults(run=_list)
    get = sub.add_parser("get", help="one service specification")
    get.add_argument("id")
    get.set_defaults(run=_get)
    policy = sub.add_parser("policy", help="your policy for a specification: what you may change")
    policy.add_argument("specification_id")
    policy.set_defaults(run=_policy)
    policies = sub.add_parser("policies", help="list your policies")
    add_list_options(policies)
    policies.set_defaults(run=_policies)
