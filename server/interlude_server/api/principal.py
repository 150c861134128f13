"""Who is calling: the buyer (Service Provider) every read and write is scoped to.

Until authentication lands (F7), the buyer comes from the `x-interlude-buyer`
metadata and defaults to the configured demo buyer.
"""

from __future__ import annotations

from typing import Any

import grpc

BUYER_METADATA = "x-interlude-buyer"
DEFAULT_BUYER = "sp-alpha"


class BuyerResolver:
    """Resolves the calling buyer from a grpc.aio context."""

    def __init__(self, default_buyer: str = DEFAULT_BUYER) -> None:
        self.default_buyer = default_buyer

    def __call__(self, context: grpc.aio.ServicerContext[Any, Any]) -> str:
        for key, value in context.invocation_metadata() or ():
            if key == BUYER_METADATA and isinstance(value, str) and value:
                return value
        return self.default_buyer
