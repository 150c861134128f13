"""Orders and the changes that create them: `orders create|get|list|cancel|answer`, `connect`,
`set-admin-state`, `update`. Every change prints the order it created; with `--follow`
it prints each new state of the order (from its events) until the order is terminal,
then (as a table) the id of each service the order created, and exits 1 unless it
completed. With `--validate-only` it prints the order as it would be, then says on
stderr that nothing was stored (the order has no id)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from interlude_client.cli import exits
from interlude_client.cli.context import Context
from interlude_client.cli.output import Column, enum_label, short_type
from interlude_client.cli.services import add_list_options, enum_value
from interlude_grpc.mef.lso.interlude.v1 import common_pb2, ordering_pb2

M = TypeVar("M", bound=Message)
ORDER_COLUMNS: list[Column] = [
    ("ID", lambda o: o.id),
    ("STATE", lambda o: enum_label(o, "state")),
    ("EXTERNAL ID", lambda o: o.external_id),
    ("ITEMS", lambda o: str(len(o.service_order_item))),
    (
        "ORDERED",
        lambda o: o.order_date.ToDatetime(UTC).strftime("%Y-%m-%d %H:%M:%S") if o.order_date.seconds else "",
    ),
]


def _progress(order: ordering_pb2.ServiceOrder) -> str:
    items = ", ".join(
        f"{i.id}:{enum_label(i, 'action')}:{enum_label(i, 'state')}" for i in order.service_order_item
    )
    now = datetime.now(UTC).strftime("%H:%M:%S")
    return f"{now}  {order.id}  {enum_label(order, 'state')}  [{items}]"


def report(ctx: Context, order: ordering_pb2.ServiceOrder, follow: bool) -> int:
    """Print a created order; with `follow`, its progress to the end. The exit code."""
    if not follow:
        ctx.output.one(order)
        return exits.OK
    last = order
    for last in ctx.client.follow_order(order.id):
        ctx.output.item(last, _progress(last))
    for item in last.service_order_item:
        for problem in item.termination_error:
            ctx.output.problem(
                f"item {item.id}: {problem.reason or problem.value or enum_label(problem, 'code')}"
            )
    if not ctx.output.json:  # JSON: the last order printed carries them (serviceOrderItem[].service.id)
        for line in created_services(last):
            ctx.output.line(line)
    return exits.OK if last.state == ordering_pb2.SERVICE_ORDER_STATE_COMPLETED else exits.NOT_COMPLETED


def created_services(order: ordering_pb2.ServiceOrder) -> list[str]:
    """`created  ITEM  TYPE  SERVICE-ID` for each service the (ended) order added."""
    return [
        f"created  {item.id}  {short_type(item.service.service_configuration.type)}  {item.service.id}"
        for item in order.service_order_item
        if item.action == ordering_pb2.SERVICE_ACTION_ADD
        and item.state == ordering_pb2.SERVICE_ORDER_ITEM_STATE_COMPLETED
        and item.service.id
    ]


def _changed(args: argparse.Namespace, ctx: Context, order: ordering_pb2.ServiceOrder) -> int:
    """What a change prints: the order as it would be and "nothing was stored"
    (--validate-only), else as `report`."""
    if args.validate_only:
        ctx.output.one(order)
        ctx.validated()
        return exits.OK
    return report(ctx, order, args.follow)


def _change_options(parser: argparse.ArgumentParser, *, etag: bool = True) -> None:
    parser.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    parser.add_argument(
        "--validate-only", action="store_true", help="check it, store nothing (the order gets no id)"
    )
    parser.add_argument("--follow", "-f", action="store_true", help="show progress until the order ends")
    if etag:
        parser.add_argument("--etag", default="", help="only if the resource still has this etag")


def read_json(source: str) -> str:
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as problem:
        raise exits.UsageError(str(problem)) from problem


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, true, objects...), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        path, sep, value = pair.partition("=")
        if not sep or not path:
            raise exits.UsageError(f"--set wants PATH=VALUE, got {pair!r}")
        values[path] = parse_value(value)
    return values


def read_message(source: str, message: M) -> M:
    """`message` filled from the proto JSON in file `source` (- for stdin); UsageError if it is not."""
    try:
        json_format.Parse(read_json(source), message)
    except json_format.ParseError as problem:
        name = message.DESCRIPTOR.name
        raise exits.UsageError(f"{source}: not a {name} in proto JSON: {problem}") from problem
    return message


def _create(args: argparse.Namespace, ctx: Context) -> int:
    order = read_message(args.file, ordering_pb2.ServiceOrder())
    created = ctx.client.create_service_order(
        order, request_id=args.request_id, validate_only=args.validate_only, timeout=ctx.timeout
    )
    return _changed(args, ctx, created)


def _get(args: argparse.Namespace, ctx: Context) -> int:
    return report(ctx, ctx.client.get_service_order(args.id, timeout=ctx.timeout), args.follow)


def _list(args: argparse.Namespace, ctx: Context) -> int:
    filter_ = ordering_pb2.ServiceOrderFilter(
        state=[
            enum_value(ordering_pb2.ServiceOrderState, "SERVICE_ORDER_STATE_", s) for s in args.state or ()
        ],
        service_id=args.service or "",
        external_id=args.external_id or "",
    )
    return ctx.show_list(ctx.client.list_service_orders, filter_, ORDER_COLUMNS)


def _cancel(args: argparse.Namespace, ctx: Context) -> int:
    order = ctx.client.cancel_service_order(
        args.id,
        reason=args.reason,
        etag=args.etag,
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    return _changed(args, ctx, order)


def _answer(args: argparse.Namespace, ctx: Context) -> int:
    from interlude_client import builders

    request = builders.order_information(
        args.id,
        args.item,
        parse_assignments(args.set or []),
        args.note or (),
        etag=args.etag,
        validate_only=args.validate_only,
    )
    order = ctx.client.provide_order_information(request, request_id=args.request_id, timeout=ctx.timeout)
    return _changed(args, ctx, order)


def _connectivity_type(ctx: Context, spec: str) -> str:
    """A connectivity @type: a URN as given, or the catalog specification whose @type or
    id names it (`carrier-ethernet-evc`)."""
    if spec.startswith("urn:"):
        return spec
    for specification in ctx.client.list_service_specifications():
        urn = specification.target_service_schema.type
        if spec in (specification.id, *urn.split(":")):
            return urn
    raise exits.UsageError(f"no service specification named {spec!r} in the catalog")


def _connect(args: argparse.Namespace, ctx: Context) -> int:
    from interlude_client import builders

    request = builders.connectivity_request(
        _connectivity_type(ctx, args.spec),
        args.interfaces,
        attributes=parse_assignments(args.set or []),
        external_id=args.external_id or "",
        description=args.description or "",
    )
    request.validate_only = args.validate_only
    order = ctx.client.create_connectivity(request, request_id=args.request_id, timeout=ctx.timeout)
    return _changed(args, ctx, order)


def _set_admin_state(args: argparse.Namespace, ctx: Context) -> int:
    state = enum_value(common_pb2.AdministrativeState, "ADMINISTRATIVE_STATE_", args.state)
    order = ctx.client.set_administrative_state(
        args.service_id,
        state,
        component_id=args.component or "",
        etag=args.etag,
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    return _changed(args, ctx, order)


def _update(args: argparse.Namespace, ctx: Context) -> int:
    order = ctx.client.update_configuration(
        args.service_id,
        parse_assignments(args.set),
        etag=args.etag,
        request_id=args.request_id,
        validate_only=args.validate_only,
        timeout=ctx.timeout,
    )
    return _changed(args, ctx, order)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("orders", help="create, follow, list and cancel service orders")
    sub = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an order from a ServiceOrder in proto JSON")
    create.add_argument("file", help="JSON file, or - for standard input")
    _change_options(create, etag=False)
    create.set_defaults(run=_create)
    get = sub.add_parser("get", help="one order, with its items")
    get.add_argument("id")
    get.add_argument("--follow", "-f", action="store_true", help="show progress until the order ends")
    get.set_defaults(run=_get)
    listing = sub.add_parser("list", help="list orders (every page)")
    listing.add_argument("--state", action="append", help="order state, e.g. in_progress (repeatable)")
    listing.add_argument("--service", metavar="ID", help="orders about this service")
    listing.add_argument("--external-id")
    add_list_options(listing)
    listing.set_defaults(run=_list)
    cancel = sub.add_parser("cancel", help="ask to cancel an order (TMF641-style extension)")
    cancel.add_argument("id")
    cancel.add_argument("--reason", default="", help="cancellation reason")
    _change_options(cancel)
    cancel.set_defaults(run=_cancel)
    _register_answer(sub)

    connect = commands.add_parser("connect", help="create connectivity between service interfaces")
    connect.add_argument(
        "interfaces", nargs="+", metavar="INTERFACE", help="UNI/ENNI service ids (two or more)"
    )
    connect.add_argument(
        "--spec", required=True, help="connectivity type: @type URN or short name (carrier-ethernet-evc)"
    )
    connect.add_argument("--set", action="append", metavar="PATH=VALUE", help="connectivity attribute")
    connect.add_argument("--external-id")
    connect.add_argument("--description")
    _change_options(connect, etag=False)
    connect.set_defaults(run=_connect)

    admin = commands.add_parser("set-admin-state", help="lock or unlock a service or one of its components")
    admin.add_argument("service_id")
    admin.add_argument("state", help="locked or unlocked")
    admin.add_argument(
        "--component", metavar="ID", help="a component of the service, e.g. a UNI's physical link"
    )
    _change_options(admin)
    admin.set_defaults(run=_set_admin_state)

    update = commands.add_parser("update", help="change configuration attributes, as policy permits")
    update.add_argument("service_id")
    update.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="PATH=VALUE",
        help="attribute by dotted path, e.g. ingressBandwidthProfilePerOvcEndPoint.cir.irValue=200",
    )
    _change_options(update)
    update.set_defaults(run=_update)


def _register_answer(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    answer = sub.add_parser("answer", help="supply the information a pending order item asks for")
    answer.add_argument("id")
    answer.add_argument("item", help="the id of the item that asks (see its wait)")
    answer.add_argument(
        "--set",
        action="append",
        metavar="POINTER=VALUE",
        help="a value asked for, e.g. /ingressBandwidthProfilePerOvcEndPoint/cir/irValue=200",
    )
    answer.add_argument("--note", action="append", metavar="TEXT", help="a note for the Partner (for /note)")
    _change_options(answer)
    answer.set_defaults(run=_answer)
