"""The l2 suite: the L2 agent on simulated hosts — port to ACTIVE and traffic (``active``),
many-port resync (``resync``, also used by the sg suite) and iperf3 through the pipeline
against a bare ``NORMAL`` bridge (``throughput``). Each phase gets a fresh ``Lab``; what
each measures, and how, is written once: in its section text, ``sections/l2.md``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import harness as h
from bench.harness import Reporter, Suite, fmt, knob
from bench.lab import Lab, Probe, ping_ok, short_command
from fermion.lab.host import Host, Instance, plug_instance
from fermion.linux import netns as ns

BARE, TUNNEL = "br-bare", ("--tunnel-types", "vxlan")
PHASES = ("active", "resync", "throughput")


@dataclass
class L2Config:
    """the L2 agent on simulated hosts; needs root"""

    ports: int = knob(200, "ports timed from create + plug to ACTIVE and ping")
    resync_ports: int = knob(1000, "ports on the host for the resync passes")
    default_sg_ports: int = knob(200, "resync again at this size with the default security "
                                      "group (remote group); 0 skips")
    poll_interval: float = knob(2.0, "the running agent's --poll-interval; local plugs wake "
                                     "it at once (OVSDB monitor)")
    sg: str = knob("prefix", "ports' security group: ingress from the subnet's prefix, or the "
                             "default group (remote group)", choices=("prefix", "default"))
    iperf_seconds: float = knob(5.0, "seconds per iperf3 run")
    iperf_repeats: int = knob(5, "iperf3 runs per path, alternating")
    vxlan: bool = knob(True, "also measure throughput between two hosts over VXLAN")
    port_timeout: float = knob(30.0, "seconds a port may take to ACTIVE and ping")
    phases: tuple[str, ...] = knob(PHASES, "phases to run", choices=PHASES)


def alternating(repeats: int, a: str, b: str) -> list[str]:
    """ABBA order: a b, b a, a b, … (drift in the machine's load hits both alike)."""
    return [x for i in range(repeats) for x in ((a, b) if i % 2 == 0 else (b, a))]


def iperf_gbps(report: dict[str, Any]) -> float:
    """Receiver-side throughput from ``iperf3 -J`` output, in Gbit/s."""
    end = report["end"]
    return round((end.get("sum_received") or end["sum"])["bits_per_second"] / 1e9, 3)


def port_body(net: str, host: str, group: str | None, name: str) -> dict[str, Any]:
    return {"network_id": net, "binding:host_id": host, "name": name} | (
        {"security_groups": [group]} if group else {})


def l2_network(lab: Lab, name: str, cidr: str, sg: str) -> tuple[str, str | None]:
    """A network and the group its ports get (None: the project's default group)."""
    net, _subnet = lab.network(name, cidr)
    return net, lab.group_from(f"{name}-from-subnet", cidr) if sg == "prefix" else None


def plug(host: Host, name: str, port: dict[str, Any], prefix: str, **kw: Any) -> Instance:
    return plug_instance(host, name, port["mac_address"],
                         f"{port['fixed_ips'][0]['ip_address']}/{prefix}", iface_id=port["id"],
                         **kw)


def once(lab: Lab, host: Host, *extra: str) -> dict[str, Any]:
    """One timed ``fermion agent l2 --once``: wall, CPU and the summary's counts."""
    out, res = lab.once("l2", host, *TUNNEL, *extra)
    return out | {"wired": len(res.get("wired", [])),
                  "flows_added": sum(res.get("flows_added", {}).values()),
                  "flows_deleted": sum(res.get("flows_deleted", {}).values()),
                  "ovs_changes": res.get("ovs_changes", 0)}


def count_flows(host: Host, bridge: str = "br-int") -> int:
    return sum("cookie=" in line for line in host.ovs.ofctl(bridge, "dump-flows").splitlines())


# -- phase 1: port → ACTIVE and traffic -------------------------------------------------------

def phase_active(cfg: L2Config, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        host = lab.add_host("a1")
        net, group = l2_network(lab, "l2b-active", "10.61.0.0/22", cfg.sg)
        agent = lab.agent("l2", host, *TUNNEL, "--poll-interval", f"{cfg.poll_interval:g}")
        lab.wait(lambda: "br-int" in host.ovs.list_bridges()
                 and "patch-tun" in host.ovs.list_ports("br-int"), 30, "the agent's br-int")
        tport = lab.api.post("/v2.0/ports", {"port": port_body(net, host.name, group, "target")})
        target = plug(host, "tgt", tport, "22")
        if lab.wait_active(tport["id"], cfg.port_timeout) is None:
            raise RuntimeError(f"the target never became ACTIVE\n{lab.log_tail('l2-a1')}")

        def one(i: int) -> dict[str, float | None]:
            t0 = time.monotonic()
            port = lab.api.post("/v2.0/ports", {"port": port_body(net, host.name, group,
                                                                  f"l2b-{i}")})
            t1 = time.monotonic()
            inst = plug(host, f"v{i}", port, "22")
            t2 = time.monotonic()
            probe = Probe(inst.ns, target.ip, inst.dev, cfg.port_timeout, ready=False)
            try:
                active = lab.wait_active(port["id"], cfg.port_timeout)
                ping = probe.result()
            finally:
                probe.kill()
            rel = {"create_s": (t1, t0), "plug_s": (t2, t1), "active_s": (active, t0),
                   "ping_s": (ping, t0), "active_after_plug_s": (active, t2),
                   "ping_after_plug_s": (ping, t2)}
            return {k: None if t is None else round(t - base, 4) for k, (t, base) in rel.items()}

        samples, load = lab.series(
            rep, f"ports to ACTIVE + ping (agent --poll-interval {cfg.poll_interval:g})",
            range(cfg.ports), one, lambda: {"server": [lab.server.pid or 0],
                                            "agent": [agent.pid], "ovs": lab.ovs_pids()})
        return {"server": lab.server.version(), "agent_command": short_command(agent.args),
                "poll_interval_s": cfg.poll_interval, "ports": len(samples),
                "never_active": sum(s["active_s"] is None for s in samples),
                "never_pinged": sum(s["ping_s"] is None for s in samples),
                **h.summaries(samples, ("create", "plug", "active", "ping", "active_after_plug",
                                        "ping_after_plug"), tenth="active"),
                "agent_cpu_s": round(h.tree_cpu_s(agent.pid), 1), "machine_load": load,
                "samples": samples}


# -- phase 2: resync with many ports ------------------------------------------------------------

OVS_PORTS = ("OVS internal ports on br-int (type=internal, external_ids iface-id/attached-mac/"
             "iface-status/vm-uuid), no namespaces")


def add_ports(lab: Lab, host: Host, bodies: Sequence[dict[str, Any]], rep: Reporter,
              out: dict[str, Any], start: int = 0) -> list[dict[str, Any]]:
    """Make the ports (bulk creates of 500) and plug each as an OVS internal port with its
    external_ids; the seconds each part took go to ``out``."""
    ports: list[dict[str, Any]] = []
    t0 = time.monotonic()
    with rep.task(f"create {len(bodies)} ports bound to {host.name}", len(bodies)) as advance:
        for i in range(0, len(bodies), 500):
            ports += lab.api.post("/v2.0/ports", {"ports": list(bodies[i:i + 500])})
            advance(len(bodies[i:i + 500]))
    out["api_create_s"], t0 = round(time.monotonic() - t0, 1), time.monotonic()
    with rep.task(f"add {len(ports)} OVS internal ports to br-int", len(ports)) as advance:
        for i in range(0, len(ports), 100):
            args: list[str] = []
            for k, p in enumerate(ports[i:i + 100], start + i):
                args += ["--", "--may-exist", "add-port", "br-int", f"rp{k}", "--", "set",
                         "Interface", f"rp{k}", "type=internal",
                         f'external_ids:iface-id="{p["id"]}"',
                         f'external_ids:attached-mac="{p["mac_address"]}"',
                         'external_ids:iface-status="active"', f'external_ids:vm-uuid="{p["id"]}"']
            host.ovs.vsctl(*args[1:])
            advance(len(ports[i:i + 100]))
    out["ovs_plug_s"] = round(time.monotonic() - t0, 1)
    return ports


def resync(lab: Lab, host: Host, bodies: Sequence[dict[str, Any]], rep: Reporter
           ) -> dict[str, Any]:
    """``bodies``' ports made and plugged, then the passes: cold, no change, flows lost."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import fermion.cli, fermion.agent.l2_agent"],
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out: dict[str, Any] = {
        "server": lab.server.version(), "ports": len(bodies), "ovs_ports": OVS_PORTS,
        "startup_s": round(time.monotonic() - t0, 3),
        "agent_command": short_command(lab.agent_argv("l2", host, "--once", *TUNNEL)),
        "empty_pass": once(lab, host)}  # the bridges; nothing to wire
    add_ports(lab, host, bodies, rep, out)
    passes: dict[str, Any] = {}
    with h.load_meter(lambda: {"server": [lab.server.pid or 0], "ovs": lab.ovs_pids()}) as load:
        for key in ("cold", "no_change", "flows_lost"):
            if key == "flows_lost":
                for bridge in ("br-int", "br-tun"):
                    host.ovs.ofctl(bridge, "del-flows")
            passes[key] = once(lab, host)
            rep.log(f"[l2] resync, {key} pass over {len(bodies)} ports: {passes[key]}")
    active = sum(p["status"] == "ACTIVE" for p in lab.api.expect(
        "GET", f"/v2.0/ports?network_id={bodies[0]['network_id']}")["ports"])
    return out | {"passes": passes, "active_after": active, "flows_br_int": count_flows(host),
                  "machine_load": load}


def phase_resync(cfg: L2Config, rep: Reporter) -> dict[str, Any]:
    def in_group(n: int, sg: str) -> dict[str, Any]:
        with Lab(rep.log) as lab:
            host = lab.add_host("r1")
            net, group = l2_network(lab, "l2b-resync", "10.62.0.0/16", sg)  # 1,000+ addresses
            return {"sg": sg} | resync(lab, host, [port_body(net, host.name, group, f"r-{k}")
                                                   for k in range(n)], rep)

    out = in_group(cfg.resync_ports, cfg.sg)
    if cfg.default_sg_ports and cfg.sg != "default":
        out["default_sg"] = h.recorded("l2 resync, default group", rep,
                                       lambda: in_group(cfg.default_sg_ports, "default"))
    return out


# -- phase 3: throughput ------------------------------------------------------------------------

def bare_leg(host: Host, inst: Instance, cidr: str, mtu: int | None = None) -> str:
    """A second veth from the instance (``eth1`` with ``cidr``) to ``br-bare``; its address."""
    port = f"bb{inst.port[3:]}"[:15]
    host.teardown.add(f"delete link {port}", ns.delete_link, port, netns=host.ns)
    ns.add_veth(port, "eth1", netns=host.ns, peer_netns=inst.ns)
    ns.add_address("eth1", cidr, netns=inst.ns)
    ns.disable_tx_offload("eth1", netns=inst.ns)
    if mtu:
        ns.set_mtu("eth1", mtu, netns=inst.ns)
    ns.set_up("eth1", netns=inst.ns)
    ns.set_up(port, netns=host.ns)
    host.ovs.add_port(BARE, port)
    return cidr.split("/")[0]


def bare_bridge(host: Host) -> None:
    """``br-bare`` on the host's OVS (same vswitchd and datapath) with ``actions=NORMAL``."""
    host.ovs.add_bridge(BARE, fail_mode="secure")
    host.ovs.ofctl(BARE, "del-flows")
    host.ovs.ofctl(BARE, "add-flow", "priority=0,actions=NORMAL")


def iperf_pair(lab: Lab, cfg: L2Config, rep: Reporter, client: Instance, server: Instance,
               bare_ip: str, what: str) -> dict[str, Any]:
    """iperf3 from ``client`` to ``server`` through the pipeline and over the bare bridge,
    ABBA; a run finding the server not ready yet is retried (up to 3 tries, recorded)."""
    proc = lab.spawn(["iperf3", "-s", "-p", "5201"], f"iperf3-s-{what}", netns=server.ns)
    time.sleep(0.5)
    targets = {"pipeline": server.ip, "bare": bare_ip}
    runs: dict[str, list[float]] = {k: [] for k in targets}
    retries: list[str] = []
    order = alternating(cfg.iperf_repeats, *targets)
    with h.load_meter(lambda: {"server": [lab.server.pid or 0], "ovs": lab.ovs_pids(),
                               "iperf3_server": [proc.pid]}) as load, \
            rep.task(f"iperf3 {what}: pipeline vs bare", len(order)) as advance:
        for label in order:
            for attempt in range(3):
                res = client.exec(["iperf3", "-c", targets[label], "-p", "5201", "-J", "-t",
                                   f"{cfg.iperf_seconds:g}", "-O", "1", "--connect-timeout",
                                   "5000"], check=False, timeout=cfg.iperf_seconds + 30)
                try:
                    runs[label].append(iperf_gbps(json.loads(res.stdout)))
                    break
                except (ValueError, KeyError) as exc:
                    retries.append(f"{label}: {exc}: {(res.stdout + res.stderr)[-600:]}"[:200])
                    if attempt == 2:
                        raise RuntimeError(f"iperf3 to {label} failed 3 times: "
                                           f"{res.stdout + res.stderr}"[-800:]) from exc
                    time.sleep(1.0)
            advance(1)
    rep.log(f"[l2] {what}: {runs}")
    return {"gbps": runs, "order": order, "retries": retries,
            "median_gbps": {k: round(statistics.median(v), 3) for k, v in runs.items()},
            "ratio": h.median_ratio(runs["pipeline"], runs["bare"]), "machine_load": load}


def throughput(lab: Lab, cfg: L2Config, rep: Reporter, vxlan: bool) -> dict[str, Any]:
    """Two instances (on one host, or on two joined by VXLAN) wired by the agent, and the
    same two namespaces over a second veth each on ``br-bare``."""
    hosts = [lab.add_host("x1"), lab.add_host("x2")] if vxlan else [lab.add_host("t1")] * 2
    if vxlan:
        assert lab.group is not None
        ul = lab.group.add_underlay("ul")
        for i, host in enumerate(hosts, 1):
            ul.attach(host, f"192.168.150.{i}/24")
    name, cidr = ("l2b-vxlan", "10.64.0.0/24") if vxlan else ("l2b-iperf", "10.63.0.0/24")
    net, group = l2_network(lab, name, cidr, cfg.sg)
    mtu = lab.api.expect("GET", f"/v2.0/networks/{net}")["network"].get("mtu") or 1450 \
        if vxlan else None
    local = {host.name: ("--local-ip", host.local_ip or "") if vxlan else () for host in hosts}
    for host in dict.fromkeys(hosts):
        once(lab, host, *local[host.name])
    ports = [lab.api.post("/v2.0/ports", {"port": port_body(
        net, host.name, group, f"vx-{host.name}" if vxlan else f"ip-{k}")})
        for k, host in enumerate(hosts)]
    vm1, vm2 = (plug(host, n, p, "24", mtu=mtu) for host, n, p in zip(hosts, ("c1", "s1"),
                                                                     ports, strict=True))
    wired = [once(lab, host, *local[host.name]) for host in dict.fromkeys(hosts)]
    if (not vxlan and wired[0]["wired"] != 2) or not ping_ok(vm1, vm2.ip, timeout=15):
        raise RuntimeError(f"the two instances do not reach each other: {wired}")
    for host, peer in ((hosts[0], hosts[1]), (hosts[1], hosts[0]))[:1 + vxlan]:
        bare_bridge(host)
        if vxlan:  # br-bare on each host, joined by one VXLAN port with a fixed key
            host.ovs.add_tunnel_port(BARE, "vxbare", peer.local_ip or "", key="4242",
                                     local_ip=host.local_ip)
    subnet = "10.99.1" if vxlan else "10.99.0"
    bare_leg(hosts[0], vm1, f"{subnet}.1/24", mtu)
    if not ping_ok(vm1, bare_ip := bare_leg(hosts[1], vm2, f"{subnet}.2/24", mtu), timeout=15):
        raise RuntimeError("the instances do not reach each other over br-bare")
    res = iperf_pair(lab, cfg, rep, vm1, vm2, bare_ip, "VXLAN, two hosts" if vxlan
                     else "one host")
    return res | ({"mtu": mtu} if vxlan else {"flows_br_int": count_flows(hosts[0])})


def phase_throughput(cfg: L2Config, rep: Reporter) -> dict[str, Any]:
    if shutil.which("iperf3") is None:
        raise RuntimeError("iperf3 is missing: run `make deps` (scripts/install-deps.sh)")
    version = subprocess.run(["iperf3", "--version"], capture_output=True, text=True,
                             timeout=10).stdout.split("\n", 1)[0].strip()
    out: dict[str, Any] = {"tool": "iperf3 TCP, one stream, receiver-side rate, "
                                   f"-t {cfg.iperf_seconds:g} -O 1", "iperf3": version}
    for key in ("one_host", "vxlan")[:1 + cfg.vxlan]:
        with Lab(rep.log) as lab:
            out["server"] = lab.server.version()
            out[key] = throughput(lab, cfg, rep, vxlan=key == "vxlan")
    return out


def run(cfg: L2Config, rep: Reporter) -> dict[str, Any]:
    return {"phases": h.run_phases("L2 agent", {"active": phase_active, "resync": phase_resync,
                                                "throughput": phase_throughput}, cfg, rep)}


# -- targets, notes, section -------------------------------------------------------------------

# (key, label, where in report["phases"], limit, below: value < limit, unit): issue 5
TARGETS = (
    ("active_p99", "port create + plug → ACTIVE, p99", ("active", "active_ms", "p99"),
     1000.0, True, "ms"),
    ("ping_p99", "port create + plug → ping answered, p99", ("active", "ping_ms", "p99"),
     1000.0, True, "ms"),
    ("resync", "resync, 1,000 ports (cold `--once` pass)",
     ("resync", "passes", "cold", "wall_s"), 10.0, True, "s"),
    ("resync_no_change", "resync, 1,000 ports (no-change `--once` pass)",
     ("resync", "passes", "no_change", "wall_s"), 10.0, True, "s"),
    ("throughput", "throughput ratio, pipeline ÷ bare NORMAL bridge (one host)",
     ("throughput", "one_host", "ratio"), 0.7, False, "×"))


def verdicts(phases: dict[str, Any], targets: Sequence[tuple] = TARGETS
             ) -> dict[str, dict[str, Any]]:
    """Each target: its value, the limit and whether it is met (None: not measured, or a
    resync measured at another size than the target's 1,000 ports)."""
    out = {}
    for key, _label, path, limit, below, _unit in targets:
        v = h.value_at(phases, path)
        met = None if v is None or (key.startswith("resync")
                                    and h.value_at(phases, ("resync", "ports")) != 1000) \
            else (v < limit if below else v > limit)
        out[key] = {"value": v, "limit": limit, "met": met}
    return out


def target_lines(targets: Sequence[tuple], verdict: dict[str, Any]) -> list[str]:
    met = {True: "met", False: "**not met**", None: "not measured"}
    return ["", *h.table(["target", "measured", "limit", "<"], [
        (label, fmt(verdict[key]["value"], unit), f"{'< ' if below else '> '}{fmt(limit, unit)}",
         met[verdict[key]["met"]]) for key, label, _path, limit, below, unit in targets])]


def finish(report: dict[str, Any]) -> None:
    phases, nproc = report["phases"], report["machine"]["nproc"]
    act, rs, tp = (phases.get(k, {}) for k in PHASES)
    notes = h.failed_notes(phases)
    if act.get("never_active") or act.get("never_pinged"):
        notes.append(f"{act.get('never_active', 0)} ports never became ACTIVE and "
                     f"{act.get('never_pinged', 0)} never answered a ping within the "
                     "per-port timeout; the percentiles leave them out.")
    for what, load in (("ports → ACTIVE", act.get("machine_load")),
                       ("the resync passes", rs.get("machine_load")),
                       ("iperf3 on one host", tp.get("one_host", {}).get("machine_load")),
                       ("iperf3 over VXLAN", tp.get("vxlan", {}).get("machine_load"))):
        notes += h.load_note(what, load, nproc)
    busy = rs.get("machine_load", {}).get("other_processes_cores", 0)
    if (cold := rs.get("passes", {}).get("cold")) and busy >= h.BUSY_CORES:
        notes.append(f"The resync's wall times include waiting for a CPU while other "
                     f"processes used {busy:.2f} of the {nproc}: the agent itself used "
                     f"{cold['cpu_s']:.1f} s of CPU in the cold pass and "
                     f"{rs['passes']['no_change']['cpu_s']:.1f} s in the no-change pass (the "
                     "rest is ovs-vswitchd applying or dumping flows, and the run queue).")
    if (runs := [x for v in tp.get("one_host", {}).get("gbps", {}).values() for x in v]) \
            and max(runs) > 1.5 * min(runs):
        notes.append(f"iperf3 on one host varied from {min(runs):.2f} to {max(runs):.2f} "
                     "Gbit/s between runs of the same path, more than the difference between "
                     "the paths: the ratio is within the noise of this machine.")
    for key in ("one_host", "vxlan"):
        if retries := tp.get(key, {}).get("retries"):
            notes.append(f"iperf3 ({key}): {len(retries)} client runs were retried, e.g. "
                         f"{retries[0][:160]}")
    report["targets"], report["notes"] = verdicts(phases), notes


def pass_rows(labelled: Sequence[tuple[str, dict[str, Any]]], deleted: bool = False
              ) -> list[tuple]:
    """Table rows of ``--once`` passes: wall, CPU, flows added (and deleted), OVSDB writes."""
    return [(label, fmt(p["wall_s"], "s"), fmt(p["cpu_s"], "s"), f"{p['flows_added']:,}",
             *([f"{p['flows_deleted']:,}"] * deleted), f"{p['ovs_changes']:,}")
            for label, p in labelled]


def _active(t: dict[str, str], act: dict[str, Any]) -> list[str]:
    return ["", t["active"].format(**act, agent=short_command(act["agent_command"]),
                                   filled=act["ports"] + 1), "",
            *h.table(["", "p50", "p90", "p99", "max"], [
                (label, *h.percentiles(act.get(key), n=False))
                for key, label in h.rows_of(t["active_rows"])]),
            "", t["active_cpu"].format(**act, wall=act["machine_load"].get("wall_s", 0))]


def _resync(t: dict[str, str], rs: dict[str, Any]) -> list[str]:
    rows = [(label, rs["passes"][key]) for key, label in h.rows_of(t["resync_rows"])]
    dsg, more, failed = rs.get("default_sg"), "", []
    if dsg and "error" not in dsg:
        rows += [(f"default security group, {dsg['ports']} ports: {label}", dsg["passes"][k])
                 for k, label in (("cold", "cold"), ("no_change", "no change"))]
        more = t["resync_default_sg"].format(ports=dsg["ports"], flows=dsg["flows_br_int"],
                                             per_port=dsg["flows_br_int"] / dsg["ports"])
    elif dsg:
        failed = ["", t["resync_default_sg_failed"].format(error=dsg["error"][:200])]
    return ["", t["resync"].format(**rs, agent=short_command(rs["agent_command"])), "",
            *h.table(["pass", "wall", "agent CPU", "flows added", "OVSDB writes"],
                     pass_rows(rows)),
            "", t["resync_flows"].format(flows=rs["flows_br_int"], ports=rs["ports"],
                                         per_port=rs["flows_br_int"] / max(rs["ports"], 1),
                                         default_sg=more, active=rs["active_after"]), *failed]


def _throughput(t: dict[str, str], tp: dict[str, Any]) -> list[str]:
    rows = [(label.format(**r), f"{r['median_gbps']['pipeline']:.2f} Gbit/s",
             f"{r['median_gbps']['bare']:.2f} Gbit/s", fmt(r["ratio"], "×"),
             "; ".join(", ".join(f"{x:.2f}" for x in r["gbps"][k]) for k in ("pipeline", "bare")))
            for key, label in (("one_host", "two instances on one host"), ("vxlan", t["vxlan"]))
            if (r := tp.get(key))]
    return ["", t["throughput"].format(**tp), "", *h.table(
        ["path", "pipeline", "bare NORMAL", "ratio", "<runs (pipeline; bare)"], rows)]


def section(report: dict[str, Any]) -> str:
    t, ph = h.texts("l2"), report["phases"]
    server = next((r["server"] for r in ph.values() if "server" in r), "fermion")
    lines = [t["head"].format(measured=h.measured_line(report), server=server,
                              sg=t[f"sg_{report['config']['sg']}"]),
             *target_lines(TARGETS, report["targets"])]
    for key, render in zip(PHASES, (_active, _resync, _throughput), strict=True):
        if (part := ph.get(key)) and "error" not in part:
            lines += render(t, part)
    return "\n".join(lines + h.tail(report, t["tail"])) + "\n"


SUITE = Suite("l2", L2Config, run, finish, section)
