"""Which scope each operation needs: one table, keyed by the full gRPC method name.

Scopes are coarse and named for what a buyer may do (MEF 128.1 leaves their
names to the parties): `read` (inventory, catalog, orders), `order` (every
change: orders, updates, admin state, connectivity, cancel), `pm` (performance
monitoring), `test` (service function testing) and `events` (event streams and
REST hub registrations). The REST adapter checks the scope of the gRPC method
an operation calls; operations that call none (hub registration) are in
REST_ONLY_SCOPES. Health and reflection are public: they reveal no buyer data.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

READ = "read"
ORDER = "order"
PM = "pm"
TEST = "test"
EVENTS = "events"
ALL_SCOPES: frozenset[str] = frozenset({READ, ORDER, PM, TEST, EVENTS})

PUBLIC_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
)

_V1 = "mef.lso.interlude.v1"


def _service(name: str, scope: str, methods: str, **overrides: str) -> dict[str, str]:
    table = {f"/{_V1}.{name}/{m}": scope for m in methods.split()}
    table.update({f"/{_V1}.{name}/{m}": s for m, s in overrides.items()})
    return table


RPC_SCOPES: Mapping[str, str] = MappingProxyType(
    {
        **_service("ServiceInventoryService", READ, "GetService ListServices"),
        **_service("AlarmService", READ, "GetAlarm ListAlarms"),
        **_service(
            "ServiceCatalogService",
            READ,
            "GetServiceSpecification ListServiceSpecifications GetServicePolicy ListServicePolicies"
            " GetServiceSchema",
        ),
        **_service(
            "ServiceOrderingService",
            ORDER,
            "CreateServiceOrder CancelServiceOrder UpdateService SetAdministrativeState CreateConnectivity"
            " ProvideOrderInformation",
            GetServiceOrder=READ,
            ListServiceOrders=READ,
            ListServiceTrackingRecords=READ,
        ),
        **_service("EventService", EVENTS, "StreamEvents"),
        **_service(
            "PerformanceService",
            PM,
            "CreatePerformanceProfile GetPerformanceProfile ListPerformanceProfiles"
            " UpdatePerformanceProfile DeletePerformanceProfile CreatePerformanceJob GetPerformanceJob"
            " ListPerformanceJobs QueryPerformanceJobs ModifyPerformanceJob SuspendPerformanceJob"
            " ResumePerformanceJob"
            " CancelPerformanceJob GetPerformanceJobTask ListPerformanceJobTasks CreatePerformanceReport"
            " GetPerformanceReport ListPerformanceReports QueryPerformanceReports GetPerformanceReportFile"
            " ListPerformanceTrackingRecords StreamPerformanceData",
        ),
        **_service(
            "ServiceTestService",
            TEST,
            "GetTestCapabilities CreateTestProfile GetTestProfile ListTestProfiles UpdateTestProfile"
            " DeleteTestProfile CreateTestJob GetTestJob ListTestJobs CancelTestJob ModifyTestJob"
            " SuspendTestJob ResumeTestJob GetTestJobTask ListTestJobTasks GetTestResult ListTestResults"
            " StreamTestResults",
        ),
    }
)

# MEF REST operationIds that call no gRPC method: the hub of every MEF API.
REST_ONLY_SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "registerListener": EVENTS,
        "unregisterListener": EVENTS,
        "retrieveHub": EVENTS,
        "retrieveEventSubscription": EVENTS,
    }
)

# A method missing from the table needs this scope, which no credential grants: fail closed.
UNMAPPED = "unmapped-operation"


def is_public(method: str) -> bool:
    """Health and reflection: served to anyone who completes the transport handshake."""
    service = method.lstrip("/").partition("/")[0]
    return service in PUBLIC_SERVICES


def required_scope(operation: str) -> str:
    """The scope `operation` (a full gRPC method or a REST-only operationId) needs."""
    return RPC_SCOPES.get(operation) or REST_ONLY_SCOPES.get(operation) or UNMAPPED
