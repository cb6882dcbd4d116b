"""What each lab host is made of, decided from the topology alone (pure; unit-tested).

`host_plan(topo, host)` says what an operator would set up on that machine: hostname and
/etc/hosts, the INI files (the shipped samples with this host's values), OVS bridges holding
its NICs (``br-phy`` with the tunnel address, the provider bridges, the provider gateway
address), plain addresses, routes, forwarding and the seed's iptables on the gateway, and
the daemons with their exact command lines. `fabric_plan(topo)` says how hosts are wired:
one Linux bridge per lab network in the ``fabric`` capsule, one veth per host interface,
and this machine's single veth onto the management network. `mount_script()` gives a
capsule its own /run, /etc, /var (and /var/log from the kept log directory).
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import asdict, dataclass, field

from fermion.lab import ini
from fermion.lab.topology import Host, Topology

API_PORT = 9696
UNDERLAY_BRIDGE = "br-phy"  # userspace tunnels leave from an address on an OVS internal port
LOG_DIR = "/var/log/neutron"


@dataclass(frozen=True)
class Daemon:
    name: str  # neutron-server, neutron-openvswitch-agent, ...
    argv: tuple[str, ...]
    log: str  # path inside the host


@dataclass(frozen=True)
class Bridge:
    name: str
    nics: tuple[str, ...] = ()
    address: str | None = None  # on the bridge's internal port


@dataclass
class HostPlan:
    name: str
    hosts_file: str
    files: dict[str, str] = field(default_factory=dict)  # path inside the host -> text
    ovs: bool = False
    bridges: list[Bridge] = field(default_factory=list)
    addresses: list[tuple[str, str]] = field(default_factory=list)  # (ifname, cidr)
    nics: list[str] = field(default_factory=list)  # every lab NIC (brought up, tx off)
    routes: list[tuple[str, str]] = field(default_factory=list)  # (destination, via)
    forwarding: bool = False
    iptables: str | None = None
    daemons: list[Daemon] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def server_url(topo: Topology) -> str:
    return f"http://{topo.controller.name}:{API_PORT}"


def hosts_file(topo: Topology, host: Host) -> str:
    lines = ["127.0.0.1\tlocalhost"]
    mgmt = topo.management.name
    if not host.on(mgmt):
        lines.append(f"127.0.1.1\t{host.name}")
    for other in topo.hosts:
        iface = other.on(mgmt)
        if iface:  # a host's own name too: the API binds to its management address
            lines.append(f"{iface.ip}\t{other.name}")
    return "\n".join(lines) + "\n"


def ini_overrides(topo: Topology, host: Host) -> dict[str, ini.Overrides]:
    """What differs from the samples on `host` (then the topology's own `config:` wins)."""
    underlay = topo.of_kind("underlay")
    local = host.on(underlay[0].name) if underlay else None
    mappings = ",".join(f"{i.network}:{topo.network(i.network).bridge}"
                        for i in host.interfaces if topo.network(i.network).kind == "provider")
    lab = {
        "neutron.conf": {"DEFAULT": {"bind_host": topo.api_address()}},
        "openvswitch_agent.ini": {
            "ovs": {"local_ip": local.ip if local else "", "bridge_mappings": mappings,
                    "datapath_type": "netdev"},
            "agent": {"tunnel_types": "vxlan" if local else ""}},
    }
    return ini.merged(lab, topo.config)


def daemons(topo: Topology, host: Host) -> list[Daemon]:
    conf = ("--config-file", ini.SAMPLES["neutron.conf"])
    server = ("--server", server_url(topo))
    out = []
    if "controller" in host.roles:
        out.append(Daemon("neutron-server", ("fermion", "server", *conf, "--config-file",
                                             ini.SAMPLES["ml2_conf.ini"]),
                          f"{LOG_DIR}/neutron-server.log"))
    if host.runs_ovs:
        out.append(Daemon("neutron-openvswitch-agent",
                          ("fermion", "agent", "l2", *server, *conf, "--config-file",
                           ini.SAMPLES["openvswitch_agent.ini"]),
                          f"{LOG_DIR}/neutron-openvswitch-agent.log"))
    if "network" in host.roles:
        for kind, file in (("dhcp", "dhcp_agent.ini"), ("l3", "l3_agent.ini")):
            out.append(Daemon(f"neutron-{kind}-agent",
                              ("fermion", "agent", kind, *server, *conf, "--config-file",
                               ini.SAMPLES[file]), f"{LOG_DIR}/neutron-{kind}-agent.log"))
    return out


def host_plan(topo: Topology, host: Host) -> HostPlan:
    plan = HostPlan(name=host.name, hosts_file=hosts_file(topo, host), ovs=host.runs_ovs)
    if host.runs_ovs or "controller" in host.roles:
        overrides = ini_overrides(topo, host)
        plan.files = {path: ini.render(ini.sample_text(name), overrides.get(name, {}))
                      for name, path in ini.SAMPLES.items()}
    for iface in host.interfaces:
        net = topo.network(iface.network)
        plan.nics.append(iface.name)
        if net.kind == "underlay" and host.runs_ovs:
            plan.bridges.append(Bridge(UNDERLAY_BRIDGE, (iface.name,), iface.address))
        elif net.kind == "provider" and host.runs_ovs:
            gw = net.gateway.address if net.gateway and net.gateway.host == host.name else None
            plan.bridges.append(Bridge(net.bridge, (iface.name,), gw))
        elif iface.address:
            plan.addresses.append((iface.name, iface.address))
    plan.daemons = daemons(topo, host)
    _routing(topo, host, plan)
    return plan


def _routing(topo: Topology, host: Host, plan: HostPlan) -> None:
    """The gateway forwards between its provider bridge and labhost (the seed's network
    node); labhost routes the provider network back through it and nowhere else."""
    outside = topo.of_kind("outside")
    if not outside:
        return
    out_net = outside[0]
    gateways = [n for n in topo.of_kind("provider") if n.gateway]
    for provider in gateways:
        gw_host = topo.host(provider.gateway.host)
        gw_out = gw_host.on(out_net.name)
        lab_out = topo.labhost.on(out_net.name)
        if gw_out is None or lab_out is None:
            continue
        if host.name == gw_host.name:
            plan.forwarding = True
            plan.routes.append(("default", lab_out.ip))
            plan.iptables = gateway_rules(gw_out.name, provider.bridge, provider.cidr)
        elif host.name == topo.labhost.name and provider.cidr:
            plan.routes.append((provider.cidr, gw_out.ip))


def gateway_rules(public: str, bridge: str, cidr: str | None) -> str:
    """The seed's rules for the network node routing the flat network to the lab host: NAT
    what leaves on `public`, forward from `bridge` and replies back, protect the node itself.
    One addition: labhost may open connections to the flat network (its floating IPs) — in
    the seed it used the network node as an SSH jump host instead."""
    reach = [f"-A FORWARD -i {public} -o {bridge} -d {cidr} -j ACCEPT"] if cidr else []
    return "\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]", f"-A POSTROUTING -o {public} -j MASQUERADE", "COMMIT",
        "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
        f"-A FORWARD -i {bridge} -j ACCEPT",
        f"-A FORWARD -i {public} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        *reach,
        f"-A INPUT -i {public} -p tcp -m tcp --dport 22 -j ACCEPT",
        f"-A INPUT -i {public} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A INPUT -i {public} -j DROP",
        f"-A INPUT -i {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A INPUT -i {bridge} -p icmp -j ACCEPT",
        f"-A INPUT -i {bridge} -j DROP",
        "COMMIT", ""])


# --- wiring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """One veth: `host_end` (named as the topology says) in `host`, `fabric_end` on the
    fabric bridge of `network`."""

    host: str
    host_end: str
    network: str
    fabric_end: str


@dataclass
class FabricPlan:
    bridges: dict[str, str]  # lab network -> Linux bridge name in the fabric capsule
    wires: list[Wire]
    root_link: str  # this machine's end of its management veth
    root_peer: str
    root_address: str


def fabric_plan(topo: Topology) -> FabricPlan:
    bridges = {net.name: f"s{n}-{net.name}"[:15] for n, net in enumerate(topo.networks)}
    index = {net.name: n for n, net in enumerate(topo.networks)}
    wires, taken = [], set()
    for h, host in enumerate(topo.hosts):
        for iface in host.interfaces:
            name = f"{host.name[:12]}-{index[iface.network]}"
            if name in taken:
                name = f"h{h}-{index[iface.network]}"
            taken.add(name)
            wires.append(Wire(host.name, iface.name, iface.network, name))
    mgmt = topo.management
    return FabricPlan(bridges=bridges, wires=wires, root_link=root_link_name(topo.name),
                      root_peer="this-machine", root_address=mgmt.this_machine)


def root_link_name(lab: str) -> str:
    """This machine's only lab device: its veth onto the management network."""
    return f"fl-{lab}"[:15]


# --- a capsule's own filesystem -------------------------------------------------------


def mount_script(*, hostname: str, state: str, logs: str,
                 private: tuple[str, ...] = ("/etc", "/var")) -> str:
    """Shell commands run inside a new capsule (its mount namespace is a private copy of
    its parent's) giving it the file system of a host of its own:

    - a fresh tmpfs on /run (its own /run/netns, /run/openvswitch), holding binds of
      `state` at /run/fermion/host (a real file system: overlays' upper layers live there,
      and guests' later — an upper layer cannot be an overlay) and of `logs` at
      /run/fermion/log; the tmpfs is prepared under `state` and moved onto /run, so no path
      is looked up through an overlay;
    - each of `private` as an overlay: the machine's files readable, writes its own;
    - /var/log = `logs`, which outlives the lab (`fermion lab down` keeps it);
    - /sys for its own network namespace (device lists, as `ip netns exec` does).
    """
    q = shlex.quote
    stage = f"{state}/.run"
    lines = ["set -e", f"mkdir -p {q(stage)} {q(logs)}",
             f"mount -n -t tmpfs -o mode=0755 tmpfs {q(stage)}",
             f"mkdir -p {q(stage)}/fermion/host {q(stage)}/fermion/log "
             f"{q(stage)}/fermion/guests {q(stage)}/netns {q(stage)}/lock",
             f"mount -n --bind {q(state)} {q(stage)}/fermion/host",
             f"mount -n --bind {q(logs)} {q(stage)}/fermion/log",
             f"mount -n --move {q(stage)} /run"]
    for path in private:
        name = path.strip("/").replace("/", "-")
        up, work = f"/run/fermion/host/{name}.upper", f"/run/fermion/host/{name}.work"
        lines += [f"mkdir -p {up} {work}",
                  f"mount -n -t overlay overlay -o lowerdir={path},upperdir={up},workdir={work} "
                  f"{path}"]
    lines += ["mkdir -p /var/log", "mount -n --bind /run/fermion/log /var/log",
              "umount -n -l /sys", "mount -n -t sysfs sysfs /sys",
              f"hostname {q(hostname)}", f"echo {q(hostname)} >/etc/hostname",
              "ip link set lo up"]
    return "\n".join(lines) + "\n"


def network_of(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(cidr, strict=False)
