"""The tests this Partner runs: one capability per test type, with its parameters.

MEF leaves test content to service-specific schemas, so these are ours: each
type has a configuration `@type` (`urn:interlude-grpc:test:<name>:v1`) for job
and profile documents and a result `@type` (`urn:interlude-grpc:test-result:<name>:v1`).
The same table answers GetTestCapabilities, validates configurations (every
bad parameter reported at once) and fills defaults; docs/testing.md explains it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2

from interlude_grpc.mef.lso.interlude.v1 import service_test_pb2
from interlude_server.core.errors import Errors
from interlude_server.domain import jsonptr

St = service_test_pb2
_PT = St.TestParameterValueType
_URN = "urn:mef:lso:spec:legato:"
ETHERNET_SERVICES = tuple(
    f"{_URN}{name}:v0.0.1:all"
    for name in (
        "carrier-ethernet-ovc-end-point",
        "carrier-ethernet-evc-end-point",
        "carrier-ethernet-operator-uni",
        "carrier-ethernet-enni-service",
        "carrier-ethernet-ovc",
        "carrier-ethernet-evc",
    )
)
IP_SERVICES = tuple(f"{_URN}{name}:v0.0.4:all" for name in ("ipvc-end-point", "ip-uni", "ipvc"))
BOTH_MODES = (St.TEST_MODE_IN_SERVICE, St.TEST_MODE_OUT_OF_SERVICE)
# Parameters whose default is the service's own bandwidth profile (see `service_defaults`).
FROM_SERVICE = "from the service's ingress bandwidth profile"


@dataclass(frozen=True)
class Param:
    """One top-level property of a configuration document."""

    name: str
    value_type: int
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    default: Any = None
    allowed: tuple[str, ...] = ()
    # For arrays: the bounds of each (numeric) element.
    item_min: float | None = None
    item_max: float | None = None

    def spec(self) -> service_test_pb2.TestParameterSpec:
        out = St.TestParameterSpec(
            name=f"/{self.name}",
            value_type=self.value_type,  # type: ignore[arg-type]
            unit=self.unit,
            allowed_values=self.allowed,
            required=False,
            description=self.description
            + (f" (default: {FROM_SERVICE})" if self.default == FROM_SERVICE else ""),
        )
        if self.min is not None:
            out.min = self.min
        if self.max is not None:
            out.max = self.max
        if self.default is not None and self.default != FROM_SERVICE:
            value = struct_pb2.Value()
            _set_value(value, self.default)
            out.default_value.CopyFrom(value)
        return out


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    holder = struct_pb2.Struct()
    holder.update({"v": value})
    target.CopyFrom(holder.fields["v"])


@dataclass(frozen=True)
class Capability:
    """A test type: its URNs, the services it applies to, its modes and parameters."""

    test_type: int
    name: str
    description: str
    service_types: tuple[str, ...]
    params: tuple[Param, ...]
    modes: tuple[int, ...] = BOTH_MODES

    @property
    def configuration_type(self) -> str:
        return f"urn:interlude-grpc:test:{self.name}:v1"

    @property
    def result_type(self) -> str:
        return f"urn:interlude-grpc:test-result:{self.name}:v1"

    def message(self) -> service_test_pb2.TestCapability:
        return St.TestCapability(
            test_type=self.test_type,  # type: ignore[arg-type]
            configuration_type=self.configuration_type,
            result_type=self.result_type,
            service_types=self.service_types,
            supported_modes=self.modes,  # type: ignore[arg-type]
            parameters=[p.spec() for p in self.params],
            description=self.description,
        )


def _num(name: str, unit: str, lo: float, hi: float, default: Any, text: str) -> Param:
    return Param(name, _PT.TEST_PARAMETER_VALUE_TYPE_NUMBER, text, unit, lo, hi, default)


def _int(name: str, unit: str, lo: float, hi: float, default: Any, text: str) -> Param:
    return Param(name, _PT.TEST_PARAMETER_VALUE_TYPE_INTEGER, text, unit, lo, hi, default)


def _numbers(name: str, unit: str, lo: float, hi: float, default: list[int], text: str) -> Param:
    """An array of numbers, each from `lo` to `hi`."""
    array = _PT.TEST_PARAMETER_VALUE_TYPE_ARRAY
    return Param(name, array, text, unit, default=default, item_min=lo, item_max=hi)


# RFC 2544's standard Ethernet frame sizes.
_FRAME_SIZES = [64, 128, 256, 512, 1024, 1280, 1518]
_COS = Param(
    "cosName",
    _PT.TEST_PARAMETER_VALUE_TYPE_STRING,
    "class of service the test frames are marked with",
    default="H",
    allowed=("H", "M", "L"),
)

CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        St.TEST_TYPE_ETHERNET_LOOPBACK,
        "ethernet-loopback",
        "Y.1731 loopback: LBM frames from the MEP of related_service_from to the MEP or MIP of "
        "related_service_to; one step per LBM, each with the LBR round-trip time.",
        ETHERNET_SERVICES,
        (
            _int("count", "", 1, 100, 5, "number of LBM frames (one step each)"),
            _int("frameSize", "bytes", 64, 9600, 64, "LBM frame size"),
            _int("megLevel", "", 0, 7, 4, "maintenance entity group level"),
            _num("maxRoundTripTime", "ms", 0.001, 10000, 10, "threshold: LBR round-trip time at most"),
            _COS,
        ),
    ),
    Capability(
        St.TEST_TYPE_ETHERNET_LINK_TRACE,
        "ethernet-link-trace",
        "Y.1731 link trace: an LTM towards the MEP of related_service_to; one step per responding "
        "hop with its response time, MAC address and relay action; passes when the target answers.",
        ETHERNET_SERVICES,
        (
            _int("ttl", "", 1, 255, 64, "LTM time to live: the most hops traced"),
            _int("megLevel", "", 0, 7, 4, "maintenance entity group level"),
            _num("maxResponseTime", "ms", 0.001, 10000, 50, "threshold: LTR response time at most"),
        ),
        (St.TEST_MODE_IN_SERVICE,),
    ),
    Capability(
        St.TEST_TYPE_Y1564_SERVICE_ACTIVATION,
        "y1564-sat",
        "Y.1564-style service activation: a configuration step per CIR percentage, an EIR step "
        "when eir > 0, then a performance phase at CIR; each step checks information rate, FD, "
        "FDV and FLR against the thresholds.",
        ETHERNET_SERVICES,
        (
            _num("cir", "Mbps", 0.001, 100000, FROM_SERVICE, "committed information rate under test"),
            _num("eir", "Mbps", 0, 100000, FROM_SERVICE, "excess information rate under test"),
            _numbers(
                "cirSteps", "%", 1, 100, [25, 50, 75, 100], "configuration steps, each a percentage of CIR"
            ),
            _int("stepDuration", "s", 1, 600, 60, "simulated length of each configuration step"),
            _int("performanceDuration", "min", 1, 1440, 15, "simulated length of the performance phase"),
            _num("frameDelay", "ms", 0.001, 10000, 10, "threshold: one-way frame delay at most"),
            _num("frameDelayVariation", "ms", 0.001, 10000, 3, "threshold: frame delay variation at most"),
            _num("frameLossRatio", "%", 0, 100, 0.01, "threshold: frame loss ratio at most"),
            _COS,
        ),
    ),
    Capability(
        St.TEST_TYPE_RFC2544_THROUGHPUT,
        "rfc2544-throughput",
        "RFC 2544-style throughput: one step per frame size, finding the highest rate without "
        "loss, with the latency at that rate; passes when throughput reaches minThroughputRatio "
        "of maxRate.",
        ETHERNET_SERVICES,
        (
            _numbers("frameSizes", "bytes", 64, 9600, _FRAME_SIZES, "frame sizes, one step each"),
            _num("maxRate", "Mbps", 0.001, 100000, FROM_SERVICE, "the highest rate offered (CIR)"),
            _int("trialDuration", "s", 1, 600, 60, "simulated length of each trial"),
            _num("minThroughputRatio", "%", 1, 100, 95, "threshold: throughput at least this share"),
            _num("frameLossRatio", "%", 0, 100, 0, "threshold: loss at the throughput rate at most"),
        ),
        (St.TEST_MODE_OUT_OF_SERVICE,),
    ),
    Capability(
        St.TEST_TYPE_IP_TWAMP,
        "ip-twamp",
        "TWAMP-style (RFC 5357) delay and loss: one step per measurement interval with the "
        "one-way delay each way, the delay variation and the packet loss ratio.",
        IP_SERVICES,
        (
            _int("intervals", "", 1, 60, 3, "measurement intervals (one step each)"),
            _int("packetsPerInterval", "", 1, 100000, 100, "test packets sent per interval"),
            _int("packetSize", "bytes", 64, 9000, 128, "test packet size"),
            _int("dscp", "", 0, 63, 0, "DSCP of the test packets"),
            _num("maxOneWayDelay", "ms", 0.001, 10000, 20, "threshold: one-way delay at most"),
            _num("maxDelayVariation", "ms", 0.001, 10000, 5, "threshold: delay variation at most"),
            _num("maxPacketLossRatio", "%", 0, 100, 0.1, "threshold: packet loss ratio at most"),
        ),
        (St.TEST_MODE_IN_SERVICE,),
    ),
    Capability(
        St.TEST_TYPE_IP_PING,
        "ip-ping",
        "ICMP echo from related_service_from to related_service_to: one step per echo request "
        "with its round-trip time.",
        IP_SERVICES,
        (
            _int("count", "", 1, 100, 5, "echo requests (one step each)"),
            _int("packetSize", "bytes", 8, 9000, 56, "ICMP payload size"),
            _num("maxRoundTripTime", "ms", 0.001, 10000, 50, "threshold: round-trip time at most"),
        ),
        (St.TEST_MODE_IN_SERVICE,),
    ),
    Capability(
        St.TEST_TYPE_IP_TRACEROUTE,
        "ip-traceroute",
        "Traceroute from related_service_from towards related_service_to: one step per hop "
        "that answered, with its round-trip time and address; passes when the target answers.",
        IP_SERVICES,
        (
            _int("maxHops", "", 1, 64, 30, "the most hops probed (the largest TTL)"),
            _int("probesPerHop", "", 1, 10, 3, "probes sent per hop"),
            _num("maxRoundTripTime", "ms", 0.001, 10000, 100, "threshold: hop round-trip time at most"),
        ),
        (St.TEST_MODE_IN_SERVICE,),
    ),
)

BY_TYPE: Mapping[int, Capability] = {c.test_type: c for c in CAPABILITIES}
BY_CONFIGURATION_TYPE: Mapping[str, Capability] = {c.configuration_type: c for c in CAPABILITIES}


def capabilities(
    service_types: Sequence[str], test_types: Sequence[int]
) -> list[service_test_pb2.TestCapability]:
    """The capabilities that apply to any of `service_types` and are any of `test_types` ([] = all)."""
    return [
        c.message()
        for c in CAPABILITIES
        if (not service_types or set(service_types) & set(c.service_types))
        and (not test_types or c.test_type in test_types)
    ]


def service_defaults(service_config: Mapping[str, Any]) -> dict[str, float]:
    """CIR and EIR (Mbps) of a service's ingress bandwidth profile, for FROM_SERVICE defaults."""
    for key, value in service_config.items():
        if key.startswith("ingressBandwidthProfile") and isinstance(value, dict):
            cir = jsonptr.get(value, "/cir/irValue", None)
            eir = jsonptr.get(value, "/eir/irValue", 0)
            if isinstance(cir, int | float):
                eir_mbps = float(eir) if isinstance(eir, int | float) else 0.0
                return {"cir": float(cir), "eir": eir_mbps, "maxRate": float(cir)}
    return {"cir": 100.0, "eir": 0.0, "maxRate": 100.0}


@dataclass
class Resolved:
    """A configuration with every parameter set: defaults, then the profile, then the job."""

    capability: Capability
    values: dict[str, Any] = field(default_factory=dict)


def _check(param: Param, value: Any, where: str, errors: Errors) -> None:
    kind = param.value_type
    if kind == _PT.TEST_PARAMETER_VALUE_TYPE_STRING:
        if not isinstance(value, str):
            errors.add(where, "must be a string", "invalidValue")
        elif param.allowed and value not in param.allowed:
            errors.add(where, f"must be one of {', '.join(param.allowed)}", "invalidValue")
        return
    if kind == _PT.TEST_PARAMETER_VALUE_TYPE_ARRAY:
        if not isinstance(value, list) or not value:
            errors.add(where, "must be a non-empty array of numbers", "invalidValue")
            return
        for i, item in enumerate(value):
            if not isinstance(item, int | float) or isinstance(item, bool):
                errors.add(f"{where}/{i}", "must be a number", "invalidValue")
            elif (param.item_min is not None and item < param.item_min) or (
                param.item_max is not None and item > param.item_max
            ):
                errors.add(f"{where}/{i}", f"must be from {param.item_min:g} to {param.item_max:g}")
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        errors.add(where, "must be a number", "invalidValue")
        return
    if kind == _PT.TEST_PARAMETER_VALUE_TYPE_INTEGER and value != int(value):
        errors.add(where, "must be an integer", "invalidValue")
    if (param.min is not None and value < param.min) or (param.max is not None and value > param.max):
        errors.add(where, f"must be from {param.min:g} to {param.max:g} {param.unit}".rstrip())


def resolve(
    capability: Capability,
    layers: Sequence[tuple[str, Mapping[str, Any]]],
    service_config: Mapping[str, Any],
    errors: Errors,
) -> Resolved:
    """Merge `layers` ((field path, attributes), lowest precedence first) over the defaults,
    adding a violation to `errors` for every unknown or bad parameter."""
    by_name = {p.name: p for p in capability.params}
    from_service = service_defaults(service_config)
    values: dict[str, Any] = {
        p.name: from_service[p.name] if p.default == FROM_SERVICE else p.default for p in capability.params
    }
    for where, attributes in layers:
        for key, value in attributes.items():
            param = by_name.get(key)
            if param is None:
                errors.add(f"{where}/{key}", f"not a parameter of {capability.name}", "unexpectedProperty")
                continue
            _check(param, value, f"{where}/{key}", errors)
            values[key] = value
    return Resolved(capability, values)
