"""The agents: pure logic (what the host should hold, computed from the model) and the thin
appliers and loops that make the host hold it. Agents know the server only through its HTTP
API (``server_client``); nothing here imports fermion.db or fermion.plugin.

Pure (no system, no sockets, no fermion.linux):
  pipeline     br-int / br-tun / br-phys tables declared once (number, name, purpose, allowed
               next tables); ``goto()`` refuses a jump the declaration does not allow.
  cookies      64-bit flow cookies that name their owner (agent base, network, port, SG rule,
               tunnel peer, remote port); stale cleanup by cookie mask is exact.
  actions      OpenFlow actions as typed values (text rendered once; ``parse_action``).
  flows        ``Flow`` values, canonical ``ovs-ofctl`` text, dump parsing, ``diff``; every
               jump of a flow checked against the pipeline.
  l2_model     the L2 host model built from the snapshot plus the host's OVS facts.
  l2_flows     host model -> desired flows per bridge: br-int skeleton, anti-spoofing, marks.
  firewall_flows  the conntrack firewall around protected ports (71-73, 81-82, 92).
  sg_flows     security group rules -> table 72/82 flows (protocols by IANA number,
               remote groups as conjunctions, stateless groups without conntrack).
  tun_flows    br-tun (VXLAN/GRE/Geneve, learning, l2population) and physnet bridges.
  walk         an offline table walker (tests, later ``fermion trace``).
  dhcp_model   the DHCP networks this host serves, from the snapshot.
  dnsmasq      dnsmasq's hosts / addn_hosts / opts files and command line.
  l3_model     routers from the snapshot (ports, gateway, floating IPs, scopes).
  l3_rules     a router's iptables chains and rules with Neutron's names.
  iptables_rules  rule sets, ``iptables-save`` parsing, the ``--noflush`` restore diff.
  metadata_proxy  haproxy configuration for the metadata proxy (router or network header).

Acting (thin: desired state -> diff -> apply):
  server_client  the server's agent endpoints (snapshot, change feed, state and status
               reports) and the few public calls agents make (the DHCP port).
  loop         ``ReconcilingAgent``: heartbeat, snapshot, converge, change-feed watcher,
               wake-ups, timer — every agent's loop.
  l2_apply / l2_agent      ``fermion agent l2``: bridges, patch/tunnel ports, local VLANs,
               flow bundles; OVSDB monitor for plugs; port status.
  dhcp_apply / dhcp_agent  ``fermion agent dhcp``: qdhcp namespaces, DHCP ports, dnsmasq
               (SIGHUP on changes), isolated metadata.
  l3_apply / l3_agent      ``fermion agent l3``: qrouter namespaces, qr-/qg- devices,
               routes, iptables, conntrack, haproxy; floating IP status.

Naming follows the seed: ``br-int``, ``br-tun``, ``int-<br>``/``phy-<br>``,
``patch-tun``/``patch-int``, ``qdhcp-<net>``, ``qrouter-<router>``, ``tap``/``qr-``/``qg-``
+ the port id's first 11 characters.
"""
