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

Rules with a ``remote_group_id`` are conjunctive matches, as in Neutron's OVS firewall, so
flows grow with rules + members instead of rules x members:

- per port and rule, dimension 2: ``reg5=<port>`` + protocol/ports (+ ``ct_state`` new) ->
  ``conjunction(id,2/2)``; flows with the same match (rules of several groups) carry all
  their ``conjunction`` actions;
- per member address, dimension 1, shared by every local port: the address as source
  (ingress) or destination (egress) -> ``conjunction(id,1/2)`` for each id whose remote
  group has that member (cookie: the address, so a member joining or leaving changes
  only its own address flows);
- per id, ``conj_id=<id>`` accepts (cookie: the rule's group).

An id stands for (group, remote group, direction, ethertype, stateful) — the same for all
local ports of the group — and is derived from that key (a hash, probing past collisions
in key order), so it does not depend on which ports exist. Conjunctive flows sit at
priority 71, above the plain rule flows (70), so a packet that completes no conjunction
falls back to them, and below the established/invalid flows (75/80).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping

from fermion.agent import cookies
from fermion.agent.actions import Conjunction, Ct
from fermion.agent.cookies import Kind
from fermion.agent.flows import Flow, make
from fermion.agent.l2_model import HostModel, Port, SGRule
from fermion.agent.pipeline import BR_INT, goto

ICMP, ICMPV6 = 1, 58
PORT_PROTOCOLS = frozenset({6, 17, 132})  # OVS matches tp_dst for these
PORTLESS_IN_OVS = frozenset({33, 136})  # DCCP, UDP-Lite: ports not parsed by OVS
ANY_PROTOCOL = (None, 0)
RULE_PRIORITY = 70
CONJ_PRIORITY = 71
NEW = "+new-est+trk"
MAX_CONJ_ID = 0x7FFFFFFF

ConjKey = tuple[str, str, str, str, bool]  # group, remote group, direction, ethertype, stateful


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


def family(ethertype: str) -> str:
    return "ipv6" if ethertype == "IPv6" else "ip"


def protocol_matches(rule: SGRule) -> list[dict]:
    """The rule's ethertype, protocol and port/type matches: one dict per flow needed."""
    base: dict = {family(rule.ethertype): None}
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


def remote_field(direction: str, ethertype: str) -> str:
    """The address field a remote prefix or group constrains: the peer's address."""
    prefix = "ipv6_" if ethertype == "IPv6" else "nw_"
    return prefix + ("dst" if direction == "egress" else "src")


def prefix_text(addr: str) -> str | None:
    """``addr`` as OVS prints it (host address without /32, /128); None for a /0."""
    net = ipaddress.ip_network(addr, strict=False)
    if net.prefixlen == 0:
        return None
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _tables(direction: str) -> tuple[int, int]:
    return (72, 73) if direction == "egress" else (82, 92)


def _accept(direction: str, stateful: bool) -> list:
    table, nxt = _tables(direction)
    jump = goto(BR_INT, table, nxt)
    return [Ct(commit=True), jump] if stateful and direction == "ingress" else [jump]


def _rules(model: HostModel, port: Port) -> Iterable[tuple[str, SGRule]]:
    for sg in port.security_groups:
        for rule in model.sg_rules.get(sg, ()):
            yield sg, rule


# -- conjunction ids -------------------------------------------------------------------------


def port_conj_keys(model: HostModel, port: Port) -> list[ConjKey]:
    stateful = model.stateful(port)
    return sorted({(sg, r.remote_group_id, r.direction, r.ethertype, stateful)
                   for sg, r in _rules(model, port) if r.remote_group_id})


def conj_ids(keys: Iterable[ConjKey]) -> dict[ConjKey, int]:
    """A conjunction id per key: a hash of the key, the next free one on a collision."""
    ids: dict[ConjKey, int] = {}
    used: set[int] = set()
    for key in sorted(set(keys)):
        digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
        cid = int.from_bytes(digest[:4], "big") % MAX_CONJ_ID + 1
        while cid in used:
            cid = cid % MAX_CONJ_ID + 1
        used.add(cid)
        ids[key] = cid
    return ids


def host_conj_ids(model: HostModel) -> dict[ConjKey, int]:
    """The conjunction ids of every remote group rule of the host's protected ports."""
    return conj_ids(key for port in model.ports if port.port_security_enabled
                    and port.network_id in model.networks
                    for key in port_conj_keys(model, port))


# -- per port --------------------------------------------------------------------------------


def port_sg_flows(model: HostModel, port: Port, ids: Mapping[ConjKey, int]) -> list[Flow]:
    """Tables 72/82 for one port: its plain rule flows and its conjunction dimension 2."""
    stateful = model.stateful(port)
    base: dict = {"reg5": port.ofport, **({"ct_state": NEW} if stateful else {})}
    flows: list[Flow] = []
    conj: dict[tuple, list] = {}  # (table, match) -> [ids, owner rule id]
    for sg, rule in _rules(model, port):
        table, _ = _tables(rule.direction)
        c = cookies.cookie(Kind.SG_RULE, rule.id)
        if rule.remote_group_id:
            cid = ids[(sg, rule.remote_group_id, rule.direction, rule.ethertype, stateful)]
            for piece in protocol_matches(rule):
                entry = conj.setdefault((table, tuple(sorted({**base, **piece}.items()))),
                                        [set(), rule.id])
                entry[0].add(cid)
                entry[1] = min(entry[1], rule.id)
            continue
        remote = prefix_text(rule.remote_ip_prefix) if rule.remote_ip_prefix else None
        for piece in protocol_matches(rule):
            match = {**base, **piece}
            if remote is not None:
                match[remote_field(rule.direction, rule.ethertype)] = remote
            flows.append(make(BR_INT, table, RULE_PRIORITY, match,
                              _accept(rule.direction, stateful), c))
    for (table, match), (group, owner) in sorted(conj.items()):
        flows.append(make(BR_INT, table, CONJ_PRIORITY, dict(match),
                          [Conjunction(cid, 2, 2) for cid in sorted(group)],
                          cookies.cookie(Kind.SG_RULE, owner)))
    return flows


# -- shared by the host's ports --------------------------------------------------------------


def shared_sg_flows(model: HostModel, ids: Mapping[ConjKey, int]) -> list[Flow]:
    """Each conjunction's accept flow and each member address's dimension-1 flow."""
    flows = []
    by_address: dict[tuple[str, str, str], list] = {}  # -> [ids, owner address]
    for (sg, remote, direction, ethertype, stateful), cid in sorted(ids.items()):
        table, _ = _tables(direction)
        accept = {"conj_id": cid, family(ethertype): None}
        flows.append(make(BR_INT, table, CONJ_PRIORITY, accept,
                          _accept(direction, stateful), cookies.cookie(Kind.SG, sg)))
        v6 = ethertype == "IPv6"
        for address in model.sg_members.get(remote, ()):
            if (":" in address) == v6:
                entry = by_address.setdefault(
                    (direction, ethertype, prefix_text(address) or ""), [set(), address])
                entry[0].add(cid)
                entry[1] = min(entry[1], address)
    for (direction, ethertype, prefix), (group, address) in sorted(by_address.items()):
        table, _ = _tables(direction)
        match: dict = {family(ethertype): None}
        if prefix:
            match[remote_field(direction, ethertype)] = prefix
        flows.append(make(BR_INT, table, CONJ_PRIORITY, match,
                          [Conjunction(cid, 1, 2) for cid in sorted(group)],
                          cookies.cookie(Kind.SG_ADDRESS, address)))
    return flows
