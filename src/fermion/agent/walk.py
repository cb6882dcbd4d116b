"""A tiny offline OpenFlow table walker: where does this packet go through these flows?

Enough of OVS semantics for the agent's own flows (matches on L2/L3/L4 fields with masks,
registers, ct_state; actions resubmit, output, NORMAL, VLAN push/rewrite/strip, set_tunnel,
reg loads, ct(), learn() recorded but not executed). Tests assert behaviour with it —
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
from fermion.agent.flows import Flow

ETH_ARP, ETH_IP, ETH_IPV6 = 0x0806, 0x0800, 0x86DD
_SHORTHAND = {
    "arp": (ETH_ARP, None), "ip": (ETH_IP, None), "ipv6": (ETH_IPV6, None),
    "icmp": (ETH_IP, 1), "icmp6": (ETH_IPV6, 58), "tcp": (ETH_IP, 6), "tcp6": (ETH_IPV6, 6),
    "udp": (ETH_IP, 17), "udp6": (ETH_IPV6, 17), "sctp": (ETH_IP, 132), "sctp6": (ETH_IPV6, 132),
}
_ADDR = {"arp_spa", "arp_tpa", "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nd_target"}
_REG_LOAD = re.compile(r"^load:(0x[0-9a-f]+)->NXM_NX_REG(\d+)\[\]$")


@dataclass
class Walk:
    outputs: list[tuple[object, dict]] = field(default_factory=list)  # (port|"NORMAL", pkt)
    path: list[Flow] = field(default_factory=list)
    learned: list[str] = field(default_factory=list)
    committed: bool = False

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


def lookup(flows: Iterable[Flow], table: int, pkt: dict) -> Flow | None:
    best = None
    for f in flows:
        if f.table == table and flow_matches(f, pkt) and (best is None or
                                                          f.priority > best.priority):
            best = f
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
        if m := re.fullmatch(r"resubmit\(,(\d+)\)", action):
            pkt = _run(flows, pkt, int(m.group(1)), result, depth + 1)
        elif action.startswith("output:") and action[7:].isdigit():
            result.outputs.append((int(action[7:]), dict(pkt)))
        elif action == "IN_PORT":
            result.outputs.append((pkt.get("in_port"), dict(pkt)))
        elif action == "NORMAL":
            result.outputs.append(("NORMAL", dict(pkt)))
        elif action.startswith("mod_vlan_vid:"):
            pkt["dl_vlan"] = int(action.split(":")[1])
        elif action == "strip_vlan":
            pkt["dl_vlan"] = None
        elif action.startswith("set_tunnel:"):
            pkt["tun_id"] = int(action.split(":")[1], 0)
        elif action.startswith("mod_dl_src:"):
            pkt["dl_src"] = action.split(":", 1)[1]
        elif m := _REG_LOAD.match(action):
            pkt[f"reg{m.group(2)}"] = int(m.group(1), 16)
        elif action.startswith("ct("):
            inner = action[3:-1]
            if "commit" in inner.split(","):
                result.committed = True
            if m := re.search(r"table=(\d+)", inner):
                pkt["ct_state"] = pkt.get("ct", "+trk+new")
                pkt = _run(flows, pkt, int(m.group(1)), result, depth + 1)
        elif action.startswith("learn("):
            result.learned.append(action)
    return pkt
