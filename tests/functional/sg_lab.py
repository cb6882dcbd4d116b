"""A live host for security group tests (used by test_sg_*.py), one per test module.

One simulated host (namespace + its own userspace OVS) and a real server; on one network two
instances: ``vm1``, whose port has port security (the rules under test), and ``vm2``, whose
port has none, so only vm1's firewall decides. The L2 agent's own applier runs in-process on
snapshots the server made (or variants of them: vm1 in another group), so the server's
protocol numbers, the compiler, the flow diff and OVS are all real; verdicts come from
``ofproto/trace`` on the live br-int, and the same packet can be walked offline.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from fermion.agent.l2_apply import L2Applier, int_ports
from fermion.agent.l2_flows import compile_all, link_local
from fermion.agent.l2_model import HostModel
from fermion.agent.l2_plan import L2Config
from fermion.agent.walk import ETH_IP, ETH_IPV6, walk
from fermion.lab.host import Host, Instance
from tests.functional.test_l2_agent import make_network, plug

NET_CIDR = "10.0.7.0/24"
OUTPUT = re.compile(r"(?:^|,)\d+(?:,|$)")  # a datapath output port among the actions


@dataclass(frozen=True)
class Probe:
    """One packet between vm1 and a peer address, as seen from vm1's firewall."""

    direction: str  # ingress: peer -> vm1; egress: vm1 -> peer
    ethertype: str
    proto: int
    peer: str
    fields: tuple[tuple[str, int], ...] = ()  # tp_src/tp_dst/icmp_type/icmp_code
    established: bool = False

    def with_(self, **changes) -> Probe:
        fields = dict(self.fields)
        fields.update(changes.pop("fields", {}))
        return Probe(**{**self.__dict__, **changes, "fields": tuple(sorted(fields.items()))})


def probe(direction: str, ethertype: str, proto: int, peer: str, *, established=False,
          **fields: int) -> Probe:
    return Probe(direction, ethertype, proto, peer, tuple(sorted(fields.items())), established)


def _trace_field(key: str, proto: int, v6: bool) -> str:
    """The name ``ofproto/trace`` takes for a field (it wants the protocol's own names)."""
    if key.startswith("tp_"):
        return {6: "tcp", 17: "udp", 132: "sctp"}[proto] + key[2:]
    if key.startswith("icmp_") and v6:
        return "icmpv6_" + key[5:]
    return key


class SgHost:
    def __init__(self, api, host: Host):
        self.api, self.host = api, host
        self.applier = L2Applier(host.ovs, L2Config(host=host.name))
        self.net = make_network(api, "sg", NET_CIDR)
        self.p1 = self.port(security_groups=[])
        self.p2 = self.port(port_security_enabled=False, security_groups=[])
        self.apply()  # makes br-int
        self.vm1: Instance = plug(host, "vm1", self.p1)
        self.vm2: Instance = plug(host, "vm2", self.p2)
        self.base = self.apply()
        self.of1, self.of2 = host.ovs.ofport(self.vm1.port), host.ovs.ofport(self.vm2.port)

    # -- the API side ------------------------------------------------------------------------
    def port(self, **attrs) -> dict:
        r = self.api.post("/v2.0/ports", json={"port": {
            "network_id": self.net, "binding:host_id": self.host.name, **attrs}})
        assert r.status_code == 201, r.text
        return r.json()["port"]

    def groups(self, rules_per_group: list[list[dict]], *, stateful: bool = True,
               keep_egress: bool = False) -> list[str]:
        """Groups holding exactly these rules (made in bulk), and a port on the host that
        uses them, so the host's snapshot carries them."""
        r = self.api.post("/v2.0/security-groups", json={"security_groups": [
            {"name": f"case{i}", "stateful": stateful} for i in range(len(rules_per_group))]})
        assert r.status_code == 201, r.text
        groups = r.json()["security_groups"]
        if not keep_egress:  # a new group starts with egress-anywhere rules
            for g in groups:
                for rule in g["security_group_rules"]:
                    assert self.api.delete(f"/v2.0/security-group-rules/{rule['id']}"
                                           ).status_code == 204
        rules = [{**rule, "security_group_id": g["id"]}
                 for g, group_rules in zip(groups, rules_per_group, strict=True)
                 for rule in group_rules]
        if rules:
            r = self.api.post("/v2.0/security-group-rules",
                              json={"security_group_rules": rules})
            assert r.status_code == 201, r.text
        ids = [g["id"] for g in groups]
        self.port(security_groups=ids)  # never plugged: only there for the snapshot
        return ids

    def snapshot(self) -> dict:
        r = self.api.get("/v2.0/fermion/snapshot", params={"host": self.host.name})
        assert r.status_code == 200, r.text
        return r.json()["snapshot"]

    # -- the host side -----------------------------------------------------------------------
    def apply(self, snapshot: dict | None = None, vm1_groups: list[str] | None = None) -> dict:
        """Converge the host to ``snapshot`` (the server's now by default) with vm1's port in
        ``vm1_groups``; returns the snapshot applied."""
        snap = copy.deepcopy(snapshot if snapshot is not None else self.snapshot())
        if vm1_groups is not None:
            for p in snap["ports"]:
                if p["id"] == self.p1["id"]:
                    p["security_groups"] = list(vm1_groups)
        result = self.applier.reconcile(snap)
        assert not result.errors, result.errors
        self.applied = snap
        return snap

    def model(self) -> HostModel:
        """The model of what was applied last (ofports and VLANs as on the host)."""
        state = self.host.ovs.state()
        ports = int_ports(state)
        ofports = {p.iface_id: p.ofport for p in ports.values() if p.iface_id}
        vlans = {p.net_uuid: p.tag for p in ports.values() if p.net_uuid}
        return HostModel.from_snapshot(self.applied, ofports=ofports, local_vlans=vlans)

    def vm1_address(self, ethertype: str) -> str:
        return self.vm1.ip if ethertype == "IPv4" else link_local(self.vm1.mac)

    def _ends(self, p: Probe) -> tuple[int, str, str, str, str]:
        mine = self.vm1_address(p.ethertype)
        if p.direction == "ingress":
            return self.of2, self.vm2.mac, self.vm1.mac, p.peer, mine
        return self.of1, self.vm1.mac, self.vm2.mac, mine, p.peer

    def trace(self, p: Probe) -> bool:
        """Does ``ofproto/trace`` on the live br-int deliver the packet? (conntrack state:
        new, or established with ``p.established``)"""
        in_port, src_mac, dst_mac, src, dst = self._ends(p)
        v6 = p.ethertype == "IPv6"
        fam, a = ("ipv6", "ipv6_") if v6 else ("ip", "nw_")
        flow = (f"in_port={in_port},{fam},dl_src={src_mac},dl_dst={dst_mac},{a}src={src},"
                f"{a}dst={dst},nw_proto={p.proto}")
        flow += "".join(f",{_trace_field(k, p.proto, v6)}={v}" for k, v in p.fields)
        state = "trk,est" if p.established else "trk,new"
        out = self.host.ovs.appctl("ofproto/trace", "br-int", flow, "--ct-next", state,
                                   "--ct-next", state)
        actions = re.findall(r"^Datapath actions: (.*)$", out, re.M)
        return bool(actions) and bool(OUTPUT.search(actions[-1]))

    def walk(self, p: Probe, model: HostModel | None = None) -> bool:
        """The offline walker's verdict for the same packet through the compiled flows."""
        model = model or self.model()
        in_port, src_mac, dst_mac, src, dst = self._ends(p)
        v6 = p.ethertype == "IPv6"
        a = "ipv6_" if v6 else "nw_"
        pkt = {"in_port": in_port, "dl_src": src_mac, "dl_dst": dst_mac, "dl_vlan": None,
               "dl_type": ETH_IPV6 if v6 else ETH_IP, "nw_proto": p.proto, f"{a}src": src,
               f"{a}dst": dst, "ct": "+trk+est" if p.established else "+trk+new",
               **dict(p.fields)}
        w = walk(compile_all(model)["br-int"], pkt)
        target = self.of1 if p.direction == "ingress" else self.of2
        return w.is_output(target) or (p.direction == "egress" and w.is_output("NORMAL"))
