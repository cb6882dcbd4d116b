"""The L3 agent on real simulated hosts: API write → traffic, and a 100-router resync.

``run_l3_bench()`` runs two phases, each against a fresh ``fermion server`` (SQLite, router
and floating IP quotas lifted) and a fresh group of simulated hosts
(``fermion.lab.host.HostGroup``), built as ``tests/functional/test_l3_agent.py`` builds its
lab:

1. **latency** — host ``net`` (the network node) runs ``fermion agent l2`` with
   ``physnet:br-ex`` (NIC ``ex0`` on the external segment) and ``fermion agent l3``; host
   ``cmp`` runs ``fermion agent l2`` and the instances; a VXLAN underlay joins them. The
   external segment's namespace carries 172.24.4.1, the external host (also the external
   subnet's gateway). All three agents are daemons with their default intervals; one router
   with its gateway set is up before timing starts. Then ``samples`` times:

   a. **router add subnet**: a new tenant network and subnet, an instance plugged on
      ``cmp`` (port ACTIVE first), a probe (``PROBE``) in it pinging the external host every
      10 ms, then ``PUT /v2.0/routers/{id}/add_router_interface``; timed from sending the
      PUT to the first echo reply (the path: L3 agent plugs ``qr-``, L2 agent wires it,
      SNAT out of ``qg-``). Also to the interface port's ``ACTIVE`` in the API.
   b. **floating ip set**: on each of those instances in turn, a floating IP created
      unassociated beforehand; the probe runs on the external host towards the floating IP,
      then ``PUT /v2.0/floatingips/{id}`` with ``port_id``; timed from sending the PUT to
      the first echo reply (DNAT in, the instance's reply SNATed back).

   Before each sample the agents must have used no CPU for ``settle`` seconds (every pass
   the previous change set off has ended). Also recorded: when the L3 agent's pass finished
   the router (its ``router <id>: …`` log line). Interfaces and floating IPs stay, so the
   router grows to ``samples`` interfaces and floating IPs (each change is a pass over the
   whole router).
2. **resync** — host ``net`` with only br-int and the L3 agent's namespaces: ``routers``
   routers, each with its gateway on a flat external network, one interface on its own
   tenant subnet and ``fips`` floating IPs on ports of that subnet (unplugged ports: DNAT
   and SNAT rules need only their addresses). Then ``fermion agent l3 --once`` twice: cold
   (every namespace, veth, address, rule set and haproxy made) and no change. Both run under
   ``bench.l3_profile`` (the same ``fermion.cli.main``), which counts and times every
   command the agent runs and each step of the pass, so the report says where the time goes.

Everything made here — server, agent processes (tracked by pid, own process group,
``PR_SET_PDEATHSIG``), haproxy daemons (by the agent's pid files), router namespaces (named
with the host's prefix through ``--namespace-prefix``), hosts — is removed on the way out,
also on failure or Ctrl-C. ``python -m bench.run --suite l3`` runs this and writes the report
(``bench.l3_report``). Needs root.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.agent_lab import (
    PROBE,
    Lab,
    _children_cpu_s,
    _wait,
    load_meter,
    parse_probe,
    run_phases,
    summary_ms,
    tree_cpu_s,
)
from bench.proc import _die_with_parent
from bench.report import REPO
from bench.servers import FermionServer, fermion_executable
from fermion.lab.host import Host, Instance, plug_instance
from fermion.linux import netns as ns

Log = Callable[[str], None]

EXT_CIDR, EXT_GW = "172.24.4.0/24", "172.24.4.1"
PING = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
RESYNC_EXT_CIDR = "172.30.0.0/20"  # 100 gateways + 1,000 floating IPs
# PROBE, announcing itself once its interpreter runs (so timing starts after its start-up)
READY_PROBE = "print('READY', flush=True)\n" + PROBE


@dataclass
class L3Config:
    samples: int = 25
    routers: int = 100
    fips: int = 10  # floating IPs per router in the resync
    timeout: float = 30.0  # per sample, for the first echo reply
    settle: float = 1.0  # before each sample, the agents must have been idle this long

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- pure helpers ---------------------------------------------------------------------------

def subnet_cidr(base: str, index: int, prefix: int = 24) -> str:
    """The ``index``-th /``prefix`` inside ``base`` (``10.70.0.0/16``, 3 → ``10.70.3.0/24``)."""
    net = ipaddress.ip_network(base)
    count = 2 ** (prefix - net.prefixlen)
    if not 0 <= index < count:
        raise ValueError(f"{base} holds {count} /{prefix} subnets, not {index + 1}")
    step = 2 ** (net.max_prefixlen - prefix)
    return str(ipaddress.ip_network((int(net.network_address) + index * step, prefix)))


def first_host(cidr: str) -> str:
    """The first host address of a subnet (the router's interface by Neutron's default)."""
    return str(next(ipaddress.ip_network(cidr).hosts()))


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ "
                       r"fermion\.agent\.l3_apply: router (\S+): (.*)$", re.M)


def applied_at(log_text: str, router_id: str, after: float) -> float | None:
    """Epoch time of the L3 agent's first ``router <id>: <changes>`` log line (written when
    a pass has finished a router it changed) at or after ``after`` (epoch seconds), else
    None. The agent logs with ``logging``'s default ``asctime`` (local time, milliseconds)."""
    for m in _LOG_LINE.finditer(log_text):
        if m.group(2) != router_id:
            continue
        stamp = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if stamp >= after - 0.001:
            return stamp
    return None


def command_table(profile: dict[str, Any], wall_s: float, top: int = 12
                  ) -> list[dict[str, Any]]:
    """The profile's command kinds by total time, with the share of ``wall_s`` each took;
    the rest folded into one ``other`` row."""
    rows = sorted(({"kind": k, **v} for k, v in profile.get("commands", {}).items()),
                  key=lambda r: r["total_s"], reverse=True)
    head, tail = rows[:top], rows[top:]
    if tail:
        head.append({"kind": f"other ({len(tail)} kinds)",
                     "count": sum(r["count"] for r in tail),
                     "total_s": round(sum(r["total_s"] for r in tail), 3),
                     "max_ms": max(r["max_ms"] for r in tail)})
    for r in head:
        r["mean_ms"] = round(1000 * r["total_s"] / r["count"], 2) if r["count"] else 0.0
        r["share"] = round(r["total_s"] / wall_s, 3) if wall_s > 0 else 0.0
    return head


def profile_totals(profile: dict[str, Any]) -> dict[str, float]:
    """Commands run and their summed wall time."""
    cmds = profile.get("commands", {}).values()
    return {"commands_run": sum(c["count"] for c in cmds),
            "commands_s": round(sum(c["total_s"] for c in cmds), 3),
            "background_run": sum(profile.get("background", {}).values())}


# -- the lab --------------------------------------------------------------------------------

class L3Server(FermionServer):
    """A Fermion server whose project may hold any number of routers and floating IPs."""

    def prepare(self) -> None:
        super().prepare()
        assert self.workdir is not None
        with open(self.workdir / "neutron.conf", "a") as f:  # [quotas] is the last section
            f.write("quota_router = -1\nquota_floatingip = -1\nquota_security_group = -1\n")


def cleanup_l3(host: Host) -> None:
    """What the L3 agent made on ``host`` that the host's own teardown does not know: its
    haproxy daemons (by their pid files, command line checked) and the prefixed qrouter
    namespaces (whose veths take their OVS ends along)."""
    from fermion.agent.l3_apply import stop_metadata_proxy
    from fermion.agent.metadata_proxy import ProxyConfig

    for pidfile in sorted((host.rundir / "l3" / "ns-metadata-proxy").glob("*.pid")):
        stop_metadata_proxy(ProxyConfig.for_router(pidfile.stem, "", str(pidfile)))
    for name in ns.list_netns():
        if name.startswith(f"{host.ns}-qrouter-"):
            ns.delete_netns(name)


class L3Lab(Lab):
    """``bench.l2_bench.Lab`` (server, hosts, tracked processes) with the L3 pieces."""

    def __init__(self, log: Log):
        super().__init__(log)
        self.server = L3Server(log=log)

    def network_node(self, name: str = "net") -> Host:
        host = self.add_host(name)
        host.teardown.add("L3 agent leftovers", cleanup_l3, host)
        return host

    # -- agents ---------------------------------------------------------------------------
    def l3_argv(self, host: Host, *extra: str) -> list[str]:
        return [str(fermion_executable()), "agent", "l3", "--host", host.name,
                "--server", self.server.url, "--ovs-rundir", str(host.rundir),
                "--datapath-type", host.ovs.datapath_type, "--ovs-netns", host.ns,
                "--namespace-prefix", f"{host.ns}-", "--state-path", str(host.rundir / "l3"),
                "--metadata-proxy-socket", str(host.rundir / "md.sock"), *extra]

    def l2_argv(self, host: Host, *extra: str) -> list[str]:
        return self.agent_argv(host, "--tunnel-types", "vxlan", "--local-ip",
                               host.local_ip or "", *extra)

    def wait_log(self, name: str, needle: str, proc: subprocess.Popen[bytes],
                 timeout: float = 60.0) -> None:
        def dead() -> str | None:
            if proc.poll() is None:
                return None
            return f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}"

        def found() -> bool:
            with contextlib.suppress(OSError):
                return needle in (self.tmp / f"{name}.log").read_text(errors="replace")
            return False

        _wait(found, timeout, f"{needle!r} in the log of {name}", dead)

    def l3_once(self, host: Host, profile: Path | None = None) -> dict[str, Any]:
        """One ``fermion agent l3 --once`` pass (under ``bench.l3_profile`` when ``profile``
        names its output): wall and CPU seconds, the summary's counts, the profile."""
        argv = self.l3_argv(host, "--once")
        if profile is not None:
            argv = [sys.executable, "-m", "bench.l3_profile", str(profile), "--", *argv[1:]]
        cpu0, t0 = _children_cpu_s(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600,
                              stdin=subprocess.DEVNULL, cwd=REPO)
        wall, cpu = time.monotonic() - t0, _children_cpu_s() - cpu0
        if proc.returncode != 0:
            raise RuntimeError(f"agent l3 --once failed ({proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-1500:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        out: dict[str, Any] = {
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "routers": len(res.get("routers", [])),
            "routers_changed": len(res.get("changes", {})),
            "changes": sum(len(v) for v in res.get("changes", {}).values()),
            "iptables_rewritten": len(res.get("iptables_changed", {})),
            "fips_added": len(res.get("fips_added", [])),
            "metadata_proxies": _count(res.get("metadata_proxy", {}).values())}
        if profile is not None:
            out["profile"] = json.loads(profile.read_text())
            out["profile"].update(profile_totals(out["profile"]))
        return out

    # -- API ------------------------------------------------------------------------------
    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return next(iter(self.api.expect("POST", path, body).values()))

    def external_network(self, cidr: str, pool: tuple[str, str]) -> str:
        net = self.post("/v2.0/networks", {"network": {
            "name": "public", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": "physnet"}})
        self.post("/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "cidr": cidr, "gateway_ip": first_host(cidr),
            "ip_version": 4, "enable_dhcp": False,
            "allocation_pools": [{"start": pool[0], "end": pool[1]}]}})
        return net["id"]

    def tenant_network(self, name: str, cidr: str) -> tuple[str, str]:
        net = self.post("/v2.0/networks", {"network": {"name": name}})
        sub = self.post("/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": False}})
        return net["id"], sub["id"]

    def router(self, name: str, ext_net: str) -> str:
        return self.post("/v2.0/routers", {"router": {
            "name": name, "external_gateway_info": {"network_id": ext_net}}})["id"]

    def open_group(self) -> str:
        sg = self.post("/v2.0/security-groups", {"security_group": {"name": "open"}})["id"]
        self.post("/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": sg, "direction": "ingress", "ethertype": "IPv4",
            "remote_ip_prefix": "0.0.0.0/0"}})
        return sg

    def port_status(self, port_id: str) -> str:
        return self.api.expect("GET", f"/v2.0/ports/{port_id}")["port"]["status"]


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# -- phase 1: API write → traffic -------------------------------------------------------------

@dataclass
class Topology:
    net: Host
    cmp: Host
    ext_ns: str
    ext_dev: str
    ext_net: str
    group: str
    router: str
    router_ns: str
    agents: dict[str, subprocess.Popen[bytes]]


def _build_latency_lab(lab: L3Lab, cfg: L3Config, rep: Any) -> Topology:
    log = rep.log
    assert lab.group is not None
    net, cmp = lab.network_node("net"), lab.add_host("cmp")
    ul = lab.group.add_underlay("ul")
    ul.attach(net, "192.168.100.1/24")
    ul.attach(cmp, "192.168.100.2/24")
    ext = lab.group.add_underlay("ex")
    ext.attach(net, ifname="ex0", ovs_bridge=None)
    ns.add_address(ext.BRIDGE, f"{EXT_GW}/24", netns=ext.ns)
    log("[l3] hosts net and cmp up; starting the agents (daemons, default intervals)")
    agents = {"l3-net": lab.spawn(lab.l3_argv(net), "l3-net")}
    lab.wait_log("l3-net", "pass 1 ", agents["l3-net"])  # reported: routers come here
    agents["l2-net"] = lab.spawn(lab.l2_argv(net, "--bridge-mappings", "physnet:br-ex"),
                                 "l2-net")
    agents["l2-cmp"] = lab.spawn(lab.l2_argv(cmp), "l2-cmp")
    _wait(lambda: "br-ex" in net.ovs.list_bridges(), 60, "the L2 agent's br-ex",
          _dead(lab, agents))
    net.ovs.add_port("br-ex", "ex0")  # the operator's part: the NIC on the external bridge
    ext_net = lab.external_network(EXT_CIDR, ("172.24.4.10", "172.24.4.250"))
    group = lab.open_group()
    router = lab.router("l3b-latency", ext_net)
    router_ns = f"{net.ns}-qrouter-{router}"
    gw = lab.api.expect("GET", f"/v2.0/ports?device_id={router}")["ports"][0]
    _wait(lambda: lab.port_status(gw["id"]) == "ACTIVE", 60, "the router's gateway port "
          "ACTIVE", _dead(lab, agents))
    _wait(lambda: ns.netns_exists(router_ns) and ns.exec_in(
        router_ns, [*PING, "-c1", "-W1", EXT_GW], check=False).returncode == 0, 60,
        "the router reaching the external host", _dead(lab, agents))
    log(f"[l3] router {router} up, its gateway reaches {EXT_GW}")
    return Topology(net, cmp, ext.ns, ext.BRIDGE, ext_net, group, router, router_ns, agents)


def _dead(lab: L3Lab, agents: dict[str, subprocess.Popen[bytes]]
          ) -> Callable[[], str | None]:
    def check() -> str | None:
        for name, proc in agents.items():
            if proc.poll() is not None:
                return f"agent {name} exited with {proc.returncode}:\n{lab.log_tail(name)}"
        return None

    return check


class Probe:
    """``PROBE`` in a namespace towards ``dst``; started (its interpreter running) on
    return; ``result()`` is the monotonic time of the first echo reply, or None."""

    def __init__(self, netns: str, dst: str, dev: str, timeout: float):
        self.proc = subprocess.Popen(
            ns.netns_argv(netns, [sys.executable, "-c", READY_PROBE, dst, str(timeout), dev]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True, preexec_fn=_die_with_parent)
        self.timeout = timeout
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            self.kill()
            raise RuntimeError(f"probe did not start: {self.proc.stderr.read()[-500:]}"
                               if self.proc.stderr else "probe did not start")

    def done(self) -> bool:
        return self.proc.poll() is not None

    def result(self) -> float | None:
        try:
            out, _ = self.proc.communicate(timeout=self.timeout + 10)
        finally:
            self.kill()
        return parse_probe(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def quiesce(agents: dict[str, subprocess.Popen[bytes]], quiet: float, timeout: float = 60.0
            ) -> float:
    """Wait until the agents (process trees, with the children they reaped) have used no
    CPU for ``quiet`` seconds — every pass a previous change set off has ended; returns the
    seconds waited (``timeout`` at most)."""
    t0 = time.monotonic()
    pids = [p.pid for p in agents.values()]

    def cpu() -> float:
        return sum(tree_cpu_s(pid) for pid in pids)

    last, since = cpu(), time.monotonic()
    while time.monotonic() - t0 < timeout:
        time.sleep(0.1)
        now = cpu()
        if now - last > 0.005:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return round(time.monotonic() - t0, 2)


def _rel(t: float | None, base: float) -> float | None:
    return None if t is None else round(t - base, 4)


def _add_subnet_sample(lab: L3Lab, topo: Topology, i: int, cfg: L3Config
                       ) -> tuple[dict[str, float | None], Instance, dict[str, Any]]:
    cidr = subnet_cidr("10.70.0.0/16", i)
    net_id, subnet = lab.tenant_network(f"l3b-{i}", cidr)
    port = lab.post("/v2.0/ports", {"port": {"network_id": net_id, "name": f"vm-{i}",
                                             "binding:host_id": topo.cmp.name,
                                             "security_groups": [topo.group]}})
    ip = port["fixed_ips"][0]["ip_address"]
    vm = plug_instance(topo.cmp, f"v{i}", port["mac_address"], f"{ip}/24",
                       iface_id=port["id"], gateway=first_host(cidr), mtu=1450)
    _wait(lambda: lab.port_status(port["id"]) == "ACTIVE", cfg.timeout,
          f"instance port {i} ACTIVE", _dead(lab, topo.agents))
    settled = quiesce(topo.agents, cfg.settle)
    probe = Probe(vm.ns, EXT_GW, vm.dev, cfg.timeout)
    try:
        t0, t0_epoch = time.monotonic(), time.time()
        res = lab.api.expect("PUT", f"/v2.0/routers/{topo.router}/add_router_interface",
                             {"subnet_id": subnet})
        t_api = time.monotonic()
        t_active = None
        deadline = t0 + cfg.timeout
        while time.monotonic() < deadline and t_active is None:
            if lab.port_status(res["port_id"]) == "ACTIVE":
                t_active = time.monotonic()
                break
            time.sleep(0.02)
        t_ping = probe.result()
    finally:
        probe.kill()
    return ({"api_s": _rel(t_api, t0), "l3_applied_s": _applied(lab, topo, t0_epoch),
             "active_s": _rel(t_active, t0), "ping_s": _rel(t_ping, t0),
             "settled_s": settled}, vm, port)


def _applied(lab: L3Lab, topo: Topology, t0_epoch: float, wait: float = 15.0
             ) -> float | None:
    """Seconds from ``t0_epoch`` to the L3 agent's log line for the router (waited for: the
    line is written when the pass has finished the router, which may be after the ping)."""
    deadline = time.monotonic() + wait
    while True:
        with contextlib.suppress(OSError):
            text = (lab.tmp / "l3-net.log").read_text(errors="replace")
            if (at := applied_at(text, topo.router, t0_epoch)) is not None:
                return round(at - t0_epoch, 4)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _fip_sample(lab: L3Lab, topo: Topology, fip: dict[str, Any], port: dict[str, Any],
                cfg: L3Config) -> dict[str, float | None]:
    settled = quiesce(topo.agents, cfg.settle)
    address = fip["floating_ip_address"]
    probe = Probe(topo.ext_ns, address, topo.ext_dev, cfg.timeout)
    try:
        t0, t0_epoch = time.monotonic(), time.time()
        lab.api.expect("PUT", f"/v2.0/floatingips/{fip['id']}",
                       {"floatingip": {"port_id": port["id"]}})
        t_api = time.monotonic()
        t_ping = probe.result()
    finally:
        probe.kill()
    return {"api_s": _rel(t_api, t0), "l3_applied_s": _applied(lab, topo, t0_epoch),
            "ping_s": _rel(t_ping, t0), "settled_s": settled}


def _series(samples: list[dict[str, float | None]], key: str) -> list[float]:
    return [s[key] for s in samples if s.get(key) is not None]  # type: ignore[misc]


def _latency_result(samples: list[dict[str, float | None]], keys: Sequence[str]
                    ) -> dict[str, Any]:
    tenth = max(1, len(samples) // 10)
    out: dict[str, Any] = {"n": len(samples),
                           "never": sum(1 for s in samples if s.get("ping_s") is None)}
    for key in keys:
        out[f"{key[:-2]}_ms"] = summary_ms(_series(samples, key))
    out["ping_first_tenth_ms"] = summary_ms(_series(samples[:tenth], "ping_s"))
    out["ping_last_tenth_ms"] = summary_ms(_series(samples[-tenth:], "ping_s"))
    out["samples"] = samples
    return out


def phase_latency(cfg: L3Config, rep: Any) -> dict[str, Any]:
    with L3Lab(rep.log) as lab:
        topo = _build_latency_lab(lab, cfg, rep)
        out: dict[str, Any] = {
            "server": lab.server.version(),
            "agents": {k: " ".join(["fermion", *_short(v.args)])
                       for k, v in topo.agents.items()},
            "samples": cfg.samples, "probe_interval_ms": 10, "settle_s": cfg.settle}

        def agent_pids() -> dict[str, list[int]]:
            return {"server": [lab.server.pid or 0], "l3_agent": [topo.agents["l3-net"].pid],
                    "l2_agents": [topo.agents["l2-net"].pid, topo.agents["l2-cmp"].pid],
                    "ovs": lab.ovs_pids()}

        l3_cpu0 = tree_cpu_s(topo.agents["l3-net"].pid)
        samples_a: list[dict[str, float | None]] = []
        vms: list[tuple[Instance, dict[str, Any]]] = []
        with load_meter(agent_pids) as load_a:
            with rep.task("router add subnet → instance pings the external host",
                          cfg.samples) as advance:
                for i in range(cfg.samples):
                    sample, vm, port = _add_subnet_sample(lab, topo, i, cfg)
                    samples_a.append(sample)
                    vms.append((vm, port))
                    if (why := _dead(lab, topo.agents)()) is not None:
                        raise RuntimeError(why)
                    advance(1)
        out["add_subnet"] = {**_latency_result(samples_a, ("api_s", "l3_applied_s",
                                                           "active_s", "ping_s")),
                             "machine_load": load_a}
        rep.log(f"[l3] router add subnet → ping: {out['add_subnet']['ping_ms']}")
        fips = [lab.post("/v2.0/floatingips", {"floatingip": {
            "floating_network_id": topo.ext_net}}) for _ in vms]
        samples_b: list[dict[str, float | None]] = []
        with load_meter(agent_pids) as load_b:
            with rep.task("floating ip set → the external host pings the instance",
                          len(vms)) as advance:
                for fip, (_vm, port) in zip(fips, vms, strict=True):
                    samples_b.append(_fip_sample(lab, topo, fip, port, cfg))
                    if (why := _dead(lab, topo.agents)()) is not None:
                        raise RuntimeError(why)
                    advance(1)
        out["fip_set"] = {**_latency_result(samples_b, ("api_s", "l3_applied_s", "ping_s")),
                          "machine_load": load_b}
        rep.log(f"[l3] floating ip set → ping: {out['fip_set']['ping_ms']}")
        out["l3_agent_cpu_s"] = round(tree_cpu_s(topo.agents["l3-net"].pid) - l3_cpu0, 1)
        return out


def _short(argv: Sequence[str]) -> list[str]:
    """An agent's argv without the per-run values (paths, URL, prefix)."""
    out, skip = [], False
    for w in list(argv)[1:]:
        if skip:
            skip = False
            continue
        if w in ("--server", "--ovs-rundir", "--ovs-netns", "--namespace-prefix",
                 "--state-path", "--metadata-proxy-socket", "--local-ip"):
            skip = True
            continue
        out.append(w)
    return out


# -- phase 2: resync of many routers -----------------------------------------------------------

def phase_resync(cfg: L3Config, rep: Any) -> dict[str, Any]:
    log = rep.log
    with L3Lab(log) as lab:
        host = lab.network_node("net")
        host.ovs.add_bridge("br-int")  # the L2 agent's; the L3 agent plugs into it
        out: dict[str, Any] = {"server": lab.server.version(), "routers": cfg.routers,
                               "fips_per_router": cfg.fips,
                               "agent_command": " ".join(
                                   ["fermion", *_short(lab.l3_argv(host, "--once"))])}
        out["empty_pass"] = lab.l3_once(host)  # reports: routers are scheduled here
        t0 = time.monotonic()
        ext_net = lab.external_network(RESYNC_EXT_CIDR, ("172.30.0.10", "172.30.15.250"))
        with rep.task(f"create {cfg.routers} routers (gateway, one subnet, "
                      f"{cfg.fips} floating IPs each)", cfg.routers) as advance:
            for r in range(cfg.routers):
                _resync_router(lab, ext_net, r, cfg.fips)
                advance(1)
        out["api_create_s"] = round(time.monotonic() - t0, 1)
        passes: dict[str, Any] = {}
        with load_meter(lambda: {"server": [lab.server.pid or 0],
                                 "ovs": lab.ovs_pids()}) as load:
            log(f"[l3] resync: cold pass over {cfg.routers} routers …")
            passes["cold"] = lab.l3_once(host, lab.tmp / "profile-cold.json")
            log(f"[l3]   cold: {_brief(passes['cold'])}")
            passes["no_change"] = lab.l3_once(host, lab.tmp / "profile-no-change.json")
            log(f"[l3]   no change: {_brief(passes['no_change'])}")
        out.update({"passes": passes, "machine_load": load, "made": _census(host)})
        log(f"[l3]   made: {out['made']}")
        return out


def _resync_router(lab: L3Lab, ext_net: str, r: int, fips: int) -> None:
    net_id, subnet = lab.tenant_network(f"rs-{r}", subnet_cidr("10.80.0.0/16", r))
    rid = lab.router(f"rs-{r}", ext_net)
    lab.api.expect("PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": subnet})
    ports = lab.api.expect("POST", "/v2.0/ports", {"ports": [
        {"network_id": net_id, "name": f"rs-{r}-{k}"} for k in range(fips)]})["ports"]
    for p in ports:
        lab.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext_net,
                                                      "port_id": p["id"]}})


def _census(host: Host) -> dict[str, int]:
    """What the agent made: router namespaces, live haproxy daemons, qr-/qg- ports on
    br-int, floating IP addresses on qg- devices and nat rules (in one router)."""
    from fermion.linux.proc import pid_alive

    spaces = [n for n in ns.list_netns() if n.startswith(f"{host.ns}-qrouter-")]
    live = 0
    for pidfile in (host.rundir / "l3" / "ns-metadata-proxy").glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            live += pid_alive(int(pidfile.read_text()))
    ports = [p for p in host.ovs.list_ports("br-int") if p[:3] in ("qr-", "qg-")]
    out = {"namespaces": len(spaces), "haproxy": live, "ovs_ports": len(ports)}
    if spaces:
        one = spaces[0]
        addrs = ns.exec_in(one, ["ip", "-4", "-o", "addr"]).stdout
        out["fip_addresses_in_one"] = sum(1 for line in addrs.splitlines()
                                          if "/32" in line and " qg-" in line)
        nat = ns.exec_in(one, ["iptables-save", "-t", "nat"]).stdout
        out["nat_rules_in_one"] = sum(1 for line in nat.splitlines() if line.startswith("-A"))
    return out


def _brief(p: dict[str, Any]) -> str:
    prof = p.get("profile", {})
    return (f"{p['wall_s']:.1f} s wall, {p['cpu_s']:.1f} s CPU, {p['routers_changed']} "
            f"routers changed, {prof.get('commands_run', 0)} commands "
            f"({prof.get('commands_s', 0):.1f} s), {prof.get('background_run', 0)} background")


# -- all of it ---------------------------------------------------------------------------------

PHASES: dict[str, Callable[[L3Config, Any], dict[str, Any]]] = {
    "latency": phase_latency, "resync": phase_resync}


def run_l3_bench(cfg: L3Config, rep: Any, phases: Sequence[str] = tuple(PHASES)
                ) -> dict[str, Any]:
    """Each phase in turn; a failed phase is recorded (``error``) and the next one runs."""
    return run_phases("l3", "L3 agent", PHASES, cfg, rep, phases)


if __name__ == "__main__":
    import argparse

    from bench.api_bench import PlainReporter
    from bench.proc import install_signal_handlers

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", action="append", choices=tuple(PHASES))
    parser.add_argument("--samples", type=int, default=25)
    parser.add_argument("--routers", type=int, default=100)
    parser.add_argument("--fips", type=int, default=10)
    a = parser.parse_args()
    install_signal_handlers()
    config = L3Config(samples=a.samples, routers=a.routers, fips=a.fips)
    result = run_l3_bench(config, PlainReporter(), a.phase or tuple(PHASES))
    for phase in result.values():
        for key in ("add_subnet", "fip_set"):
            phase.get(key, {}).pop("samples", None)
    print(json.dumps(result, indent=2))
