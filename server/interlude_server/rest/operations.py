"""Every REST route of the adapter, and so which operation (and scope) each one is admitted for.

The route tables live with their features (rest.routing says what a row is); this module
lists them once. rest.app serves the routes of exactly these tables and rest.admission
admits a request for the operation of its row, so a route cannot exist without its
operation. A request whose (method, path template) has no row (a HEAD that aiohttp
answers for a GET) is checked as UNLISTED, whose scope no one has: fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from interlude_server.rest.alarms import routes as alarms
from interlude_server.rest.alarms.mapping import ALARM_BASE
from interlude_server.rest.fm import routes as fm
from interlude_server.rest.fm.mapping import FM_BASE
from interlude_server.rest.hub.routes import hub_routes
from interlude_server.rest.mapping import INVENTORY_BASE, ORDERING_BASE
from interlude_server.rest.performance import routes as performance
from interlude_server.rest.performance.mapping import PM_BASE
from interlude_server.rest.routing import RestOperation, RouteTable
from interlude_server.rest.service import routes as service
from interlude_server.rest.sft import routes as sft
from interlude_server.rest.sft.mapping import SFT_BASE

__all__ = ["REST_OPERATIONS", "ROUTE_TABLES", "UNLISTED", "RestOperation", "operations_of", "rest_operation"]

# Every API of the adapter, in the order its routes are added. Each API carries a `/hub`:
# (base path, the API name hub registrations are kept under, MEF's operationId of GET /hub/{id}).
ROUTE_TABLES: tuple[RouteTable[Any], ...] = (
    service.INVENTORY_ROUTES,
    service.ORDERING_ROUTES,
    service.CATALOG_ROUTES,
    hub_routes(INVENTORY_BASE, "serviceInventory", "retrieveHub"),
    hub_routes(ORDERING_BASE, "serviceOrdering", "retrieveEventSubscription"),
    # The PM and SFT files list no 422 for POST /hub: a refused registration is 400 there.
    hub_routes(PM_BASE, "performanceMonitoring", "retrieveHub", invalid_status=400),
    hub_routes(SFT_BASE, "serviceFunctionTesting", "retrieveHub", invalid_status=400),
    hub_routes(ALARM_BASE, "alarmManagement", "retrieveHub", invalid_status=400),
    sft.ROUTES,
    performance.ROUTES,
    # The FM file lists no 422 for POST /hub either.
    hub_routes(FM_BASE, "faultManagement", "retrieveHub", invalid_status=400),
    fm.ROUTES,
    alarms.ROUTES,
)


def operations_of(tables: tuple[RouteTable[Any], ...]) -> Mapping[tuple[str, str], RestOperation]:
    found: dict[tuple[str, str], RestOperation] = {}
    for table in tables:
        for key, operation in table.operations():
            if key in found:
                raise ValueError(f"two route table rows for {key}")
            found[key] = operation
    return MappingProxyType(found)


# (HTTP method, path template) -> its operation.
REST_OPERATIONS = operations_of(ROUTE_TABLES)

# What an unlisted route is checked as: its scope is granted to no one.
UNLISTED = RestOperation("unlisted", "unlisted")


def rest_operation(method: str, path_template: str) -> RestOperation:
    """The operation of a route; UNLISTED (refused) if the table lacks it."""
    return REST_OPERATIONS.get((method, path_template), UNLISTED)
