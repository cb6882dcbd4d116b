"""The OpenFlow pipeline of the L2 agent, declared once.

Table numbers and meanings follow the seed (and Neutron's OVS agent constants). Each table
lists the tables it may jump to; :func:`goto` (``resubmit``) and :func:`ct_goto`
(``ct(table=…)``) build the jump actions and refuse any jump the declaration does not allow,
as Faucet's ``ValveTable.goto()`` does; :func:`fermion.agent.flows.make` checks every jump
of every flow again.
"""

from __future__ import annotations

from dataclasses import dataclass

from fermion.agent.actions import ZONE, Ct, Resubmit

BR_INT = "br-int"
BR_TUN = "br-tun"
BR_PHYS = "br-phys"  # the role of every physnet bridge, whatever its name


class PipelineError(ValueError):
    """A flow names an undeclared table or jumps where its table may not go."""


@dataclass(frozen=True)
class Table:
    bridge: str
    number: int
    name: str
    purpose: str
    next_tables: frozenset[int] = frozenset()
    learns_into: frozenset[int] = frozenset()


def _t(bridge, number, name, purpose, nxt=(), learns=()):
    return Table(bridge, number, name, purpose, frozenset(nxt), frozenset(learns))


_TABLES = (
    # br-int
    _t(BR_INT, 0, "LOCAL_SWITCHING",
       "local switching: drop reserved VLAN 4095, local<->global VLAN translation for "
       "traffic from physnet bridges, send instance traffic to anti-spoofing",
       (24, 25, 60)),
    _t(BR_INT, 23, "CANARY", "canary: an empty table proving OVS kept our flows (drop)"),
    _t(BR_INT, 24, "ARP_SPOOF",
       "ARP/ND anti-spoofing: ARP sender and ND target must be one of the port's addresses",
       (25, 60)),
    _t(BR_INT, 25, "MAC_SPOOF",
       "MAC anti-spoofing: source MAC must be the port's MAC or an address pair's MAC",
       (60,)),
    _t(BR_INT, 60, "TRANSIENT",
       "transient: mark a port's traffic (reg5=ofport, reg6=local VLAN) and hand it to the "
       "firewall, or NORMAL for everything else",
       (71, 73, 81)),
    _t(BR_INT, 71, "BASE_EGRESS",
       "firewall egress base: per-port address checks, DHCP client allowed, conntrack",
       (72, 73, 93, 94)),
    _t(BR_INT, 72, "RULES_EGRESS",
       "firewall egress: security group rules (remote groups as conjunctions)", (73, 93)),
    _t(BR_INT, 73, "ACCEPT_OR_INGRESS",
       "firewall: commit accepted egress, or turn local-destination traffic to ingress",
       (81, 91, 93)),
    _t(BR_INT, 81, "BASE_INGRESS", "firewall ingress base: ARP/ND to the port, conntrack",
       (82, 92, 93)),
    _t(BR_INT, 82, "RULES_INGRESS",
       "firewall ingress: security group rules (remote groups as conjunctions)", (92, 93)),
    _t(BR_INT, 91, "ACCEPTED_EGRESS", "accepted egress traffic", (94,)),
    _t(BR_INT, 92, "ACCEPTED_INGRESS", "accepted ingress traffic: output to the port"),
    _t(BR_INT, 93, "DROPPED", "dropped traffic"),
    _t(BR_INT, 94, "NORMAL_PROCESSING", "normal processing (NORMAL)"),
    # br-tun
    _t(BR_TUN, 0, "LOCAL_SWITCHING",
       "classify: from patch-int to 2, from tunnel ports to the tunnel type's table",
       (2, 3, 4, 6)),
    _t(BR_TUN, 2, "PATCH_LV_TO_TUN",
       "traffic from br-int: unicast to 20, broadcast ARP to 21, multicast to 22",
       (20, 21, 22)),
    _t(BR_TUN, 3, "GRE_TUN_TO_LV", "GRE tunnel id -> local VLAN", (10,)),
    _t(BR_TUN, 4, "VXLAN_TUN_TO_LV", "VXLAN VNI -> local VLAN", (10,)),
    _t(BR_TUN, 6, "GENEVE_TUN_TO_LV", "Geneve VNI -> local VLAN", (10,)),
    _t(BR_TUN, 10, "LEARN_FROM_TUN",
       "learn (VLAN, source MAC) -> tunnel port into 20, output to patch-int",
       (), (20,)),
    _t(BR_TUN, 20, "UCAST_TO_TUN",
       "unicast: learned or l2population (VLAN, MAC) -> tunnel; unknown to 22", (22,)),
    _t(BR_TUN, 21, "ARP_RESPONDER", "ARP responder (l2population); unanswered to 22", (22,)),
    _t(BR_TUN, 22, "FLOOD_TO_TUN", "flood: per local VLAN, set VNI, output to all tunnels"),
    # br-phys
    _t(BR_PHYS, 0, "LOCAL_SWITCHING",
       "from phy-<br>: local VLAN -> untagged (flat) or segmentation id (VLAN), NORMAL",
       (2,)),
    _t(BR_PHYS, 2, "LOCAL_VLAN_TRANSLATION",
       "local VLAN translation (DVR; declared, not used by this agent yet)"),
)

PIPELINE: dict[str, dict[int, Table]] = {}
for _table in _TABLES:
    PIPELINE.setdefault(_table.bridge, {})[_table.number] = _table


def role(bridge: str) -> str:
    """The pipeline a bridge follows: br-int, br-tun, or br-phys for any other bridge."""
    return bridge if bridge in (BR_INT, BR_TUN) else BR_PHYS


def table(bridge: str, number: int) -> Table:
    try:
        return PIPELINE[role(bridge)][number]
    except KeyError:
        raise PipelineError(f"{bridge} has no table {number}") from None


def table_by_name(bridge: str, name: str) -> Table:
    for t in PIPELINE[role(bridge)].values():
        if t.name == name:
            return t
    raise PipelineError(f"{bridge} has no table named {name}")


def check_jump(bridge: str, src: int, dst: int) -> None:
    if dst not in table(bridge, src).next_tables:
        raise PipelineError(
            f"{bridge} table {src} ({table(bridge, src).name}) may not jump to {dst}")


def goto(bridge: str, src: int, dst: int) -> Resubmit:
    """The action jumping from table ``src`` to ``dst``; refuses an undeclared jump."""
    check_jump(bridge, src, table(bridge, dst).number)
    return Resubmit(dst)


def ct_goto(bridge: str, src: int, dst: int, zone: str = ZONE) -> Ct:
    """``ct(table=dst)``: conntrack, then continue in ``dst``; refuses an undeclared jump."""
    check_jump(bridge, src, table(bridge, dst).number)
    return Ct(table=dst, zone=zone)


def check_learn(bridge: str, src: int, dst: int) -> None:
    if dst not in table(bridge, src).learns_into:
        raise PipelineError(f"{bridge} table {src} may not learn into table {dst}")


def describe(bridge: str) -> str:
    """The pipeline of ``bridge`` as a text table (docs, ``fermion trace``)."""
    rows = [f"{'table':>5}  {'name':<22} {'next':<14} purpose"]
    for t in sorted(PIPELINE[role(bridge)].values(), key=lambda t: t.number):
        nxt = ",".join(str(n) for n in sorted(t.next_tables | t.learns_into)) or "-"
        rows.append(f"{t.number:>5}  {t.name:<22} {nxt:<14} {t.purpose}")
    return "\n".join(rows)
