"""What a PM job may monitor: services of the family its configuration measures (Carrier
Ethernet or IP) and, for an ordered pair, two distinct services of one connectivity service."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import performance_pb2
from interlude_server.core.errors import Errors, NotFound
from interlude_server.domain import subjects
from interlude_server.domain.performance.jobs import apply_modification
from interlude_server.domain.performance.model import settings_of
from interlude_server.domain.sft.catalog import ETHERNET_SERVICES, IP_SERVICES
from interlude_server.store.interface.store import Store

Pm = performance_pb2
NOT_FOUND = "PERFORMANCE_RESOURCE_NOT_FOUND"


def family(config_type: str) -> tuple[str, tuple[str, ...]]:
    """The family a PM configuration `@type` measures and the service types it applies to."""
    return ("IP", IP_SERVICES) if ":ip-" in config_type else ("Carrier Ethernet", ETHERNET_SERVICES)


def _subject_fields(ref: Pm.MonitoredObjectRef, where: str) -> list[tuple[str, str]]:
    """(service id, request field) of each service the subject names."""
    kind = ref.WhichOneof("ref")
    if kind == "service":
        return [(ref.service.id, f"{where}.service.id")]
    if kind == "service_from_to":
        pair = ref.service_from_to
        return [
            (pair.service_from.id, f"{where}.service_from_to.service_from.id"),
            (pair.service_to.id, f"{where}.service_from_to.service_to.id"),
        ]
    return []


async def check_modified(
    store: Store, buyer_id: str, job: Pm.PerformanceJob, change: Pm.PerformanceJobModification
) -> None:
    """`check_subjects` for the job as `change` would leave it: a new configuration `@type`
    must still measure the family of the services the job monitors (the violation names it)."""
    profile = None
    if job.performance_profile_ref.id:
        profile = await store.get_pm_profile(buyer_id, job.performance_profile_ref.id)
    after = Pm.PerformanceJob()
    after.CopyFrom(job)
    apply_modification(after, change, profile)
    config = "modification.performance_profile_value.service_specific_configuration.@type"
    changed = change.performance_profile_value.service_specific_configuration.type
    await check_subjects(store, buyer_id, after, family_field=config if changed else None)


async def check_subjects(
    store: Store,
    buyer_id: str,
    job: Pm.PerformanceJob,
    where: str = "performance_job",
    family_field: str | None = None,
) -> None:
    """NotFound for a profile or service that is not the buyer's; InvalidArgument naming each
    subject field (or `family_field`, the configuration a modification changes) that does not
    fit the configuration's family or the one-connectivity rule."""
    profile = None
    if job.performance_profile_ref.id:
        profile = await store.get_pm_profile(buyer_id, job.performance_profile_ref.id)
        if profile is None:
            raise NotFound("PerformanceProfile", job.performance_profile_ref.id, NOT_FOUND)
    named = _subject_fields(job.monitored_object, f"{where}.monitored_object")
    services = []
    for service_id, _ in named:
        service = await store.get_service(buyer_id, service_id)
        if service is None:
            raise NotFound("Service", service_id, "SERVICE_NOT_FOUND")
        services.append(service)
    config_type = settings_of(job, profile).service_specific_configuration.type
    name, types = family(config_type)
    errors = Errors()
    for service, (_, field) in zip(services, named, strict=True):
        if service.service_configuration.type not in types:
            errors.add(
                family_field or field,
                f"{config_type} measures {name} services, not {service.service_configuration.type}",
            )
    if len(services) == 2:
        fields = (named[0][1], named[1][1])
        await subjects.check_pair(store, buyer_id, (services[0], services[1]), fields, errors)
    errors.raise_if_any("the job's monitored object does not fit what it measures")
