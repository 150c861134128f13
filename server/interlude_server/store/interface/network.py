"""The network-observation and alarm parts of the store interface: their Tx and reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import alarm_pb2
from interlude_server.store.interface.paging import Page, PageRequest


@dataclass(frozen=True)
class ObservedState:
    """What the network last reported about a service or component (store.sql.network)."""

    operational_state: int  # common_pb2.OperationalState
    reason: str
    observed_time: timestamp_pb2.Timestamp


class NetworkTx(Protocol):
    """The observed-state part of a write transaction (store/sql/network/tx.py)."""

    def get_observed(self, buyer_id: str, service_id: str, component_id: str) -> ObservedState | None:
        """The network's last report on the service ('' component) or one of its components."""

    def put_observed(
        self, buyer_id: str, service_id: str, component_id: str, state: ObservedState
    ) -> None: ...

    def related_to(self, buyer_id: str, service_id: str) -> list[str]:
        """Ids of the buyer's services with a relationship to `service_id` (any type), sorted."""


class AlarmTx(Protocol):
    """The alarm part of a write transaction (store/sql/alarms/tx.py)."""

    def get_alarm(self, buyer_id: str, alarm_id: str) -> alarm_pb2.Alarm | None: ...

    def put_alarm(self, alarm: alarm_pb2.Alarm) -> None:
        """Insert or replace an alarm (keyed by buyer_id and id) with its affected services."""

    def latest_alarm(self, buyer_id: str, external_id: str) -> alarm_pb2.Alarm | None:
        """The buyer's newest alarm (by reporting time) with this network alarm id, if any."""

    def active_alarms_on(self, buyer_id: str, service_id: str) -> list[alarm_pb2.Alarm]:
        """The buyer's alarms affecting `service_id` that are not cleared, oldest first."""

    def child_alarms(self, buyer_id: str, parent_id: str) -> list[alarm_pb2.Alarm]:
        """The alarms whose `parent_alarm` is `parent_id`, oldest first."""


class AlarmReads(Protocol):
    """The alarm reads of the store (store/sql/alarms/reads.py)."""

    async def get_alarm(self, buyer_id: str, alarm_id: str) -> alarm_pb2.Alarm | None: ...

    async def list_alarms(
        self, buyer_id: str, f: alarm_pb2.AlarmFilter, page: PageRequest
    ) -> Page[alarm_pb2.Alarm]: ...
