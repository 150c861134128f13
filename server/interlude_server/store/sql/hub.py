"""Rows of the `hub_subscriptions` table <-> HubSubscription (shared by the Tx and the reads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields
from typing import Any

from interlude_server.store.interface.store import HubSubscription

HUB_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(HubSubscription))
# Quoted: `authorization` is a reserved word in PostgreSQL.
_QUOTED = ", ".join(f'"{c}"' for c in HUB_COLUMNS)
SELECT_HUB = f"SELECT {_QUOTED} FROM hub_subscriptions"


def hub_row(sub: HubSubscription) -> tuple[Any, ...]:
    values = list(astuple(sub))
    values[HUB_COLUMNS.index("event_types")] = ",".join(str(t) for t in sub.event_types)
    return tuple(values)


def hub_from_row(row: Sequence[Any]) -> HubSubscription:
    data = dict(zip(HUB_COLUMNS, row, strict=True))
    types = str(data["event_types"])
    data["event_types"] = tuple(int(t) for t in types.split(",")) if types else ()
    return HubSubscription(**data)
