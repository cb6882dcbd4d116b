"""`fermion lab up`: realise a topology on this machine, create the demo, check it works.

Steps (each one line of progress with its time; state recorded in lab.json as it goes):

  1. check     the topology is valid; this machine has the programs, is root, has no route
               into the management range and no device of that name
  2. hosts     one capsule per host and one ``fabric`` capsule (the lab's segments), each
               host with its own /run, /etc, /var, /var/log (`plan.mount_script`)
  3. wiring    a Linux bridge per lab network in the fabric, a veth per host interface,
               and this machine's one veth onto the management network
  4. setup     inside every host at once: files, OVS, bridges, addresses, routes, iptables
  5. server    the controller's daemons; wait for the API
  6. agents    every other host's agents; wait until each reports alive
  7. demo      the seed's demo through the API (`resources`)
  8. instances guests plugged on their compute hosts (`guest`); wait for ports ACTIVE,
               floating IPs ACTIVE and every guest's DHCP lease
  9. smoke     the checks of `smoke`, then the summary

A failed or interrupted step leaves what was made in place for inspection; `fermion lab
down` removes it (so does the next `up`). Everything is found again from the state
directory, so a `kill -9` of this process loses nothing either.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from fermion.lab import plan as planner
from fermion.lab import resources, smoke
from fermion.lab.client import Api
from fermion.lab.live import LabError, LiveLab
from fermion.lab.progress import Progress
from fermion.lab.state import LabPaths
from fermion.lab.topology import Topology
from fermion.linux import capsule
from fermion.linux.cmd import run

TOOLS = ("unshare", "nsenter", "tini", "ip", "ethtool", "sysctl", "ovsdb-tool", "ovsdb-server",
         "ovs-vswitchd", "ovs-vsctl", "dnsmasq", "haproxy", "iptables-restore", "conntrack",
         "busybox")
WAIT = 90.0  # seconds any one thing may take to come up


def preflight(topo: Topology) -> None:
    """What this machine must offer before anything is created."""
    if os.geteuid() != 0:
        raise LabError("`fermion lab up` needs root (namespaces, Open vSwitch, iptables)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(f"missing programs: {', '.join(missing)}; run `make deps` "
                       "(scripts/install-deps.sh installs them)")
    link = planner.root_link_name(topo.name)
    if run(["ip", "link", "show", "dev", link], check=False).returncode == 0:
        raise LabError(f"this machine already has a device {link}: is lab {topo.name} up from "
                       "another state directory? (`ip link show dev " + link + "`)")
    mgmt = ipaddress.ip_network(topo.management.cidr)
    for route in json.loads(run(["ip", "-j", "-4", "route", "show"]).stdout or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            if ipaddress.ip_network(dst if "/" in dst else f"{dst}/32").overlaps(mgmt):
                raise LabError(f"the management network {mgmt} overlaps this machine's route "
                               f"{dst} dev {route.get('dev')}; give the lab another range "
                               "(networks.management in a copy of the topology file)")


class Builder:
    def __init__(self, paths: LabPaths, topo: Topology, progress: Progress):
        self.paths, self.topo, self.progress = paths, topo, progress
        self.fabric: capsule.Capsule | None = None
        self.api = Api(f"http://{topo.api_address()}:{planner.API_PORT}")

    def build(self) -> list[smoke.Row]:
        p = self.progress
        with p.step("hosts") as s:
            self.hosts()
            s.detail = ", ".join(h.name for h in self.topo.hosts)
        with p.step("wiring") as s:
            s.detail = self.wiring()
        with p.step("host setup") as s:
            self.parallel(self.topo.hosts, lambda h: self.live.python(
                h.name, "fermion.lab.hostside", "setup", self.plans[h.name]))
            s.detail = "OVS (userspace datapath), bridges, addresses, routes, iptables"
        with p.step("API server") as s:
            self.start(lambda daemon: daemon["name"] == "neutron-server")
            self.api.wait(self.api.answers, f"the API at {self.api.url}", WAIT)
            s.detail = f"{self.api.url}"
        with p.step("agents") as s:
            self.start(lambda daemon: daemon["name"] != "neutron-server")
            s.detail = self.wait_agents()
        with p.step("demo resources") as s:
            made = resources.create(self.api, self.topo.demo, self.topo.name)
            self.paths.update(resources=made)
            s.detail = (f"{len(made['networks'])} networks, {len(made['routers'])} router(s), "
                        f"{len(made['instances'])} ports")
        with p.step("instances") as s:
            self.instances(made)
            s.detail = self.wait_converged(made)
        self.live = LiveLab(self.paths, self.topo)
        with p.step("smoke checks") as s:
            rows = smoke.run_all(self.live)
            s.detail = f"{sum(r.ok for r in rows)}/{len(rows)} PASS"
        return rows

    # --- steps -------------------------------------------------------------------------
    def hosts(self) -> None:
        paths = self.paths
        self.fabric = capsule.spawn(paths.fabric)
        self.parallel(self.topo.hosts, lambda h: capsule.spawn(paths.capsule(h.name)))
        self.live = LiveLab(paths, self.topo)
        self.plans = {h.name: planner.host_plan(self.topo, h).to_json() for h in self.topo.hosts}

        def mount(host):
            paths.host_logs(host.name).mkdir(parents=True, exist_ok=True)
            script = planner.mount_script(hostname=host.name, state=str(paths.fs(host.name)),
                                          logs=str(paths.host_logs(host.name)))
            self.live.run(host.name, ["sh", "-c", script], check=True)
        self.parallel(self.topo.hosts, mount)
        self.fabric.run(["ip", "link", "set", "lo", "up"])

    def wiring(self) -> str:
        fp = planner.fabric_plan(self.topo)
        self.paths.update(root_link=fp.root_link)
        fabric = self.fabric
        script = [f"ip link add {b} type bridge && ip link set {b} up"
                  for b in fp.bridges.values()]
        by_host: dict[str, list[str]] = {}
        for w in fp.wires:
            by_host.setdefault(w.host, []).append(
                f"ip link add {w.host_end} type veth peer name {w.fabric_end} netns "
                f"{fabric.init}")
            script.append(f"ip link set {w.fabric_end} master {fp.bridges[w.network]} && "
                          f"ethtool -K {w.fabric_end} tx off >/dev/null && "
                          f"ip link set {w.fabric_end} up")
        for host, commands in by_host.items():
            self._in_net(host, " && ".join(commands))
        run(["ip", "link", "add", fp.root_link, "type", "veth", "peer", "name", fp.root_peer,
             "netns", str(fabric.init)])
        mgmt_bridge = fp.bridges[self.topo.management.name]
        script.append(f"ip link set {fp.root_peer} master {mgmt_bridge} && "
                      f"ip link set {fp.root_peer} up")
        fabric.run(["sh", "-c", "set -e\n" + "\n".join(script)])
        if os.path.exists(f"/proc/sys/net/ipv6/conf/{fp.root_link}"):  # IPv4 only: no
            run(["sysctl", "-qw", f"net.ipv6.conf.{fp.root_link}.disable_ipv6=1"])  # link-local
        run(["ip", "addr", "add", fp.root_address, "dev", fp.root_link])
        run(["ip", "link", "set", fp.root_link, "up"])
        return (f"{len(fp.bridges)} segments, {len(fp.wires)} links; this machine: "
                f"{fp.root_link} {fp.root_address}")

    def _in_net(self, host: str, script: str) -> None:
        """Run `script` in the host's network namespace only: ``netns PID`` then means a pid
        of our /proc (the host's own /proc numbers its processes differently)."""
        c = self.live.need(host)
        argv = capsule.nsenter_argv(c.init, ["sh", "-c", script], ("net",))
        run(argv)

    def start(self, which) -> None:
        """Start the daemons `which` picks on every host that has some."""
        plans = [dict(plan, daemons=[d for d in plan["daemons"] if which(d)])
                 for plan in self.plans.values()]
        self.parallel([p for p in plans if p["daemons"]], lambda plan: self.live.python(
            plan["name"], "fermion.lab.hostside", "start", plan))

    def wait_agents(self) -> str:
        want = set()
        for h in self.topo.hosts:
            if h.runs_ovs:
                want.add(("Open vSwitch agent", h.name))
            if "network" in h.roles:
                want |= {("DHCP agent", h.name), ("L3 agent", h.name)}

        def alive():
            agents = self.api.get("/v2.0/agents")["agents"]
            up = {(a["agent_type"], a["host"]) for a in agents if a["alive"]}
            return want <= up
        try:
            self.api.wait(alive, "agents reporting alive", WAIT)
        except TimeoutError:
            agents = self.api.get("/v2.0/agents")["agents"]
            up = {(a["agent_type"], a["host"]) for a in agents if a["alive"]}
            missing = ", ".join(f"{t} on {h}" for t, h in sorted(want - up))
            raise LabError(f"no report from: {missing} (`fermion lab logs HOST`)") from None
        return f"{len(want)} alive"

    def instances(self, made: dict) -> None:
        by_host: dict[str, list[dict]] = {}
        for record in made["instances"].values():
            by_host.setdefault(record["host"], []).append({
                k: record[k] for k in ("name", "port_id", "mac", "mtu", "vm_uuid")})
        self.parallel(list(by_host.items()), lambda item: self.live.python(
            item[0], "fermion.lab.hostside", "guests", {"guests": item[1]}))

    def wait_converged(self, made: dict) -> str:
        ports = {r["port_id"] for r in made["instances"].values()}
        fips = {r["floating_ip_id"] for r in made["instances"].values() if r["floating_ip"]}

        def ports_active():
            listed = self.api.get("/v2.0/ports?device_owner=compute:nova")["ports"]
            return all(p["status"] == "ACTIVE" for p in listed if p["id"] in ports)
        self.api.wait(ports_active, "instance ports ACTIVE", WAIT)
        if fips:
            self.api.wait(lambda: all(f["status"] == "ACTIVE" for f in self.api.get(
                "/v2.0/floatingips")["floatingips"] if f["id"] in fips),
                "floating IPs ACTIVE", WAIT)
        self.api.wait(lambda: all(self.leased(r) for r in made["instances"].values()),
                      "a DHCP lease in every instance", WAIT)
        return f"{len(ports)} plugged, ports ACTIVE, leases in every instance"

    def leased(self, record: dict) -> bool:
        console = self.paths.host_logs(record["host"]) / "guests" / record["name"] / \
            "console.log"
        try:
            return f"lease: {record['ip']}/" in console.read_text()
        except OSError:
            return False

    @staticmethod
    def parallel(items, fn) -> list:
        items = list(items)
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(items)))) as pool:
            return list(pool.map(fn, items))


def wait_for(condition, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
