"""The simulated Partner's report results: one MEF results object per measurement interval.

A report's `measurementData` follows the MEF Legato results schema of its configuration's
family, property for property: `carrierEthernetPerformanceMonitoringResults` (frame
counters by encapsulation and kind, utilisation in and out with their peaks) or
`ipPerformanceMonitoringResults` (the interval, protocol, VLAN, packet and character
counts, utilisation). Like the live measurements (measure.py), every value is a function
of (seed, subject, interval) only, so a report rebuilt after a restart or by another
server with the same `--sim-seed` holds the same numbers. The IP schema's `interface`
(a `Location`) is left out: its definition is a `oneOf` that every object matches twice,
so no value of it can validate.
"""

from __future__ import annotations

from google.protobuf import struct_pb2, timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, performance_pb2
from interlude_server.domain.performance.model import entity_id, result_type, subject_ids
from interlude_server.partner.performance.measure import uniform

Pm = performance_pb2
# Carrier Ethernet frame counters (received, then sent), by their MEF names, and a typical
# count per second of each.
CE_COUNTERS: dict[str, float] = {
    "rxEthIINum": 9000.0,
    "rxSnapNum": 12.0,
    "rxRawNum": 2.0,
    "rxIsisNum": 1.0,
    "rxLlcNum": 6.0,
    "rxUnknownNum": 0.5,
    "rxForwardNum": 8800.0,
    "rxArp": 3.0,
    "rxMpls": 40.0,
    "rxIsis": 1.0,
    "rxIsis2": 0.2,
    "rxIpv4": 7000.0,
    "rxIpv6": 1900.0,
    "txL3OutNum": 500.0,
    "txVlanOutNum": 8200.0,
    "txFastOutNum": 7600.0,
    "rxL2OutNum": 8500.0,
    "txMbufRelayNum": 30.0,
}
# IP counters per second: packets and characters (octets) in and out.
IP_COUNTERS: dict[str, float] = {
    "packetsIn": 6000.0,
    "charsIn": 4.2e6,
    "packetsOut": 5500.0,
    "charsOut": 3.9e6,
}
UTILISATION = ("utilizationIn", "utilizationOut")


def subject_name(ref: Pm.MonitoredObjectRef) -> str:
    return "/".join(subject_ids(ref)) or entity_id(ref)


def _utilisation(seed: int, subject: str, start: int, out: struct_pb2.Struct) -> None:
    for name in UTILISATION:
        average = 20.0 + 50.0 * uniform(seed, subject, start, name)
        peak = average + (100.0 - average) * uniform(seed, subject, start, name, "peak")
        out[name] = round(average, 3)
        out["peak" + name[0].upper() + name[1:]] = round(peak, 3)


def _counters(seed: int, subject: str, start: int, seconds: float, rates: dict[str, float]) -> dict[str, int]:
    return {
        name: int(rate * seconds * (0.5 + uniform(seed, subject, start, name)))
        for name, rate in rates.items()
    }


def result(
    seed: int,
    config_type: str,
    ref: Pm.MonitoredObjectRef,
    start: timestamp_pb2.Timestamp,
    end: timestamp_pb2.Timestamp,
) -> common_pb2.ExtensionPayload:
    """The MEF results object of one subject for the interval [start, end), with its `@type`."""
    subject = subject_name(ref)
    seconds = max((end.ToNanoseconds() - start.ToNanoseconds()) / 1e9, 0.0)
    kind = result_type(config_type)
    values = struct_pb2.Struct()
    if ":ip-" in kind:
        values["startTime"] = start.ToJsonString()
        values["endTime"] = end.ToJsonString()
        values["protocol"] = "IPV6" if uniform(seed, subject, "protocol") < 0.3 else "IPV4"
        values["vlan"] = 1 + int(uniform(seed, subject, "vlan") * 4094)
        values.update(_counters(seed, subject, start.seconds, seconds, IP_COUNTERS))
    else:
        values["interface"] = subject
        values.update(_counters(seed, subject, start.seconds, seconds, CE_COUNTERS))
    _utilisation(seed, subject, start.seconds, values)
    return common_pb2.ExtensionPayload(type=kind, attributes=values)
