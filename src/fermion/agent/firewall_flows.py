"""The firewall around protected ports (Neutron's OVS firewall): br-int 71-73, 81-82, 92.

Packets reach these tables only marked by table 60 with their port (``reg5`` = ofport, of the
sender on egress, of the receiver on ingress) and network (``reg6`` = local VLAN, also the
conntrack zone), so what does not depend on the port is one shared flow (cookie ``BASE``)
instead of one per port; a port adds only what names its addresses, MACs or ofport.

Egress: 71 lets DHCP/DHCPv6 clients and ND/MLD/RS out, drops DHCP server replies, sends IP
from one of the port's addresses to the rules (72) — through conntrack for a stateful port —
and drops IP from any other source; 72 (rules, :mod:`sg_flows`) passes established/related
and drops invalid tracked packets; 73 commits new tracked connections and goes on to 91
(NORMAL), or to 81 when the destination MAC is a protected port on the same network.

Ingress: 81 passes ARP, DHCP replies and ICMPv6 MLD query/RA/NS/NA, sends other IP through
conntrack to 82 (rules); 92 outputs to the port.

A port of stateless groups (``stateful=false``) never meets conntrack: its IP goes straight
from 71 to 72 and, on ingress, to 82 after ``ct_clear`` (a packet a local stateful sender
tracked must not pass as "established"; a new one is committed for that sender first, as
73 does for its remote destinations); its rules match without ``ct_state`` and accept
without ``ct(commit)``, so replies need rules of their own.
"""

from __future__ import annotations

from fermion.agent import cookies
from fermion.agent.actions import Ct, CtClear, LoadReg, Output
from fermion.agent.flows import Flow, make
from fermion.agent.pipeline import BR_INT, ct_goto, goto

ICMPV6_EGRESS = (130, 131, 132, 133, 135, 136)  # MLD, RS, NS, NA (NA target anti-spoofed)
ICMPV6_INGRESS = (130, 134, 135, 136)  # MLD query, RA, NS, NA: pass without rules
NEW = "+new-est+trk"


def firewall_base() -> list[Flow]:
    """The firewall flows every protected port shares (cookie ``BASE``)."""
    B, c = BR_INT, cookies.BASE
    flows = [
        # egress: DHCP server replies from an instance are dropped, DHCP client allowed
        make(B, 71, 95, {"udp": None, "tp_src": 67}, [goto(B, 71, 93)], c),
        make(B, 71, 95, {"udp6": None, "tp_src": 547}, [goto(B, 71, 93)], c),
        *(make(B, 71, 95, {"icmp6": None, "icmp_type": t}, [goto(B, 71, 73)], c)
          for t in ICMPV6_EGRESS),
        make(B, 71, 95, {"udp": None, "tp_src": 68, "tp_dst": 67}, [goto(B, 71, 73)], c),
        make(B, 71, 95, {"udp6": None, "tp_src": 546, "tp_dst": 547}, [goto(B, 71, 73)], c),
        # IP from a source that is not the port's (per-port flows at 90 pass those)
        make(B, 71, 85, {"ip": None}, [goto(B, 71, 93)], c),
        make(B, 71, 85, {"ipv6": None}, [goto(B, 71, 93)], c),
        make(B, 71, 80, {}, [goto(B, 71, 73)], c),  # ARP/non-IP, already anti-spoofed
        *(make(B, 73, 90, {"ct_state": NEW, fam: None}, [Ct(commit=True), goto(B, 73, 91)], c)
          for fam in ("ip", "ipv6")),
        # ingress: ARP, ND (as Neutron's OVS firewall) and DHCP replies pass; IP meets the
        # rules through conntrack (a stateless port overrides this at 91)
        make(B, 81, 100, {"arp": None}, [goto(B, 81, 92)], c),
        *(make(B, 81, 100, {"icmp6": None, "icmp_type": t}, [goto(B, 81, 92)], c)
          for t in ICMPV6_INGRESS),
        make(B, 81, 95, {"udp": None, "tp_src": 67, "tp_dst": 68}, [goto(B, 81, 92)], c),
        make(B, 81, 95, {"udp6": None, "tp_src": 547, "tp_dst": 546}, [goto(B, 81, 92)], c),
        make(B, 81, 90, {"ip": None}, [ct_goto(B, 81, 82)], c),
        make(B, 81, 90, {"ipv6": None}, [ct_goto(B, 81, 82)], c),
    ]
    for table, nxt in ((72, 73), (82, 92)):
        flows += [
            make(B, table, 80, {"ct_state": "+inv+trk"}, [goto(B, table, 93)], c),
            make(B, table, 75, {"ct_state": "-new+est-inv+trk"}, [goto(B, table, nxt)], c),
            make(B, table, 75, {"ct_state": "-new+rel-inv+trk"}, [goto(B, table, nxt)], c),
        ]
    return flows


def port_firewall(port_ofport: int, local_vlan: int, macs: list[str], v4: list[str],
                  v6: list[str], stateful: bool, c: int) -> list[Flow]:
    """One protected port's own firewall flows: its sources into the rules, local traffic
    for its MACs turned into its ingress, its output; a stateless port skips conntrack."""
    B, P = BR_INT, port_ofport
    to_rules = ct_goto(B, 71, 72) if stateful else goto(B, 71, 72)
    flows = [make(B, 71, 90, {"ip": None, "reg5": P, "nw_src": ip}, [to_rules], c)
             for ip in v4]
    flows += [make(B, 71, 90, {"ipv6": None, "reg5": P, "ipv6_src": ip}, [to_rules], c)
              for ip in v6]
    # egress to this port from another local port of the network turns into its ingress
    flows += [make(B, 73, 100, {"reg6": local_vlan, "dl_dst": mac},
                   [LoadReg(5, P), goto(B, 73, 81)], c) for mac in macs]
    flows.append(make(B, 92, 100, {"reg5": P}, [Output(P)], c))
    if not stateful:
        for fam in ("ip", "ipv6"):
            # a new connection from a local stateful port: commit it for the sender (as 73
            # does for remote destinations), so its replies come back as established
            flows.append(make(B, 81, 92, {fam: None, "reg5": P, "ct_state": NEW},
                              [Ct(commit=True), CtClear(), goto(B, 81, 82)], c))
            flows.append(make(B, 81, 91, {fam: None, "reg5": P}, [CtClear(), goto(B, 81, 82)],
                              c))
    return flows
