"""Security group rules as flows: br-int table 72 (egress) and 82 (ingress), pure functions.

Protocols arrive as IANA numbers computed by the server (``SGRule.protocol``); nothing here
reads a protocol name. What a rule matches, by its number:

- None or 0 (the API's ``any``, ``ip``, ``hopopt``, ``0``): every IP packet of the rule's
  ethertype. IANA 0 is no protocol OVS ever sees (IPv4 has none; for IPv6, OVS, like
  ip6tables ``-p``, skips extension headers to the upper-layer one), so, as iptables'
  ``-p 0`` does, it means all of them;
- any other number N: ``nw_proto=N`` (for IPv6 the upper-layer header after the
  extension headers, which is why IPv6 rules for the extension headers themselves,
  ``ipv6-route``/``-frag``/``-opts``/``ah``, match no real packet, as in Neutron);
- TCP, UDP, SCTP (6, 17, 132) with a port range: the destination port, as value/mask
  pieces (:func:`port_range_masks`);
- DCCP, UDP-Lite (33, 136) with a port range: OVS 3.1 does not parse their ports (it
  drops a ``tp_dst`` on them from the flow), so, as Neutron's OVS firewall does, the rule
  admits that protocol on every port;
- ICMP / ICMPv6 (1, 58): ``port_range_min`` is the type and ``port_range_max`` the code
  (Neutron's meaning), either may be absent;
- ``remote_ip_prefix`` matches the source (ingress) or destination (egress) address; a
  ``/0`` prefix is no constraint.
"""

from __future__ import annotations

import ipaddress

from fermion.agent import cookies
from fermion.agent.cookies import Kind
from fermion.agent.flows import Flow, make
from fermion.agent.l2_model import HostModel, Port, SGRule
from fermion.agent.pipeline import BR_INT, goto

ZONE = "NXM_NX_REG6[0..15]"
ICMP, ICMPV6 = 1, 58
PORT_PROTOCOLS = frozenset({6, 17, 132})  # OVS matches tp_dst for these
PORTLESS_IN_OVS = frozenset({33, 136})  # DCCP, UDP-Lite: ports not parsed by OVS
ANY_PROTOCOL = (None, 0)
RULE_PRIORITY = 70


def port_range_masks(lo: int, hi: int) -> list[str]:
    """``tp_dst`` values covering [lo, hi] with value/mask pairs (exact when lo == hi)."""
    if lo == hi:
        return [str(lo)]
    out = []
    while lo <= hi:
        size = lo & -lo if lo else 1 << 16
        while size > hi - lo + 1:
            size >>= 1
        out.append(f"{lo:#x}/{(0xFFFF & ~(size - 1)):#x}")
        lo += size
    return out


def family(rule: SGRule) -> str:
    return "ipv6" if rule.ethertype == "IPv6" else "ip"


def protocol_matches(rule: SGRule) -> list[dict]:
    """The rule's ethertype, protocol and port/type matches: one dict per flow needed."""
    base: dict = {family(rule): None}
    proto = rule.protocol
    if proto in ANY_PROTOCOL:
        return [base]
    base["nw_proto"] = proto
    lo, hi = rule.port_range_min, rule.port_range_max
    if proto in PORT_PROTOCOLS and lo is not None:
        return [dict(base, tp_dst=m) for m in port_range_masks(lo, hi if hi is not None else lo)]
    if proto in (ICMP, ICMPV6) and lo is not None:
        return [dict(base, icmp_type=lo, **({} if hi is None else {"icmp_code": hi}))]
    return [base]


def remote_field(rule: SGRule) -> str:
    """The address field a remote prefix or group constrains: the peer's address."""
    prefix = "ipv6_" if rule.ethertype == "IPv6" else "nw_"
    return prefix + ("dst" if rule.direction == "egress" else "src")


def prefix_text(addr: str) -> str | None:
    """``addr`` as OVS prints it (host address without /32, /128); None for a /0."""
    net = ipaddress.ip_network(addr, strict=False)
    if net.prefixlen == 0:
        return None
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def sg_rule_flows(model: HostModel, port: Port) -> list[Flow]:
    """Tables 72/82: one flow per (rule, remote address, port-range piece) of the port."""
    flows = []
    for sg in port.security_groups:
        for rule in model.sg_rules.get(sg, ()):
            flows += _rule_flows(model, port, rule)
    return flows


def _rule_flows(model: HostModel, port: Port, rule: SGRule) -> list[Flow]:
    B, c = BR_INT, cookies.cookie(Kind.SG_RULE, rule.id)
    table, nxt = (72, 73) if rule.direction == "egress" else (82, 92)
    base: dict = {"ct_state": "+new-est+trk", "reg5": port.ofport}
    remotes: list[str | None] = [None]
    if rule.remote_ip_prefix:
        remotes = [prefix_text(rule.remote_ip_prefix)]
    elif rule.remote_group_id:
        members = model.sg_members.get(rule.remote_group_id, ())
        v6 = rule.ethertype == "IPv6"
        remotes = [prefix_text(ip) for ip in members if (":" in ip) == v6]
    actions = ([goto(B, table, nxt)] if table == 72
               else [f"ct(commit,zone={ZONE})", goto(B, table, nxt)])
    flows = []
    for remote in remotes:
        for piece in protocol_matches(rule):
            match = dict(base, **piece)
            if remote is not None:
                match[remote_field(rule)] = remote
            flows.append(make(B, table, RULE_PRIORITY, match, actions, c))
    return flows
