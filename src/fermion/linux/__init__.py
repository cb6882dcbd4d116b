"""Thin, idempotent verbs on the Linux host: namespaces, links, addresses, Open vSwitch.

What lives here
  cmd.py    `run()` — every system command goes through it; a failure raises
            `CommandError` naming the command line, its exit status and its stderr.
  netns.py  network namespaces, veth pairs across namespaces, addresses, MTU, link state,
            Linux bridges, `ethtool -K <dev> tx off` (the userspace-OVS checksum trap).
  ovs.py    `OvsDaemon`: ovsdb-server + ovs-vswitchd for one host in a private run
            directory (optionally inside a namespace), tracked and stopped by pid;
            `Ovs`: narrow idempotent ovs-vsctl / ovs-ofctl / ovs-appctl verbs bound to
            that run directory; datapath detection (`netdev` without the kernel module).
  ovsdb.py  `OvsState`: bridges, ports and interfaces (ofport, external_ids, error) read
            in one `ovsdb-client transact`.
  ovsdb_monitor.py  `ovsdb-client monitor` in a thread: wakes an agent on OVSDB changes.
  interface.py  plug a namespace's device into an OVS bridge as Neutron's interface driver
            does (veth, iface-id/attached-mac external_ids, MAC, MTU, addresses).
  process.py  `Daemon`: a daemon in a namespace with a pid file — start, adopt when its
            command line matches, SIGHUP, stop by verified pid, restart when dead.
  iptables.py  backend detection (nft/legacy); `iptables-save`, `iptables-restore --noflush`
            of a text the caller computed (the L3 agent's rule diff), `-S` listing.
  conntrack.py  delete connection-tracking entries (floating IPs going or moving).
  files.py  replace a daemon's file atomically, only when its text differs.
  proc.py   pid liveness and command lines.

Rules
  - Verbs are safe to repeat: "add" tolerates what already exists (`may_exist`),
    "delete" tolerates what is already gone (`if_exists`).
  - "Done" means applied: ovs-vsctl waits for ovs-vswitchd to reconfigure (except where a
    verb says `--no-wait`: the L2 agent's port tags).
  - Processes are ever only stopped by the pid we recorded, never by name.
  - Nothing here renders policy (flows, rules, configs); it applies what the caller
    computed (a verb compares only what it needs to stay idempotent, e.g. a device's
    addresses).

How data flows through it
  agent/ and lab/ call these verbs with values they computed; the verbs run commands
  (``cmd.run``) and return what the host says (parsed where that is the verb's job).

Imports
  Nothing else of Fermion (not agent/, lab/, the server's packages, not even config):
  agents and the lab run on hosts that know the server only through HTTP, and the verbs
  must not depend on who calls them.
"""
