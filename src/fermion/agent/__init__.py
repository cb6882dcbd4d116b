"""The agents: pure logic (what the host should hold, computed from the model) and the thin
appliers and loops that make the host hold it. Agents know the server only through its HTTP
API (``server_client``); nothing here imports fermion.db, fermion.plugin or fermion.api, and
what touches the host goes through fermion.linux.

Data flows one way per pass: snapshot (HTTP) -> model (pure) -> desired state (pure) ->
applier (diff against what the host holds, apply with fermion.linux verbs) -> status
reports (HTTP). Each object (port, network, router) is converged on its own: a failure is
recorded in ``retry.Failures`` and retried with a backoff while the others converge.

Pure (no system, no sockets, no fermion.linux; ``tests/unit/test_layers.py`` keeps them so):
  pipeline     br-int / br-tun / br-phys tables declared once (number, name, purpose, allowed
               next tables); ``goto()`` refuses a jump the declaration does not allow.
  cookies      64-bit flow cookies that name their owner (agent base, network, port, SG rule,
               tunnel peer, remote port); stale cleanup by cookie mask is exact.
  actions      OpenFlow actions as typed values (text rendered once; ``parse_action``).
  flows        ``Flow`` values, canonical ``ovs-ofctl`` text, dump parsing, ``diff``; every
               jump of a flow checked against the pipeline.
  l2_model     the L2 host model built from the snapshot plus the host's OVS facts.
  l2_plan      the L2 agent's decisions: bridges, patch and tunnel ports to add or remove,
               wiring, local VLANs, port tags, per-port compile failures.
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
  retry        failure containment: which objects failed, why, when to try them again.
  status       status reports (ports, floating IPs): only what differs is sent.

Acting (thin: desired state -> diff -> apply):
  server_client  the server's agent endpoints (snapshot, change feed, state and status
               reports) and the few public calls agents make (the DHCP port).
  loop         ``ReconcilingAgent``: heartbeat, snapshot, converge, change-feed watcher,
               wake-ups, retries, timer — every agent's loop; no failed pass ends it.
  command      what every ``fermion agent …`` builds from its command line (server
               client, the host's Open vSwitch).
  metadata_apply  runs a metadata proxy: writes its config, adopts/starts/stops haproxy.
  l2_apply / l2_agent      ``fermion agent l2``: bridges, patch/tunnel ports, local VLANs,
               flow bundles; OVSDB monitor for plugs; port status (ERROR while failing).
  dhcp_apply / dhcp_agent  ``fermion agent dhcp``: qdhcp namespaces, DHCP ports, dnsmasq
               (SIGHUP on changes), isolated metadata.
  l3_apply / l3_agent      ``fermion agent l3``: qrouter namespaces, qr-/qg- devices,
               routes, iptables, conntrack, haproxy; floating IP status (ERROR while
               their router fails).
  metadata_lookup / metadata_agent  ``fermion agent metadata``: the socket haproxy forwards
               to; which instance asks (router or network + haproxy's X-Forwarded-For,
               through the Networking API; cached until the change feed moves), signed
               X-Instance-ID, forwarded to the metadata service (``fermion compute-api``).

Naming follows the seed: ``br-int``, ``br-tun``, ``int-<br>``/``phy-<br>``,
``patch-tun``/``patch-int``, ``qdhcp-<net>``, ``qrouter-<router>``, ``tap``/``qr-``/``qg-``
+ the port id's first 11 characters.
"""
