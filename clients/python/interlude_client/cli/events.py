"""`interlude events watch`: the buyer's events, live, resuming across reconnects."""

from __future__ import annotations

import argparse

from google.protobuf import duration_pb2, timestamp_pb2

from interlude_client.cli import exits
from interlude_client.cli.context import Context, count
from interlude_client.cli.output import enum_label
from interlude_client.cli.services import enum_value
from interlude_grpc.mef.lso.interlude.v1 import events_pb2


def _request(args: argparse.Namespace) -> events_pb2.StreamEventsRequest:
    request = events_pb2.StreamEventsRequest(
        filter=events_pb2.EventFilter(
            event_types=[enum_value(events_pb2.EventType, "EVENT_TYPE_", t) for t in args.type or ()],
            resource_ids=args.resource or [],
            resource_types=[
                enum_value(events_pb2.ResourceType, "RESOURCE_TYPE_", t) for t in args.resource_type or ()
            ],
        ),
        heartbeat_interval=duration_pb2.Duration(seconds=args.heartbeat),
    )
    if args.from_token:
        request.resume_token = args.from_token
    elif args.since:
        since = timestamp_pb2.Timestamp()
        try:
            since.FromJsonString(args.since)
        except ValueError as problem:
            raise exits.UsageError(f"--since wants an RFC 3339 time: {problem}") from problem
        request.start_time.CopyFrom(since)
    return request


def _line(event: events_pb2.Event) -> str:
    time = event.event_time.ToJsonString() if event.event_time.seconds else ""
    resource = event.resource.id + (
        f"/{event.resource.order_item_id}" if event.resource.order_item_id else ""
    )
    return (
        f"{event.sequence:>6}  {time}  {enum_label(event, 'event_type')}  {resource}  {event.state}".rstrip()
    )


def _watch(args: argparse.Namespace, ctx: Context) -> int:
    seen = 0
    stream = ctx.connected().stream_events(_request(args))
    try:
        for response in stream:
            kind = response.WhichOneof("kind")
            if kind == "event":
                seen += 1
                ctx.output.item(response.event, _line(response.event))
            elif args.show_markers and kind is not None:
                ctx.output.marker(response, kind)
            if args.limit is not None and seen >= args.limit:
                break
            if args.until_sync and kind == "sync":
                break
    finally:
        stream.close()
    return exits.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("events", help="stream service and order events")
    sub = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    watch = sub.add_parser("watch", help="print events as they happen (Ctrl-C to stop)")
    watch.add_argument(
        "--type", action="append", help="event type, e.g. service_order_state_change (repeatable)"
    )
    watch.add_argument("--resource", action="append", metavar="ID", help="resource id (repeatable)")
    watch.add_argument("--resource-type", action="append", help="e.g. service, service_order (repeatable)")
    start = watch.add_mutually_exclusive_group()
    start.add_argument("--from-token", metavar="TOKEN", help="resume right after this resume token")
    start.add_argument("--since", metavar="TIME", help="replay from this RFC 3339 time (within retention)")
    watch.add_argument("--heartbeat", type=count, default=30, metavar="SECONDS", help="heartbeat interval")
    watch.add_argument("--limit", type=count, help="stop after this many events")
    watch.add_argument("--until-sync", action="store_true", help="stop at the sync marker (after the replay)")
    watch.add_argument("--show-markers", action="store_true", help="also print sync markers and heartbeats")
    watch.set_defaults(run=_watch)
