"""MEF Service Function Testing v3 bodies -> ServiceTestService requests.

Shape problems (unknown properties, wrong JSON types, unknown enum spellings,
bad date-times) are collected here with JSON Pointers, like `rest.inbound`
does for orders; required properties and business rules are left to the
servicer, so a REST client gets exactly the violations a gRPC client gets.
"""

from __future__ import annotations

from typing import Any

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, service_test_pb2
from interlude_server.rest import mapping as m
from interlude_server.rest.service import inbound
from interlude_server.rest.service.inbound import Json, Reader
from interlude_server.rest.sft import mapping as sm

St = service_test_pb2

_LIFECYCLE_STATUS = inbound._reverse(sm.LIFECYCLE_STATUS)
_ROLE = inbound._reverse(sm.ROLE)
_TEST_MODE = inbound._reverse(sm.TEST_MODE)
_TIME_UNIT = inbound._reverse(m.TIME_UNIT)
_CONTACT_KEYS = {"name", "emailAddress", "phoneNumber", "phoneNumberExtension", "organization"}
_REF_KEYS = {"id", "href"}
_JOB_SETTINGS = {
    "name",
    "description",
    "requestedStartDateTime",
    "requestedEndDateTime",
    "testProfile",
    "relatedServiceFrom",
    "relatedServiceTo",
    "serviceSpecificTestJobConfiguration",
    "testMode",  # extension
    "outOfServiceConsent",  # extension
}
_JOB_KEYS = _JOB_SETTINGS | {"recurrencePeriod"}
_PROFILE_KEYS = {
    "name",
    "description",
    "isBundled",
    "lifecycleStatus",
    "validFor",
    "testProfileRelationship",
    "serviceSpecificTestProfileConfiguration",
    "relatedServiceSpecification",
    "relatedContact",
}


def _ref_id(r: Reader, doc: Json, key: str, path: str) -> str:
    """The `id` of a `{id, href}` reference property ("" when absent)."""
    if key not in doc:
        return ""
    ref = r.obj(doc[key], f"{path}/{key}", _REF_KEYS, ("id",))
    return r.string(ref, "id", f"{path}/{key}")


def _bool(r: Reader, doc: Json, key: str, path: str) -> bool:
    v = doc.get(key, False)
    if not isinstance(v, bool):
        r.add(f"{path}/{key}", "must be a boolean", "invalidFormat")
        return False
    return v


def _contact(r: Reader, doc: Any, path: str) -> common_pb2.RelatedContactInformation:
    d = r.obj(doc, path, _CONTACT_KEYS)
    return common_pb2.RelatedContactInformation(
        name=r.string(d, "name", path),
        email_address=r.string(d, "emailAddress", path),
        number=r.string(d, "phoneNumber", path),
        number_extension=r.string(d, "phoneNumberExtension", path),
        organization=r.string(d, "organization", path),
    )


def _service_ref(r: Reader, doc: Json, key: str, path: str, into: common_pb2.ServiceRef) -> None:
    if key in doc:
        into.id = _ref_id(r, doc, key, path)


def _profile_choice(r: Reader, doc: Any, path: str, into: St.TestJob | St.TestJobModification) -> None:
    """A `TestProfileRefOrValue`, by its `@type`."""
    kind = doc.get("@type") if isinstance(doc, dict) else None
    if kind == "TestProfileRef":
        d = r.obj(doc, path, {"@type", "id", "href"}, ("id",))
        into.test_profile_ref.id = r.string(d, "id", path)
    elif kind == "TestProfileValue":
        keys = {"@type", "serviceSpecificTestProfileConfiguration", "relatedServiceSpecification"}
        d = r.obj(doc, path, keys | {"relatedContact"})
        value = into.test_profile_value
        value.SetInParent()
        if "serviceSpecificTestProfileConfiguration" in d:
            value.service_specific_test_profile_configuration.CopyFrom(
                inbound.extension(
                    r,
                    d["serviceSpecificTestProfileConfiguration"],
                    f"{path}/serviceSpecificTestProfileConfiguration",
                )
            )
        value.related_service_specification_id = _ref_id(r, d, "relatedServiceSpecification", path)
        r.each(d, "relatedContact", path, lambda x, w: _contact(r, x, w), value.related_contact)
    else:
        r.add(f"{path}/@type", "must be TestProfileRef or TestProfileValue", "invalidValue")


def _settings(r: Reader, d: Json, into: St.TestJob | St.TestJobModification) -> None:
    """The `TestJob_Common` properties a create and a modify share."""
    if "name" in d:
        into.name = r.string(d, "name", "")
    if "description" in d:
        into.description = r.string(d, "description", "")
    r.time(d, "requestedStartDateTime", "", into.requested_start_date_time)
    r.time(d, "requestedEndDateTime", "", into.requested_end_date_time)
    if "testProfile" in d:
        _profile_choice(r, d["testProfile"], "/testProfile", into)
    _service_ref(r, d, "relatedServiceFrom", "", into.related_service_from)
    _service_ref(r, d, "relatedServiceTo", "", into.related_service_to)
    if "serviceSpecificTestJobConfiguration" in d:
        into.service_specific_test_job_configuration.CopyFrom(
            inbound.extension(
                r, d["serviceSpecificTestJobConfiguration"], "/serviceSpecificTestJobConfiguration"
            )
        )
    into.test_mode = r.enum(d, "testMode", "", _TEST_MODE)  # type: ignore[assignment]
    if "outOfServiceConsent" in d:
        into.out_of_service_consent = _bool(r, d, "outOfServiceConsent", "")


def job(doc: Any) -> St.TestJob:
    """The TestJob of a `POST /testJob` body (`TestJob_Common`)."""
    r = Reader()
    d = r.obj(doc, "", _JOB_KEYS)
    job = St.TestJob()
    _settings(r, d, job)
    if "recurrencePeriod" in d:
        period = r.obj(d["recurrencePeriod"], "/recurrencePeriod", {"amount", "units"}, ("amount", "units"))
        amount = period.get("amount", 0)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < 2**31:
            r.add("/recurrencePeriod/amount", "must be a non-negative integer")
            amount = 0
        job.recurrence_period.amount = amount
        job.recurrence_period.units = r.enum(period, "units", "/recurrencePeriod", _TIME_UNIT)  # type: ignore[assignment]
    r.raise_if_any()
    return job


def _relationship(r: Reader, doc: Any, path: str) -> St.TestProfileRelationship:
    keys = ("id", "name", "role", "relatedServiceSpecification")
    d = r.obj(doc, path, {*keys, "order", "validFor"}, keys)
    out = St.TestProfileRelationship(
        id=r.string(d, "id", path),
        name=r.string(d, "name", path),
        role=r.enum(d, "role", path, _ROLE),  # type: ignore[arg-type]
        related_service_specification_id=_ref_id(r, d, "relatedServiceSpecification", path),
    )
    order = d.get("order", 0)
    if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order < 2**31:
        r.add(f"{path}/order", "must be a non-negative integer")
    else:
        out.order = order
    r.time(d, "validFor", path, out.valid_for)
    return out


def profile(doc: Any) -> St.TestProfile:
    """The TestProfile of a `POST /testProfile` body (`TestProfile_Create`)."""
    r = Reader()
    d = r.obj(doc, "", _PROFILE_KEYS)
    out = St.TestProfile(
        name=r.string(d, "name", ""),
        description=r.string(d, "description", ""),
        is_bundled=_bool(r, d, "isBundled", ""),
        lifecycle_status=r.enum(d, "lifecycleStatus", "", _LIFECYCLE_STATUS),  # type: ignore[arg-type]
        related_service_specification_id=_ref_id(r, d, "relatedServiceSpecification", ""),
    )
    r.time(d, "validFor", "", out.valid_for)
    r.each(
        d, "testProfileRelationship", "", lambda x, w: _relationship(r, x, w), out.test_profile_relationship
    )
    if "serviceSpecificTestProfileConfiguration" in d:
        out.service_specific_test_profile_configuration.CopyFrom(
            inbound.extension(
                r, d["serviceSpecificTestProfileConfiguration"], "/serviceSpecificTestProfileConfiguration"
            )
        )
    r.each(d, "relatedContact", "", lambda x, w: _contact(r, x, w), out.related_contact)
    r.raise_if_any()
    return out


def task(doc: Any, kind: sm.TaskKind) -> tuple[str, str, St.TestJobModification | None]:
    """(job id, reason, modification) of a `POST /cancelTestJob` (... `/resumeTestJob`) body."""
    r = Reader()
    modify = kind.task_type == St.TEST_JOB_TASK_TYPE_MODIFY
    allowed = {"testJob", kind.reason} | (_JOB_SETTINGS if modify else set())
    d = r.obj(doc, "", allowed, ("testJob",))
    job_id = _ref_id(r, d, "testJob", "")
    reason = r.string(d, kind.reason, "")
    mod = None
    if modify:
        mod = St.TestJobModification()
        _settings(r, {k: v for k, v in d.items() if k in _JOB_SETTINGS}, mod)
    r.raise_if_any()
    return job_id, reason, mod
