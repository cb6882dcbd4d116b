"""`fermion lab`: the seed's multi-node labs as hosts on this machine.

How data flows
  topology file (YAML) --topofile--> Topology --plan--> HostPlan per host, FabricPlan
  --build--> capsules, wiring, hostside setup/start inside each host --resources--> the
  demo through the API --guest--> instances plugged on compute hosts --smoke--> rows;
  live/commands/report/teardown work on the lab that exists, from its state directory.

What lives here
  topology.py        the model: hosts with roles and interfaces, lab networks, the demo;
                     `scaled()` for --computes/--instances (pure)
  topofile.py, topofile_demo.py, topology_check.py
                     YAML -> Topology, every error as FILE:LINE: key.path: what (pure)
  ini.py, etc/       the sample INI files and rendering them with a host's values (pure)
  plan.py            what a host is made of: files, bridges, addresses, routes, iptables,
                     daemons with their command lines; the wiring; a capsule's own
                     /run, /etc, /var, /var/log (pure)
  build.py           `lab up`'s steps; hostside.py and guest.py run *inside* a host
                     (``python -m fermion.lab.hostside setup|start|guests``)
  client.py, resources.py   the public API over HTTP; the seed's demo through it
  smoke.py, report.py, progress.py   the smoke table, summaries, live progress
  state.py, live.py, teardown.py, commands.py   state and log directories and the lock;
                     a lab that exists (enter hosts and instances, read their files);
                     `down`; the subcommands
  host.py            functional tests' simulated hosts (a network namespace with its own
                     OVS, os-vif style instances, an underlay): `HostGroup`, `plug_instance`
  leftovers.py       `remove_routers`: what the L3 agent made on such a host (qrouter
                     namespaces, metadata proxies) that the host's teardown does not know

Naming in a lab: hosts are capsules (`fermion.linux.capsule`) under
<state>/<lab>/hosts/<host>/capsule; inside a host everything has its real name (br-int,
qrouter-<id>, /etc/neutron/…); this machine gets one device, ``fl-<lab>``.

Imports: of Fermion only fermion.linux; never db, plugin, api or model — the lab starts
the server and agents as processes and talks to them over HTTP.
"""
