"""Whether this process takes REST work (rest.health answers `/readyz` from it), kept apart from
aiohttp so that the runtime can hold one without importing the adapter."""

from __future__ import annotations

import enum
from collections.abc import Callable

LIVENESS = "/healthz"
READINESS = "/readyz"
PROBES = frozenset((LIVENESS, READINESS))


class Phase(enum.Enum):
    STARTING = "starting"
    SERVING = "serving"
    DRAINING = "shuttingDown"


class Readiness:
    """Whether this process takes work: STARTING until `serving()`, DRAINING for good from
    `draining()`; ready only while SERVING and `store_open()` says the store is open."""

    def __init__(self, store_open: Callable[[], bool] = lambda: True) -> None:
        self._store_open = store_open
        self.phase = Phase.STARTING

    def serving(self) -> None:
        if self.phase is Phase.STARTING:
            self.phase = Phase.SERVING

    def draining(self) -> None:
        self.phase = Phase.DRAINING

    @property
    def is_draining(self) -> bool:
        return self.phase is Phase.DRAINING

    def state(self) -> tuple[bool, dict[str, str]]:
        """(ready, the probe's body)."""
        store = "open" if self._store_open() else "closed"
        ready = self.phase is Phase.SERVING and store == "open"
        return ready, {"status": "ready" if ready else "notReady", "phase": self.phase.value, "store": store}
