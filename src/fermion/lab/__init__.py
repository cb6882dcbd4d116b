"""The lab's host layer: simulated hosts on one machine, made of `fermion.linux` verbs.

What lives here
  host.py  `Host`: a network namespace with its own Open vSwitch (private run directory,
           own ovsdb-server/ovs-vswitchd started inside the namespace); `Instance`s plugged
           into a host's br-int the way os-vif plugs a VM (veth, OVS port with
           external_ids iface-id/attached-mac/iface-status/vm-uuid); `Underlay`: a Linux
           bridge in its own namespace joining hosts, with each host's `local_ip` on an OVS
           internal port (what userspace tunnels need); `HostGroup`: hosts and underlays
           sharing one unique name prefix, destroyed together; `sweep_stale()` for groups
           left behind by a crashed process.
  leftovers.py  `remove_routers`: what the L3 agent made on a host (qrouter namespaces,
           metadata proxies) that the host's teardown does not know about.

Naming (every name starts with the group prefix, e.g. ``fm1a2b3c-``)
  host namespace      <prefix><host>                e.g. fm1a2b3c-h1
  instance namespace  <prefix><host>-<instance>     e.g. fm1a2b3c-h1-vm1
  underlay namespace  <prefix><underlay>            e.g. fm1a2b3c-ul
  run directories     <workdir>/<prefix without '-'>/<host>/   (owner.pid at the top)
  instance devices    host side tap<iface_id[:11]> (OVS port), instance side eth0

Every resource is recorded on its owner *before* it is created, with an idempotent undo,
so `destroy()` removes exactly what was made, also after a partial failure.

Topology descriptions (which hosts, networks, instances) are not here: this layer only
realises hosts. It never imports fermion.db, fermion.plugin or fermion.api.
"""
