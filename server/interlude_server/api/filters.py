"""Validation shared by List RPCs: time ranges and read masks."""

from __future__ import annotations

from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import Descriptor

from interlude_grpc.mef.lso.interlude.v1 import common_pb2
from interlude_server.core.errors import Errors, InvalidArgument, Violation


def check_range(errors: Errors, where: str, value: common_pb2.TimeRange) -> None:
    """A range whose `after` is not before its `before` can match nothing: say so."""
    if (
        value.HasField("after")
        and value.HasField("before")
        and value.after.ToNanoseconds() >= value.before.ToNanoseconds()
    ):
        errors.add(f"{where}.before", "must be later than after", "invalidValue")


def check_read_mask(mask: field_mask_pb2.FieldMask, descriptor: Descriptor, where: str = "read_mask") -> None:
    if mask.paths and not mask.IsValidForDescriptor(descriptor):
        raise InvalidArgument(
            f"{where} names fields {descriptor.name} does not have",
            [
                Violation(
                    where,
                    f"valid paths are fields of {descriptor.name}, e.g. id, state, service_configuration",
                )
            ],
            reason="INVALID_FIELD_MASK",
        )
