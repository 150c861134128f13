"""Observed-state writes: `NetworkTxMixin`, mixed into SqlTx (both engines).

Its table is migration step 9 (store.sql.network.schema).
"""

from __future__ import annotations

from interlude_server.core.keys import key_timestamp, timestamp_key
from interlude_server.store.interface.network import ObservedState
from interlude_server.store.sql.bodies import BodyTx

_KEYS = ("buyer_id", "service_id", "component_id")


class NetworkTxMixin(BodyTx):
    """The observed-state part of SqlTx; `_c` is the write connection."""

    def get_observed(self, buyer_id: str, service_id: str, component_id: str) -> ObservedState | None:
        row = self._c.execute(
            "SELECT oper_state, reason, observed_time FROM observed_states "
            "WHERE buyer_id = ? AND service_id = ? AND component_id = ?",
            (buyer_id, service_id, component_id),
        ).fetchone()
        if row is None:
            return None
        observed = key_timestamp(str(row[2]))
        assert observed is not None  # always stored set
        return ObservedState(int(row[0]), str(row[1]), observed)

    def put_observed(self, buyer_id: str, service_id: str, component_id: str, state: ObservedState) -> None:
        columns = {
            "buyer_id": buyer_id,
            "service_id": service_id,
            "component_id": component_id,
            "oper_state": int(state.operational_state),
            "reason": state.reason,
            "observed_time": timestamp_key(state.observed_time),
        }
        self._put("observed_states", columns, _KEYS)

    def related_to(self, buyer_id: str, service_id: str) -> list[str]:
        rows = self._c.execute(
            "SELECT service_id FROM service_relations WHERE buyer_id = ? AND related_id = ? "
            "ORDER BY service_id",
            (buyer_id, service_id),
        ).fetchall()
        return [str(r[0]) for r in rows]
