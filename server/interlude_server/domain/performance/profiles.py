"""PM profiles: create, change and delete, each in one transaction with its event and record.

A profile used by a live job is `is_assigned` and cannot be deleted (MEF
`performanceProfileInUse`); the flag follows the jobs that reference it.
"""

from __future__ import annotations

from google.protobuf import field_mask_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, performance_pb2
from interlude_server.core.errors import InUse, InvalidArgument, Violation
from interlude_server.domain import audit, resources
from interlude_server.domain.performance import audit as pm_audit
from interlude_server.domain.performance.states import LIVE_JOB_STATES
from interlude_server.domain.performance.validate import check_profile
from interlude_server.store.interface.store import Tx

Pm = performance_pb2
Ev = events_pb2
NOT_FOUND = "PERFORMANCE_RESOURCE_NOT_FOUND"
# Fields an update may name; job_type and output-only fields never change.
UPDATABLE = frozenset(
    {
        "lifecycle_status",
        "output_format",
        "result_format",
        "granularity",
        "reporting_period",
        "job_priority",
        "buyer_profile_id",
        "description",
        "service_specific_configuration",
    }
)


def new_profile(
    buyer_id: str, profile: Pm.PerformanceProfile, now: timestamp_pb2.Timestamp
) -> Pm.PerformanceProfile:
    """The profile as it will be stored: validated, with the output-only fields set."""
    check_profile(profile)
    created = Pm.PerformanceProfile()
    created.CopyFrom(profile)
    resources.stamp_new(created, buyer_id)
    created.href = ""
    created.is_assigned = False
    created.creation_date_time.CopyFrom(now)
    created.last_time_modified.CopyFrom(now)
    return created


def create_profile(
    tx: Tx, profile: Pm.PerformanceProfile, now: timestamp_pb2.Timestamp
) -> Pm.PerformanceProfile:
    tx.put_pm_profile(profile)
    pm_audit.track(tx, profile, now, pm_audit.CLIENT, "profile created", "create")
    audit.emit(tx, Ev.EVENT_TYPE_PERFORMANCE_PROFILE_CREATE, profile, now)
    return profile


def _current(tx: Tx, buyer_id: str, profile_id: str, etag: str) -> Pm.PerformanceProfile:
    found = tx.get_pm_profile(buyer_id, profile_id)
    return resources.for_change(found, "PerformanceProfile", profile_id, etag, NOT_FOUND)


def check_mask(mask: field_mask_pb2.FieldMask) -> None:
    bad = [p for p in mask.paths if p not in UPDATABLE]
    if bad or not mask.paths:
        raise InvalidArgument(
            "update_mask must name changeable fields of the profile",
            [
                Violation(
                    "update_mask", f"allowed: {', '.join(sorted(UPDATABLE))}; got {', '.join(bad) or 'none'}"
                )
            ],
            reason="INVALID_FIELD_MASK",
        )


def updated_profile(
    current: Pm.PerformanceProfile, change: Pm.PerformanceProfile, mask: field_mask_pb2.FieldMask
) -> Pm.PerformanceProfile:
    """`current` with the masked fields of `change`, validated as a whole."""
    check_mask(mask)
    updated = Pm.PerformanceProfile()
    updated.CopyFrom(current)
    mask.MergeMessage(change, updated, replace_message_field=True, replace_repeated_field=True)
    check_profile(updated)
    return updated


def update_profile(
    tx: Tx,
    buyer_id: str,
    change: Pm.PerformanceProfile,
    mask: field_mask_pb2.FieldMask,
    etag: str,
    now: timestamp_pb2.Timestamp,
) -> Pm.PerformanceProfile:
    profile = updated_profile(_current(tx, buyer_id, change.id, etag), change, mask)
    profile.last_time_modified.CopyFrom(now)
    profile.etag = resources.next_etag(profile.etag)
    tx.put_pm_profile(profile)
    pm_audit.track(tx, profile, now, pm_audit.CLIENT, f"changed {', '.join(mask.paths)}", "update")
    audit.emit(tx, Ev.EVENT_TYPE_PERFORMANCE_PROFILE_ATTRIBUTE_VALUE_CHANGE, profile, now)
    return profile


def delete_profile(tx: Tx, buyer_id: str, profile_id: str, etag: str, now: timestamp_pb2.Timestamp) -> None:
    profile = _current(tx, buyer_id, profile_id, etag)
    users = tx.count_pm_jobs_using(buyer_id, profile_id, LIVE_JOB_STATES)
    if users:
        raise InUse(
            f"performance profile {profile_id!r} is used by {users} job(s) that have not ended; "
            "cancel them or wait until they end",
            "PerformanceProfile",
            profile_id,
        )
    tx.delete_pm_profile(buyer_id, profile_id)
    pm_audit.track(tx, profile, now, pm_audit.CLIENT, "profile deleted", "delete")
    audit.emit(tx, Ev.EVENT_TYPE_PERFORMANCE_PROFILE_DELETE, profile, now)


def set_assigned(tx: Tx, buyer_id: str, profile_id: str) -> None:
    """Recompute `is_assigned` from the live jobs that reference the profile."""
    profile = tx.get_pm_profile(buyer_id, profile_id) if profile_id else None
    if profile is None:
        return
    assigned = tx.count_pm_jobs_using(buyer_id, profile_id, LIVE_JOB_STATES) > 0
    if assigned != profile.is_assigned:
        profile.is_assigned = assigned
        tx.put_pm_profile(profile)
