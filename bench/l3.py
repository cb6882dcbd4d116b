"""The l3 suite: the L3 agent on simulated hosts — API write to traffic (``latency``: a
network node and a compute node with all agents running; ``router add subnet`` and
``floating ip set`` timed to the first echo reply) and the resync of many routers
(``resync``: ``--once`` passes under ``bench.profile``). What each measures, and how, is
written once, in ``sections/l3.md``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import harness as h
from bench.harness import Reporter, Suite, fmt, knob
from bench.lab import Lab, Probe, quiesce, short_command
from bench.profile import profile_lines
from fermion.lab.host import Host, Underlay, plug_instance
from fermion.linux import netns as ns
from fermion.linux.proc import pid_alive
from fermion.linux.process import read_pidfile

EXT_CIDR, EXT_GW = "172.24.4.0/24", "172.24.4.1"
PING = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
PHASES = ("latency", "resync")


@dataclass
class L3Config:
    """the L3 agent on simulated hosts; needs root"""

    samples: int = knob(25, "router add subnet, and floating ip set, timed to traffic each")
    routers: int = knob(100, "routers on the host for the resync passes")
    fips: int = knob(10, "floating IPs per router in the resync")
    timeout: float = knob(30.0, "seconds a sample may take to its first echo reply")
    settle: float = knob(1.0, "seconds the agents must have used no CPU before each sample")
    phases: tuple[str, ...] = knob(PHASES, "phases to run", choices=PHASES)


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
        stamp = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if m.group(2) == router_id and stamp >= after - 0.001:
            return stamp
    return None


def external_network(lab: Lab, cidr: str, pool: tuple[str, str]) -> str:
    net = lab.api.post("/v2.0/networks", {"network": {
        "name": "public", "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": "physnet"}})
    lab.api.post("/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": cidr, "gateway_ip": first_host(cidr),
        "ip_version": 4, "enable_dhcp": False,
        "allocation_pools": [{"start": pool[0], "end": pool[1]}]}})
    return net["id"]


def router(lab: Lab, name: str, ext_net: str) -> str:
    return lab.api.post("/v2.0/routers", {"router": {
        "name": name, "external_gateway_info": {"network_id": ext_net}}})["id"]


# -- phase 1: API write → traffic -------------------------------------------------------------

@dataclass
class Topology:
    net: Host
    cmp: Host
    ext_ns: str
    ext_net: str
    group: str
    router: str


def build(lab: Lab, rep: Reporter) -> Topology:
    assert lab.group is not None
    net, cmp = lab.add_host("net", agent="l3"), lab.add_host("cmp")
    ul = lab.group.add_underlay("ul")
    ul.attach(net, "192.168.100.1/24")
    ul.attach(cmp, "192.168.100.2/24")
    ext = lab.group.add_underlay("ex")
    ext.attach(net, ifname="ex0", ovs_bridge=None)
    ns.add_address(ext.BRIDGE, f"{EXT_GW}/24", netns=ext.ns)
    rep.log("[l3] hosts net and cmp up; starting the agents (daemons, default intervals)")
    lab.agent("l3", net)
    lab.wait(lambda: "pass 1 " in lab.log_text("l3-net"), 60, "the L3 agent's first pass")
    for host, extra in ((net, ("--bridge-mappings", "physnet:br-ex")), (cmp, ())):
        lab.agent("l2", host, "--tunnel-types", "vxlan", "--local-ip", host.local_ip or "",
                  *extra)
    lab.wait(lambda: "br-ex" in net.ovs.list_bridges(), 60, "the L2 agent's br-ex")
    net.ovs.add_port("br-ex", "ex0")  # the operator's part: the NIC on the external bridge
    ext_net = external_network(lab, EXT_CIDR, ("172.24.4.10", "172.24.4.250"))
    group = lab.group_from("open", "0.0.0.0/0")
    rid = router(lab, "l3b-latency", ext_net)
    router_ns = f"{net.ns}-qrouter-{rid}"
    gw = lab.api.expect("GET", f"/v2.0/ports?device_id={rid}")["ports"][0]
    lab.wait(lambda: lab.port_status(gw["id"]) == "ACTIVE", 60, "the router's gateway ACTIVE")
    lab.wait(lambda: ns.netns_exists(router_ns) and ns.exec_in(
        router_ns, [*PING, "-c1", "-W1", EXT_GW], check=False).returncode == 0, 60,
        "the router reaching the external host")
    rep.log(f"[l3] router {rid} up, its gateway reaches {EXT_GW}")
    return Topology(net, cmp, ext.ns, ext_net, group, rid)


def applied(lab: Lab, topo: Topology, t0_epoch: float, wait: float = 15.0) -> float | None:
    """Seconds from ``t0_epoch`` to the L3 agent's log line for the router (waited for: it
    is written when the pass has finished the router, which may be after the ping)."""
    deadline = time.monotonic() + wait
    while time.monotonic() <= deadline:
        if (at := applied_at(lab.log_text("l3-net"), topo.router, t0_epoch)) is not None:
            return round(at - t0_epoch, 4)
        time.sleep(0.05)
    return None


def timed_put(lab: Lab, topo: Topology, probe: Probe, path: str, body: dict[str, Any],
              active_of: str = "") -> dict[str, float | None]:
    """PUT ``path``; seconds to its answer, to the probe's first reply, to the agent's log
    line and (``active_of``: the answer's key naming a port) to that port's ACTIVE."""
    try:
        t0, t0_epoch = time.monotonic(), time.time()
        res = lab.api.expect("PUT", path, body)
        out = {"api_s": round(time.monotonic() - t0, 4)}
        if active_of:
            ok = lab.wait_active(res[active_of], probe.timeout, interval=0.02)
            out["active_s"] = None if ok is None else round(ok - t0, 4)
        ping = probe.result()
    finally:
        probe.kill()
    return out | {"l3_applied_s": applied(lab, topo, t0_epoch),
                  "ping_s": None if ping is None else round(ping - t0, 4)}


def add_subnet_sample(lab: Lab, topo: Topology, i: int, cfg: L3Config
                      ) -> tuple[dict[str, float | None], dict[str, Any]]:
    cidr = subnet_cidr("10.70.0.0/16", i)
    net_id, subnet = lab.network(f"l3b-{i}", cidr)
    port = lab.api.post("/v2.0/ports", {"port": {"network_id": net_id, "name": f"vm-{i}",
                                                 "binding:host_id": topo.cmp.name,
                                                 "security_groups": [topo.group]}})
    vm = plug_instance(topo.cmp, f"v{i}", port["mac_address"],
                                 f"{port['fixed_ips'][0]['ip_address']}/24",
                                 iface_id=port["id"], gateway=first_host(cidr), mtu=1450)
    lab.wait(lambda: lab.port_status(port["id"]) == "ACTIVE", cfg.timeout,
             f"instance port {i} ACTIVE")
    settled = quiesce([p.pid for p in lab.procs.values()], cfg.settle)
    probe = Probe(vm.ns, EXT_GW, vm.dev, cfg.timeout)
    return timed_put(lab, topo, probe, f"/v2.0/routers/{topo.router}/add_router_interface",
                     {"subnet_id": subnet}, "port_id") | {"settled_s": settled}, port


def fip_sample(lab: Lab, topo: Topology, fip: dict[str, Any], port: dict[str, Any],
               cfg: L3Config) -> dict[str, float | None]:
    settled = quiesce([p.pid for p in lab.procs.values()], cfg.settle)
    probe = Probe(topo.ext_ns, fip["floating_ip_address"], Underlay.BRIDGE, cfg.timeout)
    return timed_put(lab, topo, probe, f"/v2.0/floatingips/{fip['id']}",
                     {"floatingip": {"port_id": port["id"]}}) | {"settled_s": settled}


def phase_latency(cfg: L3Config, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        topo = build(lab, rep)  # the routers come to the L3 agent once it has reported
        agents = dict(lab.procs)
        out: dict[str, Any] = {
            "server": lab.server.version(), "samples": cfg.samples, "probe_interval_ms": 10,
            "settle_s": cfg.settle, "agents": {k: short_command(v.args) for k, v in agents.items()}}

        def pids() -> dict[str, list[int]]:
            return {"server": [lab.server.pid or 0], "l3_agent": [agents["l3-net"].pid],
                    "l2_agents": [agents["l2-net"].pid, agents["l2-cmp"].pid],
                    "ovs": lab.ovs_pids()}

        def series(samples: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
            return {"n": len(samples), "never": sum(s.get("ping_s") is None for s in samples),
                    **h.summaries(samples, keys, tenth="ping"), "samples": samples}

        l3_cpu0 = h.tree_cpu_s(agents["l3-net"].pid)
        pairs, load = lab.series(rep, "router add subnet → instance pings the external host",
                                 range(cfg.samples), lambda i: add_subnet_sample(lab, topo, i, cfg),
                                 pids)
        out["add_subnet"] = series([s for s, _ in pairs], ("api", "l3_applied", "active",
                                                           "ping")) | {"machine_load": load}
        rep.log(f"[l3] router add subnet → ping: {out['add_subnet']['ping_ms']}")
        fips = [lab.api.post("/v2.0/floatingips", {"floatingip": {
            "floating_network_id": topo.ext_net}}) for _ in pairs]
        samples, load = lab.series(rep, "floating ip set → the external host pings the instance",
                                   list(zip(fips, [p for _, p in pairs], strict=True)),
                                   lambda fp: fip_sample(lab, topo, *fp, cfg), pids)
        out["fip_set"] = series(samples, ("api", "l3_applied", "ping")) | {"machine_load": load}
        rep.log(f"[l3] floating ip set → ping: {out['fip_set']['ping_ms']}")
        return out | {"l3_agent_cpu_s": round(h.tree_cpu_s(agents["l3-net"].pid) - l3_cpu0, 1)}


# -- phase 2: resync of many routers -----------------------------------------------------------

def once(lab: Lab, host: Host, profile: str = "") -> dict[str, Any]:
    out, res = lab.once("l3", host, profile=profile)
    proxies: dict[str, int] = {}
    for what in res.get("metadata_proxy", {}).values():
        proxies[what] = proxies.get(what, 0) + 1
    return out | {"routers": len(res.get("routers", [])),
                  "routers_changed": len(res.get("changes", {})),
                  "changes": sum(len(v) for v in res.get("changes", {}).values()),
                  "iptables_rewritten": len(res.get("iptables_changed", {})),
                  "fips_added": len(res.get("fips_added", [])), "metadata_proxies": proxies}


def census(host: Host) -> dict[str, int]:
    """What the agent made: router namespaces, live haproxy daemons, qr-/qg- ports on
    br-int, floating IP addresses on qg- devices and nat rules (in one router)."""
    spaces = [n for n in ns.list_netns() if n.startswith(f"{host.ns}-qrouter-")]
    pidfiles = (host.rundir / "l3" / "ns-metadata-proxy").glob("*.pid")
    out = {"namespaces": len(spaces),
           "haproxy": sum(1 for f in pidfiles if (p := read_pidfile(f)) and pid_alive(p)),
           "ovs_ports": sum(1 for p in host.ovs.list_ports("br-int") if p[:3] in ("qr-", "qg-"))}
    if spaces:
        addrs = ns.exec_in(spaces[0], ["ip", "-4", "-o", "addr"]).stdout.splitlines()
        nat = ns.exec_in(spaces[0], ["iptables-save", "-t", "nat"]).stdout.splitlines()
        out["fip_addresses_in_one"] = sum(1 for x in addrs if "/32" in x and " qg-" in x)
        out["nat_rules_in_one"] = sum(1 for x in nat if x.startswith("-A"))
    return out


def phase_resync(cfg: L3Config, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        host = lab.add_host("net", agent="l3")
        host.ovs.add_bridge("br-int")  # the L2 agent's; the L3 agent plugs into it
        out: dict[str, Any] = {
            "server": lab.server.version(), "routers": cfg.routers, "fips_per_router": cfg.fips,
            "agent_command": short_command(lab.agent_argv("l3", host, "--once")),
            "empty_pass": once(lab, host)}  # it reports: routers are scheduled here
        t0 = time.monotonic()
        ext_net = external_network(lab, "172.30.0.0/20", ("172.30.0.10", "172.30.15.250"))
        with rep.task(f"create {cfg.routers} routers (gateway, one subnet, {cfg.fips} "
                      "floating IPs each)", cfg.routers) as advance:
            for r in range(cfg.routers):
                net_id, subnet = lab.network(f"rs-{r}", subnet_cidr("10.80.0.0/16", r))
                lab.api.expect("PUT", f"/v2.0/routers/{router(lab, f'rs-{r}', ext_net)}"
                               "/add_router_interface", {"subnet_id": subnet})
                for p in lab.api.post("/v2.0/ports", {"ports": [
                        {"network_id": net_id, "name": f"rs-{r}-{k}"} for k in range(cfg.fips)]}):
                    lab.api.post("/v2.0/floatingips", {"floatingip": {
                        "floating_network_id": ext_net, "port_id": p["id"]}})
                advance(1)
        out["api_create_s"] = round(time.monotonic() - t0, 1)
        passes: dict[str, Any] = {}
        with h.load_meter(lambda: {"server": [lab.server.pid or 0],
                                   "ovs": lab.ovs_pids()}) as load:
            for key in ("cold", "no_change"):
                rep.log(f"[l3] resync: {key} pass over {cfg.routers} routers …")
                passes[key] = once(lab, host, profile=key)
                rep.log(f"[l3]   {key}: {passes[key]['wall_s']:.1f} s wall, "
                        f"{passes[key]['routers_changed']} routers changed")
        out.update(passes=passes, machine_load=load, made=census(host))
        rep.log(f"[l3]   made: {out['made']}")
        return out


def run(cfg: L3Config, rep: Reporter) -> dict[str, Any]:
    return {"phases": h.run_phases("L3 agent", {"latency": phase_latency,
                                              "resync": phase_resync}, cfg, rep)}


# -- notes, section --------------------------------------------------------------------------

def finish(report: dict[str, Any]) -> None:
    phases, nproc = report["phases"], report["machine"]["nproc"]
    lat, notes = phases.get("latency", {}), h.failed_notes(phases)
    for key, what in (("add_subnet", "router add subnet"), ("fip_set", "floating ip set")):
        if (r := lat.get(key, {})).get("never"):
            notes.append(f"{what}: {r['never']} of {r['n']} samples never got an echo reply "
                         "within the timeout; the percentiles leave them out.")
    for what, load in (("router add subnet", lat.get("add_subnet", {}).get("machine_load")),
                       ("floating ip set", lat.get("fip_set", {}).get("machine_load")),
                       ("the resync passes", phases.get("resync", {}).get("machine_load"))):
        notes += h.load_note(what, load, nproc)
    report["notes"] = notes


def _latency_lines(t: dict[str, str], lat: dict[str, Any]) -> list[str]:
    agents = {"l2_net": "fermion agent l2", "l3_net": "fermion agent l3", "l2_cmp":
              "fermion agent l2"} | {k.replace("-", "_"): short_command(v)
                                     for k, v in lat.get("agents", {}).items()}
    return ["", t["latency"].format(**({"probe_interval_ms": 10, "settle_s": 1.0} | lat),
                                    **agents), "",
            *h.table(["from sending the PUT to …", "n", "p50", "p90", "p99", "max"], [
                (label, *h.percentiles(lat.get(key.split()[0], {}).get(key.split()[1])))
                for key, label in h.rows_of(t["latency_rows"])])] + (
        ["", t["latency_cpu"].format(**lat)] if "l3_agent_cpu_s" in lat else [])


def _resync_lines(t: dict[str, str], rs: dict[str, Any]) -> list[str]:
    passes = rs["passes"]
    cold = passes.get("cold", {})
    rows = [(label, fmt(p["wall_s"], "s"), fmt(p["cpu_s"], "s"),
             f"{p.get('profile', {}).get('commands_run', 0):,}",
             fmt(p.get("profile", {}).get("commands_s"), "s"), p["routers_changed"])
            for key, label in (("cold", "cold: nothing made yet"), ("no_change", "no change"))
            if (p := passes.get(key))]
    lines = ["", t["resync"].format(**rs, agent=short_command(rs["agent_command"])), "",
             *h.table(["pass", "wall", "agent CPU", "commands run", "time in commands",
                     "routers changed"], rows)]
    if made := rs.get("made"):
        lines += ["", t["made"].format(**{"fip_addresses_in_one": None, "nat_rules_in_one": None}
                                       | made, fips=cold.get("fips_added", 0), arping=cold.get(
            "profile", {}).get("background_run", 0))]
    for key, label, top in (("cold", "cold pass", 8), ("no_change", "no-change pass", 5)):
        if (p := passes.get(key)) and "profile" in p:
            lines += ["", t["profile"].format(label=label, wall=fmt(p["wall_s"], "s")),
                      *profile_lines("l3", p["profile"], p["wall_s"], top)]
    return lines


def section(report: dict[str, Any]) -> str:
    t, ph = h.texts("l3"), report["phases"]
    server = next((r["server"] for r in ph.values() if "server" in r), "fermion")
    lines = [t["head"].format(measured=h.measured_line(report), server=server)]
    for key, render in (("latency", _latency_lines), ("resync", _resync_lines)):
        if (part := ph.get(key)) and "error" not in part:
            lines += render(t, part)
    return "\n".join(lines + h.tail(report, t["tail"])) + "\n"


SUITE = Suite("l3", L3Config, run, finish, section)
