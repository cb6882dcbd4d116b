"""A tiny offline OpenFlow table walker: where does this packet go through these flows?

Enough of OVS semantics for the agent's own flows (matches on L2/L3/L4 fields with masks,
registers, ct_state, conjunctive matches; actions resubmit, output, NORMAL, VLAN
push/rewrite/strip, set_tunnel, reg loads, ct(), ct_clear, learn() recorded but not
executed), read from the typed actions (:mod:`fermion.agent.actions`), never their text. Tests assert behaviour with it —
"this packet leaves on port Y with VLAN Z" — as Faucet's ``FakeOFTable.is_output`` does, and
``fermion trace`` can reuse it to name the owner of every flow on the path.

A packet is a dict: ``in_port``, ``dl_src``, ``dl_dst``, ``dl_vlan`` (None = untagged),
``dl_type``, ``nw_proto``, ``nw_src``/``nw_dst``/``ipv6_src``/``ipv6_dst``, ``arp_op``,
``arp_spa``/``arp_tpa``, ``nd_target``, ``icmp_type``, ``tp_src``/``tp_dst``, ``tun_id``,
``ct`` (the conntrack state a ``ct()`` lookup will find, default ``+trk+new``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from fermion.agent import cookies, pipeline
from fermion.agent.actions import (
    Conjunction,
    Ct,
    CtClear,
    Learn,
    LoadReg,
    Output,
    Port,
    Resubmit,
    SetDlSrc,
    SetTunnel,
    SetVlan,
    StripVlan,
)
from fermion.agent.flows import Flow

ETH_ARP, ETH_IP, ETH_IPV6 = 0x0806, 0x0800, 0x86DD
_SHORTHAND = {
    "arp": (ETH_ARP, None), "ip": (ETH_IP, None), "ipv6": (ETH_IPV6, None),
    "icmp": (ETH_IP, 1), "icmp6": (ETH_IPV6, 58), "tcp": (ETH_IP, 6), "tcp6": (ETH_IPV6, 6),
    "udp": (ETH_IP, 17), "udp6": (ETH_IPV6, 17), "sctp": (ETH_IP, 132), "sctp6": (ETH_IPV6, 132),
}
_ADDR = {"arp_spa", "arp_tpa", "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nd_target"}


@dataclass
class Walk:
    outputs: list[tuple[object, dict]] = field(default_factory=list)  # (port|"NORMAL", pkt)
    path: list[Flow] = field(default_factory=list)
    learned: list[str] = field(default_factory=list)
    committed: bool = False  # a ct(commit) ran
    tracked: bool = False  # a ct(table=...) lookup ran

    def is_output(self, port=None, vlan="any") -> bool:
        """True when the packet leaves on ``port`` (an ofport or "NORMAL") with ``vlan``."""
        return any((port is None or p == port) and (vlan == "any" or pkt.get("dl_vlan") == vlan)
                   for p, pkt in self.outputs)

    @property
    def dropped(self) -> bool:
        return not self.outputs

    @property
    def tables(self) -> list[int]:
        return [f.table for f in self.path]

    def explain(self, owners: Iterable[str] = ()) -> list[str]:
        """One line per flow on the path: table name, priority, owner, actions."""
        owners = list(owners)
        lines = []
        for f in self.path:
            owner = cookies.decode(f.cookie)
            who = cookies.resolve(f.cookie, owners) or (str(owner) if owner else
                                                        f"foreign:{f.cookie:#x}")
            if owner is not None and who in owners:
                who = f"{owner.kind.name.lower()}:{who}"
            name = pipeline.table(f.bridge, f.table).name
            lines.append(f"{f.bridge} {f.table:>2} {name:<20} p={f.priority:<5} {who:<24} "
                         f"{','.join(f.actions)}")
        outs = ", ".join(f"{p} vlan={pkt.get('dl_vlan')}" for p, pkt in self.outputs)
        lines.append(f"=> {outs or 'dropped'}")
        return lines


def _mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


def _masked(value: int, spec: str, parse=lambda s: int(s, 0)) -> bool:
    want, _, mask = spec.partition("/")
    m = parse(mask) if mask else -1
    return value & m == parse(want) & m


def field_matches(key: str, want: str | None, pkt: dict) -> bool:
    if key in _SHORTHAND:
        dl_type, proto = _SHORTHAND[key]
        return pkt.get("dl_type") == dl_type and (proto is None or pkt.get("nw_proto") == proto)
    if key == "vlan_tci":
        vid = pkt.get("dl_vlan")
        return _masked(0 if vid is None else 0x1000 | vid, want)
    if key in ("dl_src", "dl_dst"):
        return pkt.get(key) is not None and _masked(_mac_int(pkt[key]), want, _mac_int)
    if key == "ct_state":
        have = set(re.findall(r"\+([a-z]+)", pkt.get("ct_state", "")))
        for sign, flag in re.findall(r"([+-])([a-z]+)", want):
            if (flag in have) != (sign == "+"):
                return False
        return True
    value = pkt.get(key)
    if value is None:
        return False
    if key in _ADDR:
        return ipaddress.ip_address(value) in ipaddress.ip_network(want, strict=False)
    if isinstance(value, int):
        return _masked(value, want)
    return str(value).lower() == str(want).lower()


def flow_matches(flow: Flow, pkt: dict) -> bool:
    return all(field_matches(k, v, pkt) for k, v in flow.match)


def _conjunctions(flow: Flow) -> list[Conjunction]:
    return [a for a in flow.actions if isinstance(a, Conjunction)]


def lookup(flows: Iterable[Flow], table: int, pkt: dict) -> Flow | None:
    """The flow OVS would pick in ``table``: the highest-priority matching one, where
    flows with ``conjunction`` actions count only as a whole conjunctive match (one
    matching flow from each dimension) at a priority above the best plain flow, and then
    stand for the ``conj_id=<id>`` flow that the match finds."""
    matching = [f for f in flows if f.table == table and flow_matches(f, pkt)]
    plain = [f for f in matching if not _conjunctions(f)]
    best = max(plain, key=lambda f: f.priority, default=None)
    floor = best.priority if best is not None else -1
    for priority in sorted({f.priority for f in matching if _conjunctions(f)}, reverse=True):
        if priority <= floor:
            break
        dims: dict[int, set[int]] = {}
        need: dict[int, int] = {}
        for f in matching:
            if f.priority == priority:
                for conj in _conjunctions(f):
                    dims.setdefault(conj.id, set()).add(conj.k)
                    need[conj.id] = conj.n
        for cid in sorted(c for c, ks in dims.items() if len(ks) == need[c]):
            found = lookup([f for f in flows if dict(f.match).get("conj_id") == str(cid)],
                           table, {**pkt, "conj_id": cid})
            if found is not None:
                return found
    return best


def walk(flows: Iterable[Flow], pkt: dict, table: int = 0) -> Walk:
    flows = list(flows)
    result = Walk()
    _run(flows, dict(pkt), table, result, 0)
    return result


def _run(flows: list[Flow], pkt: dict, table: int, result: Walk, depth: int) -> dict:
    if depth > 64:
        raise RuntimeError("resubmit loop")
    flow = lookup(flows, table, pkt)
    if flow is None:
        return pkt
    result.path.append(flow)
    for action in flow.actions:
        pkt = _act(flows, action, pkt, result, depth)
    return pkt


def _act(flows: list[Flow], action, pkt: dict, result: Walk, depth: int) -> dict:
    if isinstance(action, Resubmit):
        return _run(flows, pkt, action.table, result, depth + 1)
    if isinstance(action, Output):
        result.outputs.append((action.port, dict(pkt)))
    elif isinstance(action, Port):
        port = pkt.get("in_port") if action.name == "IN_PORT" else action.name
        result.outputs.append((port, dict(pkt)))
    elif isinstance(action, SetVlan):
        pkt["dl_vlan"] = action.vid
    elif isinstance(action, StripVlan):
        pkt["dl_vlan"] = None
    elif isinstance(action, SetTunnel):
        pkt["tun_id"] = action.tun_id
    elif isinstance(action, SetDlSrc):
        pkt["dl_src"] = action.mac
    elif isinstance(action, LoadReg):
        pkt[f"reg{action.reg}"] = action.value
    elif isinstance(action, CtClear):
        pkt.pop("ct_state", None)
    elif isinstance(action, Ct):
        if action.commit:
            result.committed = True
        if action.table is not None:
            pkt["ct_state"] = pkt.get("ct", "+trk+new")
            result.tracked = True
            return _run(flows, pkt, action.table, result, depth + 1)
    elif isinstance(action, Learn):
        result.learned.append(action)
    return pkt
