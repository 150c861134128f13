"""Test profiles: reusable, validated test settings for a service specification."""

from __future__ import annotations

from google.protobuf import field_mask_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import events_pb2, service_test_pb2
from interlude_server.core.errors import Errors, InvalidArgument, InvalidState, Violation
from interlude_server.domain import documents, resources
from interlude_server.domain.sft.catalog import BY_CONFIGURATION_TYPE, resolve
from interlude_server.domain.sft.events import profile_event
from interlude_server.store.interface.store import Store, Tx

St = service_test_pb2
Ev = events_pb2
NOT_FOUND = "TEST_RESOURCE_NOT_FOUND"
UPDATABLE = (
    "name",
    "description",
    "lifecycle_status",
    "valid_for",
    "service_specific_test_profile_configuration",
    "related_service_specification_id",
    "related_contact",
)


class ProfileInUse(InvalidState):
    """The profile is ASSIGNED to a job: it cannot be deleted nor its settings changed."""

    reason = "PROFILE_IN_USE"


async def validate_profile(
    store: Store, profile: service_test_pb2.TestProfile, where: str = "test_profile"
) -> None:
    """Every problem of a profile at once (InvalidArgument); sets its derived test_type."""
    errors = Errors()
    if not profile.name:
        errors.add(f"{where}.name", "required", "missingProperty")
    if not profile.lifecycle_status:
        errors.add(f"{where}.lifecycle_status", "required", "missingProperty")
    if not profile.HasField("valid_for"):
        errors.add(f"{where}.valid_for", "required", "missingProperty")
    if profile.is_bundled or profile.test_profile_relationship:
        errors.add(f"{where}.is_bundled", "bundled profiles are not supported by this Partner yet")
    spec_type = ""
    if not profile.related_service_specification_id:
        errors.add(f"{where}.related_service_specification_id", "required", "missingProperty")
    else:
        spec = await store.get_specification(profile.related_service_specification_id)
        if spec is None:
            errors.add(
                f"{where}.related_service_specification_id", "no such specification", "referenceNotFound"
            )
        else:
            spec_type = spec.target_service_schema.type
    config = profile.service_specific_test_profile_configuration
    config_where = f"{where}.service_specific_test_profile_configuration"
    capability = BY_CONFIGURATION_TYPE.get(config.type)
    if capability is None:
        errors.add(f"{config_where}.@type", "required: the configuration URN of a test capability")
    else:
        resolve(capability, [(config_where, documents.to_dict(config))], {}, errors)
        if spec_type and spec_type not in capability.service_types:
            errors.add(
                f"{where}.related_service_specification_id",
                f"{capability.name} does not apply to {spec_type}",
            )
        profile.test_type = capability.test_type  # type: ignore[assignment]
    errors.raise_if_any("the test profile is not valid")


def create(
    tx: Tx, buyer_id: str, requested: service_test_pb2.TestProfile, now: timestamp_pb2.Timestamp
) -> service_test_pb2.TestProfile:
    profile = St.TestProfile()
    profile.CopyFrom(requested)
    resources.stamp_new(profile, buyer_id)
    profile.lifecycle_state = St.TEST_PROFILE_LIFECYCLE_STATE_AVAILABLE
    profile.creation_date.CopyFrom(now)
    profile.last_update.CopyFrom(now)
    tx.put_test_profile(profile)
    profile_event(tx, Ev.EVENT_TYPE_TEST_PROFILE_CREATE, profile, now)
    return profile


def _current(tx: Tx, buyer_id: str, profile_id: str, etag: str) -> service_test_pb2.TestProfile:
    found = tx.get_test_profile(buyer_id, profile_id)
    return resources.for_change(found, "TestProfile", profile_id, etag, NOT_FOUND)


def check_mask(mask: field_mask_pb2.FieldMask) -> None:
    bad = [p for p in mask.paths if p not in UPDATABLE]
    if not mask.paths or bad:
        violations = [
            Violation("update_mask", f"{p!r} cannot be changed; changeable: {', '.join(UPDATABLE)}")
            for p in bad
        ]
        raise InvalidArgument(
            "update_mask is not valid",
            violations or [Violation("update_mask", "name at least one field", "missingProperty")],
            reason="INVALID_FIELD_MASK",
        )


def merged(
    current: service_test_pb2.TestProfile, patch: service_test_pb2.TestProfile, mask: field_mask_pb2.FieldMask
) -> service_test_pb2.TestProfile:
    """The profile after the masked fields of `patch` replace the current ones."""
    out = St.TestProfile()
    out.CopyFrom(current)
    for path in mask.paths:
        out.ClearField(path)  # type: ignore[arg-type]
        value = getattr(patch, path)
        if path == "related_contact":
            out.related_contact.extend(value)
        elif path in ("valid_for", "service_specific_test_profile_configuration"):
            if patch.HasField(path):  # type: ignore[arg-type]
                getattr(out, path).CopyFrom(value)
        else:
            setattr(out, path, value)
    return out


def update(
    tx: Tx,
    buyer_id: str,
    desired: service_test_pb2.TestProfile,
    mask: field_mask_pb2.FieldMask,
    etag: str,
    now: timestamp_pb2.Timestamp,
) -> service_test_pb2.TestProfile:
    current = _current(tx, buyer_id, desired.id, etag)
    settings_changed = "service_specific_test_profile_configuration" in mask.paths
    if settings_changed and current.lifecycle_state == St.TEST_PROFILE_LIFECYCLE_STATE_ASSIGNED:
        raise ProfileInUse(
            "the settings of a profile a job uses cannot change; create a new profile", "assigned"
        )
    profile = merged(current, desired, mask)
    profile.last_update.CopyFrom(now)
    profile.etag = resources.next_etag(current.etag)
    tx.put_test_profile(profile)
    profile_event(tx, Ev.EVENT_TYPE_TEST_PROFILE_ATTRIBUTE_VALUE_CHANGE, profile, now)
    return profile


def delete(tx: Tx, buyer_id: str, profile_id: str, etag: str, now: timestamp_pb2.Timestamp) -> None:
    profile = _current(tx, buyer_id, profile_id, etag)
    if profile.lifecycle_state == St.TEST_PROFILE_LIFECYCLE_STATE_ASSIGNED:
        raise ProfileInUse("a profile a job uses cannot be deleted", "assigned")
    tx.delete_test_profile(buyer_id, profile_id)
    profile_event(tx, Ev.EVENT_TYPE_TEST_PROFILE_DELETE, profile, now)


def assign(tx: Tx, buyer_id: str, profile_id: str, now: timestamp_pb2.Timestamp) -> None:
    """A job uses the profile: it becomes ASSIGNED (once)."""
    profile = tx.get_test_profile(buyer_id, profile_id)
    if profile is None or profile.lifecycle_state == St.TEST_PROFILE_LIFECYCLE_STATE_ASSIGNED:
        return
    profile.lifecycle_state = St.TEST_PROFILE_LIFECYCLE_STATE_ASSIGNED
    profile.last_update.CopyFrom(now)
    profile.etag = resources.next_etag(profile.etag)
    tx.put_test_profile(profile)
    profile_event(tx, Ev.EVENT_TYPE_TEST_PROFILE_LIFECYCLE_STATE_CHANGE, profile, now)
