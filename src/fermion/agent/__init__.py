"""The L2 agent's pure logic: what Open vSwitch should hold, computed from the model.

Modules:
  pipeline   br-int / br-tun / br-phys tables declared once (number, name, purpose, allowed
             next tables); ``goto()`` refuses a jump the declaration does not allow.
  cookies    64-bit flow cookies that name their owner (agent base, network, port, SG rule,
             tunnel peer); every agent flow carries the agent's high bits, so stale cleanup
             by cookie mask is exact and ``trace`` can say who owns a flow.
  flows      ``Flow`` values, canonical ``ovs-ofctl add-flow`` text, parsing of
             ``ovs-ofctl dump-flows`` lines into the same form, ``diff(desired, actual)``.
  l2_model   the host model (plain dataclasses) built from the change feed's snapshot plus
             the OVS facts the agent knows (ofports, local VLANs, bridge mappings).
  l2_flows   compile functions: host model -> desired flows per bridge.
  walk       a tiny offline table walker (a packet dict through a flow list), used by tests
             and later by ``fermion trace``.

Modules that act (not pure; they never import fermion.db or fermion.plugin either):
  server_client  httpx client of the server's agent endpoints (snapshot, change feed,
             state reports, port status).
  l2_apply   converges one host's OVS to the compiled model: bridges, patch and tunnel ports,
             local VLAN tags (recorded in other_config:net_uuid), flow diffs applied as one
             ``ovs-ofctl --bundle`` per bridge; never flushes.
  l2_agent   ``fermion agent l2``: heartbeat, snapshot, change feed, converge, port status.

Naming: bridges ``br-int``, ``br-tun``, one bridge per ``physnet:bridge`` mapping; patch
ports ``int-<br>``/``phy-<br>`` and ``patch-tun``/``patch-int`` as in the seed.

Nothing in the pure modules (pipeline .. walk) touches the system, the database or the
plugin: no imports of fermion.db, fermion.plugin, fermion.linux, no subprocess, no sockets. The code that talks to OVS applies
the values computed here.
"""
