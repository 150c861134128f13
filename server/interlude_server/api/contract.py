"""The v1 contract as the generated bindings describe it.

Services are discovered from the descriptors of every `*_pb2` module under
interlude_grpc.mef.lso.interlude.v1, so a new .proto file is served (as
UNIMPLEMENTED, reflected and health-checked) with no code change here.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from google.protobuf.descriptor import ServiceDescriptor

import interlude_grpc.mef.lso.interlude.v1 as _v1

PACKAGE = "mef.lso.interlude.v1"


@functools.cache
def services() -> tuple[ServiceDescriptor, ...]:
    """Every service of the contract package, sorted by full name."""
    found: dict[str, ServiceDescriptor] = {}
    for module_info in pkgutil.iter_modules(_v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{_v1.__name__}.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            if service.full_name.startswith(f"{PACKAGE}."):
                found[service.full_name] = service
    return tuple(found[name] for name in sorted(found))


def service_names() -> tuple[str, ...]:
    """The full names of every contract service, e.g. `mef.lso.interlude.v1.EventService`."""
    return tuple(service.full_name for service in services())
