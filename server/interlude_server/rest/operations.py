"""Which operation each REST route is, and so which scope it needs: one table, data.

Every route of the adapter is keyed by (HTTP method, path template) and names
its MEF operationId (or ours, for extensions) and the operation the
authenticator checks: the full gRPC method the route calls, or a REST-only
operationId of auth.scopes.REST_ONLY_SCOPES (the hub). The scope is then
auth.scopes.required_scope(operation), the very table gRPC uses, so a REST
call and the RPC behind it can never need different scopes. A route missing
here is refused (fail closed); tests/unit/rest checks that every route has an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from interlude_server.auth.scopes import required_scope
from interlude_server.rest.mapping import CATALOG_BASE, INVENTORY_BASE, ORDERING_BASE
from interlude_server.rest.performance.mapping import PM_BASE
from interlude_server.rest.sft.mapping import SFT_BASE

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
_SFT = "ServiceTestService"
_PM = "PerformanceService"


def _sft_task(resource: str, method: str) -> dict[tuple[str, str], RestOperation]:
    """A task resource (cancelTestJob, ...): create is the task RPC; reads are the task reads."""
    kind = resource[0].upper() + resource[1:]
    return {
        ("POST", f"{SFT_BASE}/{resource}"): _rpc(f"create{kind}", _SFT, method),
        ("GET", f"{SFT_BASE}/{resource}"): _rpc(f"list{kind}", _SFT, "ListTestJobTasks"),
        ("GET", f"{SFT_BASE}/{resource}/{{id}}"): _rpc(f"retrieve{kind}", _SFT, "GetTestJobTask"),
    }


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
        ("POST", SFT_BASE + "/testProfile"): _rpc("createTestProfile", _SFT, "CreateTestProfile"),
        ("GET", SFT_BASE + "/testProfile"): _rpc("listTestProfile", _SFT, "ListTestProfiles"),
        ("GET", SFT_BASE + "/testProfile/{id}"): _rpc("retrieveTestProfile", _SFT, "GetTestProfile"),
        ("PATCH", SFT_BASE + "/testProfile/{id}"): _rpc("modifyTestProfile", _SFT, "UpdateTestProfile"),
        ("DELETE", SFT_BASE + "/testProfile/{id}"): _rpc("deleteTestProfile", _SFT, "DeleteTestProfile"),
        ("POST", SFT_BASE + "/testJob"): _rpc("createTestJob", _SFT, "CreateTestJob"),
        ("GET", SFT_BASE + "/testJob"): _rpc("listTestJob", _SFT, "ListTestJobs"),
        ("GET", SFT_BASE + "/testJob/{id}"): _rpc("retrieveTestJob", _SFT, "GetTestJob"),
        **_sft_task("cancelTestJob", "CancelTestJob"),
        **_sft_task("suspendTestJob", "SuspendTestJob"),
        **_sft_task("resumeTestJob", "ResumeTestJob"),
        **_sft_task("modifyTestJob", "ModifyTestJob"),
        ("GET", SFT_BASE + "/testResult"): _rpc("listTestResult", _SFT, "ListTestResults"),
        ("GET", SFT_BASE + "/testResult/{id}"): _rpc("retrieveTestResult", _SFT, "GetTestResult"),
        **_hub(SFT_BASE, "retrieveHub"),
        ("POST", PM_BASE + "/performanceProfile"): _rpc(
            "createPerformanceProfile", _PM, "CreatePerformanceProfile"
        ),
        ("GET", PM_BASE + "/performanceProfile"): _rpc(
            "listPerformanceProfile", _PM, "ListPerformanceProfiles"
        ),
        ("GET", PM_BASE + "/performanceProfile/{id}"): _rpc(
            "retrievePerformanceProfile", _PM, "GetPerformanceProfile"
        ),
        ("DELETE", PM_BASE + "/performanceProfile/{id}"): _rpc(
            "deletePerformanceProfile", _PM, "DeletePerformanceProfile"
        ),
        ("POST", PM_BASE + "/performanceJob"): _rpc("createPerformanceJob", _PM, "CreatePerformanceJob"),
        ("GET", PM_BASE + "/performanceJob"): _rpc("listPerformanceJob", _PM, "ListPerformanceJobs"),
        ("GET", PM_BASE + "/performanceJob/{id}"): _rpc("retrievePerformanceJob", _PM, "GetPerformanceJob"),
        ("POST", PM_BASE + "/performanceJob/{id}/suspend"): _rpc(
            "suspendPerformanceJob", _PM, "SuspendPerformanceJob"
        ),
        ("POST", PM_BASE + "/performanceJob/{id}/resume"): _rpc(
            "resumePerformanceJob", _PM, "ResumePerformanceJob"
        ),
        ("POST", PM_BASE + "/cancelPerformanceJob"): _rpc(
            "createCancelPerformanceJob", _PM, "CancelPerformanceJob"
        ),
        ("GET", PM_BASE + "/cancelPerformanceJob/{id}"): _rpc(
            "retrieveCancelPerformanceJob", _PM, "GetPerformanceJobTask"
        ),
        ("POST", PM_BASE + "/modifyPerformanceJob"): _rpc(
            "createModifyPerformanceJob", _PM, "ModifyPerformanceJob"
        ),
        ("GET", PM_BASE + "/modifyPerformanceJob/{id}"): _rpc(
            "retrieveModifyPerformanceJob", _PM, "GetPerformanceJobTask"
        ),
        ("GET", PM_BASE + "/performanceReport"): _rpc("listPerformanceReport", _PM, "ListPerformanceReports"),
        ("GET", PM_BASE + "/performanceReport/{id}"): _rpc(
            "retrievePerformanceReport", _PM, "GetPerformanceReport"
        ),
        **_hub(PM_BASE, "retrieveHub"),
    }
)

# What an unlisted route is checked as: its scope is granted to no one.
UNLISTED = RestOperation("unlisted", "unlisted")


def rest_operation(method: str, path_template: str) -> RestOperation:
    """The operation of a route; UNLISTED (refused) if the table lacks it."""
    return REST_OPERATIONS.get((method, path_template), UNLISTED)
