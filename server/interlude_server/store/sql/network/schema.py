"""The table of observed state: migration step 9 (store.sql.migrations).

`observed_states` keeps what the Partner network last reported about each service
(`component_id` '') or component, apart from the operational state the inventory shows:
that one is derived (domain/network/propagation.py) from this report, the
administrative state and the state of the services it depends on, so a recovery of
the interface gives an end point back its own reported state, not a guess.
"""

from __future__ import annotations

NETWORK_TABLES: tuple[str, ...] = (
    """CREATE TABLE observed_states (
        buyer_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        component_id TEXT NOT NULL,
        oper_state INTEGER NOT NULL,
        reason TEXT NOT NULL,
        observed_time TEXT NOT NULL,
        PRIMARY KEY (buyer_id, service_id, component_id)
    ) WITHOUT ROWID""",
)
