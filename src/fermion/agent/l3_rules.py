"""A router's iptables (IPv4) as a :class:`~fermion.agent.iptables_rules.RuleSet`. Pure.

Chains have Neutron's names and shapes, so the seed's ``iptables -t nat -S`` reads the same:

nat
  ``neutron-l3-agent-PREROUTING``  metadata ``REDIRECT --to-ports 9697`` from ``qr-+``;
                                   per floating IP ``-d FIP/32 -j DNAT --to-destination FIXED``
  ``neutron-l3-agent-OUTPUT``      the same DNAT for traffic from the namespace itself
  ``neutron-l3-agent-POSTROUTING`` no NAT between internal ports (``! -i qg ! -o qg``)
  ``neutron-postrouting-bottom``   (end of POSTROUTING) ``-j neutron-l3-agent-snat``
  ``neutron-l3-agent-snat``        ``-j neutron-l3-agent-float-snat`` first, then no SNAT
                                   within the external network's address scope, SNAT of
                                   everything leaving ``qg-`` to the gateway address
                                   (``enable_snat``), and SNAT of hairpinned DNAT traffic
  ``neutron-l3-agent-float-snat``  per floating IP ``-s FIXED/32 -j SNAT --to-source FIP``
mangle
  ``-mark``: packets entering ``qg-`` get the external ingress mark (0x2/0xffff);
  ``-scope``: packets get their ingress port's address scope mark (upper 16 bits);
  ``-floatingip`` / ``-float-snat`` / ``-FORWARD``: floating IPs cross scopes; CONNMARK keeps
  a connection's scope so its replies are let back; metadata requests get 0x1/0xffff.
filter
  ``-INPUT``: accept marked metadata requests, drop direct connections to port 9697;
  ``-scope`` (from ``-FORWARD``): leaving a port of another address scope than the packet's
  mark is dropped (except out of ``qg-`` when SNAT is on: that traffic is NATed).

Address scope marks: "no scope" is mark id 1024 (0x4000000/0xffff0000), the scopes the
router sees get 1025, 1026, … in the order of their ids, so a router's marks only depend on
its own model.
"""

from __future__ import annotations

from fermion.agent.iptables_rules import RuleSet
from fermion.agent.l3_model import METADATA_IP, Router

WRAP = "neutron-l3-agent-"
BOTTOM = "neutron-postrouting-bottom"
METADATA_MARK = "0x1/0xffff"
EXTERNAL_INGRESS_MARK = "0x2/0xffff"
SCOPE_MASK = "0xffff0000"
SCOPE_MARK_ID_MIN = 1024
CONNMARK_ARGS = f"--nfmask {SCOPE_MASK} --ctmask {SCOPE_MASK}"


def new_ruleset() -> RuleSet:
    """Every chain the L3 agent owns, declared and jumped to, still empty."""
    rs = RuleSet(wrap=WRAP, extra_owned=frozenset({BOTTOM}))
    for builtin in ("PREROUTING", "OUTPUT", "POSTROUTING"):
        rs.jump("nat", builtin, builtin)
    rs.jump("nat", "POSTROUTING", BOTTOM, top=False)
    for name in ("snat", "float-snat"):
        rs.chain("nat", name)
    for builtin in ("PREROUTING", "FORWARD", "POSTROUTING"):
        rs.jump("mangle", builtin, builtin)
    for name in ("mark", "scope", "floatingip", "float-snat"):
        rs.chain("mangle", name)
    for builtin in ("INPUT", "FORWARD"):
        rs.jump("filter", builtin, builtin)
    rs.chain("filter", "scope")
    return rs


def scope_marks(router: Router) -> dict[str | None, str]:
    """Address scope id (None: no scope) -> ``mark/mask`` for this router."""
    scopes = sorted({p.address_scope for p in router.ports} - {None})
    ids = {None: SCOPE_MARK_ID_MIN} | {s: SCOPE_MARK_ID_MIN + 1 + i for i, s in enumerate(scopes)}
    return {scope: f"{hex(mark << 16)}/{SCOPE_MASK}" for scope, mark in ids.items()}


def router_rules(router: Router, *, metadata_port: int = 9697) -> RuleSet:
    rs = new_ruleset()
    marks = scope_marks(router)
    gw = router.gateway
    qg = gw.port.device if gw else None
    gw_ip = gw.ipv4 if gw else None

    # -- metadata: 169.254.169.254:80 from an internal port -> haproxy on metadata_port
    if router.metadata_proxy:
        match = f"-d {METADATA_IP}/32 -i qr-+ -p tcp -m tcp --dport 80"
        rs.add("mangle", "PREROUTING", f"{match} -j MARK --set-xmark {METADATA_MARK}")
        rs.add("nat", "PREROUTING", f"{match} -j REDIRECT --to-ports {metadata_port}")
        rs.add("filter", "INPUT", f"-m mark --mark {METADATA_MARK} -j ACCEPT")
        rs.add("filter", "INPUT", f"-p tcp -m tcp --dport {metadata_port} -j DROP")

    # -- address scopes: mark by ingress port, keep the mark on the connection
    rs.add("mangle", "PREROUTING", f"-j {WRAP}mark")
    rs.add("mangle", "PREROUTING", f"-j {WRAP}scope")
    rs.add("mangle", "PREROUTING",
           f"-m connmark ! --mark 0x0/{SCOPE_MASK} -j CONNMARK --restore-mark {CONNMARK_ARGS}")
    rs.add("mangle", "PREROUTING", f"-j {WRAP}floatingip")
    rs.add("mangle", "float-snat",
           f"-m connmark --mark 0x0/{SCOPE_MASK} -j CONNMARK --save-mark {CONNMARK_ARGS}")
    rs.add("filter", "FORWARD", f"-j {WRAP}scope")
    for port in router.ports:
        mark = marks[port.address_scope]
        rs.add("mangle", "scope", f"-i {port.device} -j MARK --set-xmark {mark}")
        if gw and port.device == qg and gw.enable_snat:
            continue  # leaving through the gateway is NATed, whatever the scope
        rs.add("filter", "scope", f"-o {port.device} -m mark ! --mark {mark} -j DROP")

    # -- NAT
    rs.add("nat", "snat", f"-j {WRAP}float-snat")
    rs.add("nat", BOTTOM, f"-j {WRAP}snat")
    if gw and gw_ip:
        ext_mark = marks[gw.port.address_scope]
        rs.add("mangle", "mark", f"-i {qg} -j MARK --set-xmark {EXTERNAL_INGRESS_MARK}")
        rs.add("nat", "POSTROUTING",
               f"! -i {qg} ! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT")
        if gw.enable_snat:
            rs.add("mangle", "POSTROUTING", f"-o {qg} -m connmark --mark 0x0/{SCOPE_MASK} "
                                            f"-j CONNMARK --save-mark {CONNMARK_ARGS}")
            if gw.port.address_scope:  # same scope on both sides: routed, not NATed
                rs.add("nat", "snat", f"-o {qg} -m connmark --mark {ext_mark} -j ACCEPT")
            rs.add("nat", "snat", f"-o {qg} -j SNAT --to-source {gw_ip}")
        rs.add("nat", "snat", f"-m mark ! --mark {EXTERNAL_INGRESS_MARK} "
                              f"-m conntrack --ctstate DNAT -j SNAT --to-source {gw_ip}")

    # -- floating IPs
    crossing = [f for f in router.floating_ips
                if gw and f.fixed_scope != gw.port.address_scope]
    if crossing:
        ext_mark = marks[gw.port.address_scope]
        for port in router.ports:
            if marks[port.address_scope] == ext_mark:
                rs.add("mangle", "float-snat", f"-o {port.device} -j MARK --set-xmark {ext_mark}")
    for fip in router.floating_ips:
        dnat = f"-d {fip.floating_ip}/32 -j DNAT --to-destination {fip.fixed_ip}"
        rs.add("nat", "PREROUTING", dnat)
        rs.add("nat", "OUTPUT", dnat)
        rs.add("nat", "float-snat", f"-s {fip.fixed_ip}/32 -j SNAT --to-source {fip.floating_ip}")
    for fip in crossing:
        rs.add("mangle", "floatingip",
               f"-d {fip.floating_ip}/32 -j MARK --set-xmark {marks[fip.fixed_scope]}")
        rs.add("mangle", "FORWARD", f"-s {fip.fixed_ip}/32 -j {WRAP}float-snat")
    return rs
