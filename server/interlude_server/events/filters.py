"""Which events a stream's EventFilter selects (AND across fields, ANY within one)."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import events_pb2
from interlude_server.events.hub import Matcher


def matcher(spec: events_pb2.EventFilter) -> Matcher:
    types = set(spec.event_types)
    ids = set(spec.resource_ids)
    config_types = set(spec.service_configuration_types)
    resource_types = set(spec.resource_types)

    def matches(event: events_pb2.Event) -> bool:
        return (
            (not types or event.event_type in types)
            and (not ids or event.resource.id in ids)
            and (not config_types or event.service_configuration_type in config_types)
            and (not resource_types or event.resource.resource_type in resource_types)
        )

    return matches


def selects_all(spec: events_pb2.EventFilter) -> bool:
    """True when the filter is empty: every event of the buyer matches."""
    return not (
        spec.event_types or spec.resource_ids or spec.service_configuration_types or spec.resource_types
    )
