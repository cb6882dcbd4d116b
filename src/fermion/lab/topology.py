"""A lab topology as data: hosts with roles, the networks joining them, the demo to create.

This module only describes (Mininet's ``Topo``, containerlab's topology file); nothing here
touches the system. `fermion.lab.topofile` reads and validates the YAML files (``lab10``,
``lab8`` ship in ``topologies/``); `scaled()` derives the ``--computes``/``--instances``
variants; the builder realises a `Topology`.

Roles: ``controller`` (API server and database), ``network`` (L2, DHCP and L3 agents),
``compute`` (L2 agent; guests), ``labhost`` (the outside world: no agent, forwards nothing).
Network kinds: ``management`` (agents <-> API; this machine has one address on it, the only
way into the lab), ``underlay`` (tunnel endpoints: each member's address is its
``local_ip``), ``provider`` (a Neutron physical network: members' NICs go into its OVS
bridge; its ``gateway`` host holds the network's gateway address and, with an ``outside``
link, routes and masquerades towards labhost as the seed's network node does), ``outside``
(the routed link between that gateway and labhost).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

ROLES = ("controller", "network", "compute", "labhost")
KINDS = ("management", "underlay", "provider", "outside")


@dataclass(frozen=True)
class Interface:
    """A host's NIC on a lab network; `address` is an interface address with its prefix."""

    name: str
    network: str
    address: str | None = None

    @property
    def ip(self) -> str | None:
        return self.address.split("/")[0] if self.address else None


@dataclass(frozen=True)
class Gateway:
    host: str
    address: str  # with prefix, e.g. 172.16.0.1/24


@dataclass(frozen=True)
class LabNetwork:
    name: str
    kind: str
    cidr: str | None = None
    this_machine: str | None = None  # management: this machine's address (with prefix)
    bridge: str = "br-ex"  # provider: the OVS bridge of bridge_mappings
    gateway: Gateway | None = None  # provider


@dataclass(frozen=True)
class Host:
    name: str
    roles: tuple[str, ...]
    interfaces: tuple[Interface, ...]

    @property
    def runs_ovs(self) -> bool:
        return "network" in self.roles or "compute" in self.roles

    def on(self, network: str) -> Interface | None:
        return next((i for i in self.interfaces if i.network == network), None)


@dataclass(frozen=True)
class Subnet:
    name: str
    cidr: str
    gateway: str | None = None
    allocation_pool: tuple[str, str] | None = None
    dns_nameservers: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoNetwork:
    name: str
    subnets: tuple[Subnet, ...]
    provider_type: str | None = None  # flat / vlan; None: a tenant network from the pools
    physical_network: str | None = None
    segment: int | None = None
    shared: bool = False
    external: bool = False


@dataclass(frozen=True)
class Router:
    name: str
    external_network: str | None
    subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    protocol: str
    port: int | None = None


@dataclass(frozen=True)
class Instance:
    name: str
    network: str
    host: str
    floating_ip: bool = False


@dataclass(frozen=True)
class Demo:
    project: str = "demo"
    networks: tuple[DemoNetwork, ...] = ()
    routers: tuple[Router, ...] = ()
    rules: tuple[Rule, ...] = ()
    instances: tuple[Instance, ...] = ()

    def network(self, name: str) -> DemoNetwork:
        return next(n for n in self.networks if n.name == name)

    def subnet(self, name: str) -> tuple[DemoNetwork, Subnet]:
        return next((n, s) for n in self.networks for s in n.subnets if s.name == name)


@dataclass(frozen=True)
class Topology:
    name: str
    hosts: tuple[Host, ...]
    networks: tuple[LabNetwork, ...]
    demo: Demo = field(default_factory=Demo)
    description: str = ""
    config: dict = field(default_factory=dict)  # {ini file: {section: {option: value}}}
    source: str = ""

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def network(self, name: str) -> LabNetwork:
        return next(n for n in self.networks if n.name == name)

    def with_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts if role in h.roles]

    def of_kind(self, kind: str) -> list[LabNetwork]:
        return [n for n in self.networks if n.kind == kind]

    @property
    def management(self) -> LabNetwork:
        return self.of_kind("management")[0]

    @property
    def controller(self) -> Host:
        return self.with_role("controller")[0]

    @property
    def labhost(self) -> Host:
        return self.with_role("labhost")[0]

    def api_address(self) -> str:
        """The controller's management address: where the API listens."""
        return self.controller.on(self.management.name).ip

    def members(self, network: str) -> list[tuple[Host, Interface]]:
        return [(h, i) for h in self.hosts for i in h.interfaces if i.network == network]

    def labhost_address(self) -> str:
        """The address instances talk to in the smoke checks."""
        return next(i.ip for i in self.labhost.interfaces if i.ip)


def with_prefix(address: str, cidr: str) -> str:
    """'198.18.0.11' on 198.18.0.0/24 -> '198.18.0.11/24' (an explicit prefix is kept)."""
    if "/" in address:
        return address
    return f"{address}/{ipaddress.ip_network(cidr).prefixlen}"


def _shift(address: str | None, offset: int) -> str | None:
    if address is None or offset == 0:
        return address
    ip, _, prefix = address.partition("/")
    return f"{ipaddress.ip_address(ip) + offset}/{prefix}"


def scaled(topo: Topology, computes: int | None = None,
           instances: int | None = None) -> Topology:
    """The topology with `computes` compute hosts and/or `instances` instances.

    Compute hosts are cloned from the first one (``compute1`` … ``computeN``, each address
    one above the previous host's); instances are spread round-robin over the computes and
    cycle through the declared instances' networks (floating IPs only in the first round).
    The result still has to pass validation (addresses inside their networks)."""
    hosts = list(topo.hosts)
    compute_hosts = [h for h in hosts if h.roles == ("compute",)]
    if computes is not None and compute_hosts:
        template = compute_hosts[0]
        at = hosts.index(template)
        clones = [Host(f"compute{k}", template.roles,
                       tuple(replace(i, address=_shift(i.address, k - 1))
                             for i in template.interfaces))
                  for k in range(1, computes + 1)]
        hosts = [h for h in hosts if h not in compute_hosts]
        hosts[at:at] = clones
    computes_now = [h.name for h in hosts if "compute" in h.roles]
    declared = list(topo.demo.instances)
    if instances is not None and declared:
        new = [Instance(f"demo-instance-{k}", declared[(k - 1) % len(declared)].network,
                        "", declared[k - 1].floating_ip if k <= len(declared) else False)
               for k in range(1, instances + 1)]
    else:
        new = declared
    if (computes is not None or instances is not None) and computes_now:
        new = [replace(inst, host=computes_now[n % len(computes_now)])
               for n, inst in enumerate(new)]
    return replace(topo, hosts=tuple(hosts), demo=replace(topo.demo, instances=tuple(new)))
