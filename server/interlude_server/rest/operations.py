"""Which operation each REST route is, and so which scope it needs: one table, data.

Every route of the adapter is keyed by (HTTP method, path template) and names
its MEF operationId (or ours, for extensions) and the operation the
authenticator checks: the full gRPC method the route calls, or a REST-only
operationId of auth.scopes.REST_ONLY_SCOPES (the hub). The scope is then
auth.scopes.required_scope(operation), the very table gRPC uses, so a REST
call and the RPC behind it can never need different scopes. A route missing
here is refused (fail closed); tests/rest checks that every route has an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from interlude_server.auth.scopes import required_scope
from interlude_server.rest.mapping import CATALOG_BASE, INVENTORY_BASE, ORDERING_BASE

_V1 = "/mef.lso.interlude.v1."


@dataclass(frozen=True)
class RestOperation:
    """`operation_id` as MEF names it; `operation` is what Authenticator.admit checks."""

    operation_id: str
    operation: str

    @property
    def scope(self) -> str:
        return required_scope(self.operation)


def _rpc(operation_id: str, service: str, method: str) -> RestOperation:
    return RestOperation(operation_id, f"{_V1}{service}/{method}")


def _hub(base: str, retrieve_id: str) -> dict[tuple[str, str], RestOperation]:
    return {
        ("POST", base + "/hub"): RestOperation("registerListener", "registerListener"),
        ("GET", base + "/hub/{id}"): RestOperation(retrieve_id, retrieve_id),
        ("DELETE", base + "/hub/{id}"): RestOperation("unregisterListener", "unregisterListener"),
    }


_INV, _ORD, _CAT = "ServiceInventoryService", "ServiceOrderingService", "ServiceCatalogService"

REST_OPERATIONS: Mapping[tuple[str, str], RestOperation] = MappingProxyType(
    {
        ("GET", INVENTORY_BASE + "/service"): _rpc("serviceFind", _INV, "ListServices"),
        ("GET", INVENTORY_BASE + "/service/{id}"): _rpc("serviceGet", _INV, "GetService"),
        **_hub(INVENTORY_BASE, "retrieveHub"),
        ("POST", ORDERING_BASE + "/serviceOrder"): _rpc("createServiceOrder", _ORD, "CreateServiceOrder"),
        ("GET", ORDERING_BASE + "/serviceOrder"): _rpc("listServiceOrder", _ORD, "ListServiceOrders"),
        ("GET", ORDERING_BASE + "/serviceOrder/{id}"): _rpc("retrieveServiceOrder", _ORD, "GetServiceOrder"),
        ("POST", ORDERING_BASE + "/serviceOrder/{id}/cancel"): _rpc(
            "cancelServiceOrder", _ORD, "CancelServiceOrder"
        ),
        **_hub(ORDERING_BASE, "retrieveEventSubscription"),
        ("GET", CATALOG_BASE + "/serviceSpecification"): _rpc(
            "listServiceSpecification", _CAT, "ListServiceSpecifications"
        ),
        ("GET", CATALOG_BASE + "/serviceSpecification/{id}"): _rpc(
            "retrieveServiceSpecification", _CAT, "GetServiceSpecification"
        ),
        ("GET", CATALOG_BASE + "/servicePolicy"): _rpc("listServicePolicy", _CAT, "ListServicePolicies"),
        ("GET", CATALOG_BASE + "/servicePolicy/{id}"): _rpc(
            "retrieveServicePolicy", _CAT, "GetServicePolicy"
        ),
    }
)

# What an unlisted route is checked as: its scope is granted to no one.
UNLISTED = RestOperation("unlisted", "unlisted")


def rest_operation(method: str, path_template: str) -> RestOperation:
    """The operation of a route; UNLISTED (refused) if the table lacks it."""
    return REST_OPERATIONS.get((method, path_template), UNLISTED)
