"""Which connectivity a test or PM subject belongs to; which family a PM configuration measures."""

from __future__ import annotations

from interlude_grpc.mef.lso.interlude.v1 import common_pb2, inventory_pb2
from interlude_server.domain import subjects
from interlude_server.domain.performance.subjects import family
from interlude_server.domain.sft.catalog import ETHERNET_SERVICES, IP_SERVICES

IP_PM = "urn:mef:lso:spec:legato:ip-performance-monitoring-configuration:v0.0.1:all"
CE_PM = "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-configuration:v0.0.1:all"


def _service(service_id: str, *relations: tuple[str, str], state: int = 0) -> inventory_pb2.Service:
    return inventory_pb2.Service(
        id=service_id,
        state=state or common_pb2.SERVICE_STATE_ACTIVE,  # type: ignore[arg-type]
        service_relationship=[
            inventory_pb2.ServiceRelationship(
                relationship_type=kind, service=common_pb2.ServiceRef(id=target)
            )
            for kind, target in relations
        ],
    )


EP_1 = _service("ep-1", ("ATTACHED_TO", "uni-1"), ("ENDPOINT_OF", "evc-1"))
EP_2 = _service("ep-2", ("ATTACHED_TO", "uni-2"), ("ENDPOINT_OF", "evc-1"))
OTHER = _service("ep-3", ("ATTACHED_TO", "uni-1"), ("ENDPOINT_OF", "ovc-1"))


def test_an_end_point_belongs_to_the_connectivity_it_is_an_end_point_of() -> None:
    assert subjects.connectivity_ids(EP_1, []) == {"evc-1"}


def test_a_connectivity_service_belongs_to_itself_once_it_has_end_points() -> None:
    assert subjects.connectivity_ids(_service("evc-1"), [EP_1, EP_2]) == {"evc-1"}
    assert subjects.connectivity_ids(_service("evc-9"), []) == set()


def test_an_interface_belongs_to_every_connectivity_attached_to_it_but_a_terminated_one() -> None:
    assert subjects.connectivity_ids(_service("uni-1"), [EP_1, OTHER]) == {"evc-1", "ovc-1"}
    gone = _service("ep-4", ("ATTACHED_TO", "uni-1"), ("ENDPOINT_OF", "evc-7"))
    gone.state = common_pb2.SERVICE_STATE_TERMINATED
    assert subjects.connectivity_ids(_service("uni-1"), [gone]) == set()


def test_a_pm_configuration_measures_its_own_family() -> None:
    assert family(IP_PM) == ("IP", IP_SERVICES)
    assert family(CE_PM) == ("Carrier Ethernet", ETHERNET_SERVICES)
    assert not set(IP_SERVICES) & set(ETHERNET_SERVICES)
