"""The dhcp suite: the DHCP agent on simulated hosts — port create to a ``udhcpc`` lease
(``lease``), the resync of many networks (``resync``: ``--once`` passes under
``bench.profile``) and a burst of clients released at once through a FIFO gate
(``burst``). What each measures, and how, is written once, in ``sections/dhcp.md``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness as h
from bench.harness import Reporter, Suite, fmt, knob
from bench.l3 import subnet_cidr
from bench.lab import Lab, short_command
from bench.procs import Api, start_child, stop_group
from bench.profile import profile_lines
from fermion.lab.host import Host
from fermion.linux import interface
from fermion.linux import netns as ns
from fermion.linux.process import argv_of, read_pidfile

UDHCPC = ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n"]
PHASES = ("lease", "resync", "burst")
# the cold pass writes each hosts file before its DHCP port exists, so the second pass
# rewrites them (and sends SIGHUP); the third is the first with nothing to do
PASSES = {"cold": "cold: nothing made yet", "second": "second", "no_change": "no change"}


@dataclass
class DhcpConfig:
    """the DHCP agent on simulated hosts; needs root"""

    samples: int = knob(40, "ports timed from create to a udhcpc lease")
    retry_ms: int = knob(100, "a new udhcpc every this many ms while waiting for a lease; "
                              "bounds the resolution")
    networks: int = knob(200, "networks in the resync")
    ports_per_network: int = knob(20, "ports per network in the resync")
    clients: int = knob(100, "clients in the burst")
    burst_rounds: int = knob(3, "bursts, one after another")
    burst_tries: int = knob(10, "DISCOVERs each burst client sends (1 s apart)")
    timeout: float = knob(30.0, "seconds a lease sample may take")
    settle: float = knob(1.0, "pause between lease samples")
    phases: tuple[str, ...] = knob(PHASES, "phases to run", choices=PHASES)


def lease_script(path: Path) -> str:
    """udhcpc's ``-s`` script: on ``bound``, write the address to ``path`` (atomically)."""
    return (f'#!/bin/sh\n[ "$1" = bound ] && echo "$ip" > {path}.$$ && mv {path}.$$ {path}\n'
            "exit 0\n")


def client_argv(path: Path, *args: str) -> list[str]:
    """udhcpc with ``args`` and a script that writes its lease to ``path``."""
    script = path.with_suffix(".sh")
    script.write_text(lease_script(path))
    script.chmod(0o755)
    return [*UDHCPC, *args, "-s", str(script)]


def gated_argv(fifo: Path, argv: Sequence[str]) -> list[str]:
    """``sh`` that blocks reading ``fifo`` (until its last writer closes it), then execs
    ``argv``: many clients released at one moment."""
    return ["sh", "-c", 'read _ < "$0"; exec "$@"', str(fifo), *argv]


def holds(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (a client waiting at the gate)."""
    with contextlib.suppress(OSError):
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path)
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    return False


def burst_result(launched: float, done: dict[int, float], clients: int) -> dict[str, Any]:
    """Leases per second for one burst: ``done`` maps client → monotonic time of its lease;
    ``launched`` is when the gate opened."""
    times = sorted(t - launched for t in done.values())
    out: dict[str, Any] = {"clients": clients, "leases": len(times),
                           "failures": clients - len(times)}
    if times:
        out.update({"all_leased_s": round(times[-1], 3),
                    "leases_per_s": round(len(times) / times[-1], 1) if times[-1] > 0 else None,
                    "lease_ms": h.summary_ms(times),
                    "half_leased_s": round(times[(len(times) - 1) // 2], 3)})
    return out


def hosts_macs(text: str) -> set[str]:
    """MACs listed in a dnsmasq ``--dhcp-hostsfile`` (first field of each line)."""
    return {line.split(",", 1)[0].lower() for line in text.splitlines() if "," in line}


# -- the lab's DHCP pieces ---------------------------------------------------------------------

class Clients:
    """DHCP clients in instance namespaces, tracked by pid, each in its own group."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[str], netns: str) -> subprocess.Popen[bytes]:
        self.procs.append(start_child(ns.netns_argv(netns, argv)))
        return self.procs[-1]

    def kill(self) -> None:
        for proc in self.procs:
            stop_group(proc, timeout=0)
        self.procs.clear()


def dnsmasq_pid(host: Host, net: str) -> int | None:
    pid = read_pidfile(host.rundir / "dhcp" / net / "pid")
    return pid if pid and (argv_of(pid) or [""])[0] == "dnsmasq" else None


def hosts_file(host: Host, net: str) -> str:
    with contextlib.suppress(OSError):
        return (host.rundir / "dhcp" / net / "host").read_text()
    return ""


def instance(host: Host, name: str, port: dict[str, Any]) -> str:
    """An instance namespace whose eth0 (the port's MAC, no address) is plugged into br-int
    for ``port`` as os-vif does; returns the namespace."""
    netns, tap = f"{host.ns}-{name}", "tap" + port["id"][:11]
    host.teardown.add(f"delete netns {netns}", ns.delete_netns, netns)
    host.teardown.add(f"unplug {tap}", interface.unplug, host.ovs, "eth0", netns,
                      ovs_device=tap, ovs_netns=host.ns)
    interface.plug(host.ovs, interface.PlugSpec(
        device="eth0", netns=netns, bridge="br-int", port_id=port["id"],
        mac=port["mac_address"], ovs_device=tap, ovs_netns=host.ns,
        extra_ids={"vm-uuid": str(uuid.uuid4())}))
    return netns


def agents_host(lab: Lab, name: str, cidr: str) -> tuple[Host, str]:
    """A host with the L2 and DHCP agents running and one DHCP network served."""
    host = lab.add_host(name, agent="dhcp")
    lab.agent("l2", host, "--tunnel-types", "vxlan")
    lab.wait(lambda: "br-int" in host.ovs.list_bridges(), 60, "the L2 agent's br-int")
    net, _subnet = lab.network(f"dhcpb-{name}", cidr, dhcp=True)
    lab.agent("dhcp", host)
    lab.wait(lambda: dnsmasq_pid(host, net) is not None, 60, "dnsmasq serving the network")
    return host, net


def agent_pids(lab: Lab, host: Host, **more: list[int]) -> dict[str, list[int]]:
    return {"server": [lab.server.pid or 0], "dhcp_agent": [lab.procs[f"dhcp-{host.name}"].pid],
            "l2_agent": [lab.procs[f"l2-{host.name}"].pid], "ovs": lab.ovs_pids(), **more}


# -- phase 1: port create → lease ---------------------------------------------------------------

class Watch(threading.Thread):
    """Times, from ``t0``, the port's MAC in the hosts file and its ACTIVE in the API."""

    def __init__(self, lab: Lab, host: Host, net: str, port: dict[str, Any], t0: float,
                 timeout: float):
        super().__init__(daemon=True)
        self.url, self.host, self.net, self.port = lab.server.url, host, net, port
        self.t0, self.deadline = t0, t0 + timeout
        self.hosts_s: float | None = None
        self.active_s: float | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        api, mac, last_api = Api(self.url), self.port["mac_address"].lower(), 0.0
        try:
            while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                now = time.monotonic()
                if self.hosts_s is None and mac in hosts_macs(hosts_file(self.host, self.net)):
                    self.hosts_s = now - self.t0
                if self.active_s is None and now - last_api >= 0.02:
                    last_api = now
                    if api.expect("GET", f"/v2.0/ports/{self.port['id']}")["port"][
                            "status"] == "ACTIVE":
                        self.active_s = time.monotonic() - self.t0
                if self.hosts_s is not None and self.active_s is not None:
                    return
                self.stop_event.wait(0.005)
        finally:
            api.close()


def lease_sample(lab: Lab, host: Host, net: str, i: int, cfg: DhcpConfig) -> dict[str, Any]:
    sent = time.monotonic()
    port = lab.api.post("/v2.0/ports", {"port": {"network_id": net, "binding:host_id": host.name,
                                                 "name": f"lease-{i}"}})
    t0 = time.monotonic()
    watch = Watch(lab, host, net, port, t0, cfg.timeout)
    watch.start()
    netns = instance(host, f"v{i}", port)
    plugged = time.monotonic() - t0
    out = host.rundir / f"v{i}.lease"
    argv = client_argv(out, "-t", "1", "-T", "1")
    leased: float | None = None
    clients, tries, next_try = Clients(), 0, time.monotonic()
    try:
        while time.monotonic() - t0 < cfg.timeout:
            now = time.monotonic()
            if out.exists():
                leased = now - t0
                break
            if now >= next_try:
                clients.start(argv, netns)
                tries, next_try = tries + 1, now + cfg.retry_ms / 1000
            time.sleep(0.005)
    finally:
        clients.kill()
        watch.join(timeout=10.0)  # ACTIVE may come after the lease
        watch.stop_event.set()
        watch.join(timeout=5)
    want = port["fixed_ips"][0]["ip_address"]
    if leased is not None and (ip := out.read_text().strip()) != want:
        raise RuntimeError(f"lease {i}: udhcpc was given {ip}, the port has {want}")

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    return {"api_s": round(t0 - sent, 4), "plug_s": round(plugged, 4), "hosts_s": r(watch.hosts_s),
            "active_s": r(watch.active_s), "lease_s": r(leased),
            "lease_after_plug_s": None if leased is None else round(leased - plugged, 4),
            "udhcpc_runs": tries}


def phase_lease(cfg: DhcpConfig, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        host, net = agents_host(lab, "d1", "10.71.0.0/22")
        out: dict[str, Any] = {
            "server": lab.server.version(), "ports": cfg.samples, "retry_ms": cfg.retry_ms,
            "agents": {k.split("-")[0]: short_command(p.args) for k, p in lab.procs.items()}}
        if lease_sample(lab, host, net, 0, cfg)["lease_s"] is None:  # warm-up
            raise RuntimeError(f"the warm-up instance got no lease within {cfg.timeout:.0f}s"
                               f"\n{lab.log_tail('dhcp-d1')}\n{lab.log_tail('l2-d1')}")
        time.sleep(cfg.settle)
        cpu0 = {k: h.tree_cpu_s(p.pid) for k, p in lab.procs.items()}

        def sample(i: int) -> dict[str, Any]:
            out = lease_sample(lab, host, net, i, cfg)
            time.sleep(cfg.settle)
            return out

        samples, load = lab.series(rep, f"port create → udhcpc lease (a try every "
                                   f"{cfg.retry_ms} ms)", range(1, cfg.samples + 1), sample,
                                   lambda: agent_pids(lab, host))
        out.update(never=sum(s["lease_s"] is None for s in samples),
                   **h.summaries(samples, ("api", "plug", "hosts", "active", "lease",
                                           "lease_after_plug")),
                   udhcpc_runs_mean=round(sum(s["udhcpc_runs"] for s in samples)
                                          / max(1, len(samples)), 1),
                   agent_cpu_s={k.split("-")[0]: round(h.tree_cpu_s(p.pid) - cpu0[k], 1)
                                for k, p in lab.procs.items()},
                   machine_load=load, samples=samples)
        rep.log(f"[dhcp] port create → lease: {out['lease_ms']}")
        return out


# -- phase 2: resync of many networks -----------------------------------------------------------

def once(lab: Lab, host: Host, profile: str = "") -> dict[str, Any]:
    out, res = lab.once("dhcp", host, profile=profile)
    return out | {k: len(res.get(k, [])) for k in (
        "networks", "started", "adopted", "reloaded", "unchanged", "removed", "ports_created",
        "metadata")} | {"errors": len(res.get("errors", {}))}


def phase_resync(cfg: DhcpConfig, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        host = lab.add_host("r1", agent="dhcp")
        host.ovs.add_bridge("br-int")  # the L2 agent's; the DHCP agent plugs into it
        out: dict[str, Any] = {
            "server": lab.server.version(), "networks": cfg.networks,
            "ports_per_network": cfg.ports_per_network,
            "agent_command": short_command(lab.agent_argv("dhcp", host, "--once")),
            "empty_pass": once(lab, host)}
        t0, nets, n = time.monotonic(), [], cfg.networks
        with rep.task(f"create {n} networks with a DHCP subnet and {cfg.ports_per_network} "
                      "ports each (bulk)", n) as advance:
            for start in range(0, n, 50):
                made = lab.api.post("/v2.0/networks", {"networks": [
                    {"name": f"rs-{start + k}"} for k in range(min(50, n - start))]})
                lab.api.post("/v2.0/subnets", {"subnets": [
                    {"network_id": net["id"], "ip_version": 4, "enable_dhcp": True,
                     "cidr": subnet_cidr("10.96.0.0/16", start + k)}
                    for k, net in enumerate(made)]})
                ports = [{"network_id": net["id"], "name": f"rs-{start + k}-{p}"}
                         for k, net in enumerate(made) for p in range(cfg.ports_per_network)]
                for i in range(0, len(ports), 500):
                    lab.api.post("/v2.0/ports", {"ports": ports[i:i + 500]})
                nets += [net["id"] for net in made]
                advance(len(made))
        out["api_create_s"] = round(time.monotonic() - t0, 1)
        agent = lab.api.expect("GET", "/v2.0/agents?agent_type=DHCP%20agent")["agents"][0]
        out["scheduled"] = len(lab.api.expect(
            "GET", f"/v2.0/agents/{agent['id']}/dhcp-networks")["networks"])
        if out["scheduled"] != len(nets):
            raise RuntimeError(f"{out['scheduled']} of {len(nets)} networks scheduled to the "
                               "agent")
        passes: dict[str, Any] = {}
        with h.load_meter(lambda: {"server": [lab.server.pid or 0],
                                   "ovs": lab.ovs_pids()}) as load:
            for key in PASSES:
                rep.log(f"[dhcp] resync: {key} pass over {len(nets)} networks …")
                p = passes[key] = once(lab, host, profile=key)
                rep.log(f"[dhcp]   {key}: {p['wall_s']:.1f} s wall, {p['started']} started, "
                        f"{p['adopted']} adopted, {p['errors']} errors")
        out.update(passes=passes, machine_load=load, made={
            "namespaces": sum(1 for x in ns.list_netns() if x.startswith(f"{host.ns}-qdhcp-")),
            "dnsmasq": sum(1 for x in nets if dnsmasq_pid(host, x) is not None),
            "ovs_ports": sum(1 for p in host.ovs.list_ports("br-int") if p.startswith("tap")),
            "hosts_lines": sum(len(hosts_file(host, x).splitlines()) for x in nets)})
        rep.log(f"[dhcp]   made: {out['made']}")
        return out


# -- phase 3: a burst of clients ----------------------------------------------------------------

def phase_burst(cfg: DhcpConfig, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        host, net = agents_host(lab, "b1", "10.72.0.0/24")
        ports = lab.api.post("/v2.0/ports", {"ports": [
            {"network_id": net, "binding:host_id": host.name, "name": f"burst-{i}"}
            for i in range(cfg.clients)]})
        spaces: list[str] = []
        with rep.task(f"plug {cfg.clients} instances", cfg.clients) as advance:
            for i, port in enumerate(ports):
                spaces.append(instance(host, f"c{i}", port))
                advance(1)
        want = {p["mac_address"].lower() for p in ports}

        def ready() -> bool:
            got = lab.api.expect("GET", f"/v2.0/ports?network_id={net}")["ports"]
            return (sum(1 for p in got if p["status"] == "ACTIVE"
                        and p["id"] in {q["id"] for q in ports}) == len(ports)
                    and want <= hosts_macs(hosts_file(host, net)))

        lab.wait(ready, 300, f"{cfg.clients} ports ACTIVE and in the hosts file")
        time.sleep(2 * cfg.settle)
        tries = ["-t", str(cfg.burst_tries), "-T", "1"]
        out: dict[str, Any] = {
            "server": lab.server.version(), "clients": cfg.clients,
            "agents": {k.split("-")[0]: short_command(p.args) for k, p in lab.procs.items()},
            "udhcpc": " ".join([*UDHCPC, *tries]), "rounds": []}
        for r in range(cfg.burst_rounds):
            res = burst_round(lab, host, spaces, ports, r, tries, cfg, net)
            out["rounds"].append(res)
            rep.log(f"[dhcp] burst round {r + 1}: {res['leases']}/{cfg.clients} leases in "
                    f"{res.get('all_leased_s')} s → {res.get('leases_per_s')} leases/s, "
                    f"{res['failures']} failures")
            if (why := lab.dead()) is not None:
                raise RuntimeError(why)
            time.sleep(2 * cfg.settle)
        return out


def burst_round(lab: Lab, host: Host, spaces: Sequence[str], ports: Sequence[dict[str, Any]],
                r: int, tries: Sequence[str], cfg: DhcpConfig, net: str) -> dict[str, Any]:
    fifo = host.rundir / f"gate{r}"
    os.mkfifo(fifo)
    gate = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # the writer: clients open without waiting
    files = [host.rundir / f"r{r}-c{i}.lease" for i in range(len(spaces))]
    clients = Clients()
    try:
        procs = [clients.start(gated_argv(fifo, client_argv(f, *tries)), netns)
                 for f, netns in zip(files, spaces, strict=True)]
        lab.wait(lambda: all(holds(p.pid, fifo) for p in procs), 30,
                 "every client waiting at the gate")
        done: dict[int, float] = {}
        pids = agent_pids(lab, host, dnsmasq=[dnsmasq_pid(host, net) or 0])
        with h.load_meter(lambda: pids) as load:
            os.close(gate)  # EOF for every reader: all go at once
            gate = -1
            launched = time.monotonic()
            deadline = launched + cfg.burst_tries * 1.5 + 15
            while len(done) < len(procs) and time.monotonic() < deadline:
                now = time.monotonic()
                done.update({i: now for i, p in enumerate(procs)
                             if i not in done and p.poll() is not None})
                time.sleep(0.005)
        leased = {i: t for i, t in done.items() if files[i].exists()}
        wrong = sum(1 for i in leased
                    if files[i].read_text().strip() != ports[i]["fixed_ips"][0]["ip_address"])
        return burst_result(launched, leased, len(procs)) | {
            "wrong_address": wrong, "still_running": len(procs) - len(done),
            "machine_load": load}
    finally:
        if gate >= 0:
            os.close(gate)
        clients.kill()
        fifo.unlink(missing_ok=True)


def run(cfg: DhcpConfig, rep: Reporter) -> dict[str, Any]:
    return {"phases": h.run_phases("DHCP agent", {"lease": phase_lease, "resync": phase_resync,
                                                "burst": phase_burst}, cfg, rep)}


# -- notes, section --------------------------------------------------------------------------

def lease_count(lease: dict[str, Any]) -> int:
    """Ports timed in the lease phase (``samples`` is the list of their timings)."""
    if "ports" in lease:
        return int(lease["ports"])
    samples = lease.get("samples", 0)
    return len(samples) if isinstance(samples, list) else int(samples)


def finish(report: dict[str, Any]) -> None:
    phases, nproc = report["phases"], report["machine"]["nproc"]
    notes, lease = h.failed_notes(phases), phases.get("lease", {})
    rounds = phases.get("burst", {}).get("rounds", [])
    if lease.get("never"):
        notes.append(f"port create → lease: {lease['never']} of {lease_count(lease)} samples "
                     "got no lease within the timeout; the percentiles leave them out.")
    for key, p in phases.get("resync", {}).get("passes", {}).items():
        if p.get("errors"):
            notes.append(f"The {PASSES.get(key, key)} resync pass reported {p['errors']} "
                         "network errors.")
    for i, r in enumerate(rounds, 1):
        if r.get("wrong_address"):
            notes.append(f"burst round {i}: {r['wrong_address']} clients got an address "
                         "other than their port's.")
    loads = [("port create → lease", lease.get("machine_load")),
             ("the resync passes", phases.get("resync", {}).get("machine_load")),
             *((f"burst round {i}", r.get("machine_load")) for i, r in enumerate(rounds, 1))]
    notes += [n for what, load in loads for n in h.load_note(what, load, nproc)]
    report["notes"] = notes


def _summary_lines(ph: dict[str, Any]) -> list[str]:
    lease, rs, burst = ph.get("lease", {}), ph.get("resync", {}), ph.get("burst", {})
    passes, b = rs.get("passes", {}), (burst.get("rounds") or [{}])[0]
    size = (f"{rs.get('networks', 0):,} networks × {rs.get('ports_per_network', 0)} ports"
            if rs else "")
    clients = f"burst of {burst.get('clients', 0)} clients"
    return ["", *h.table(["metric", "measured"], [
        ("port create → lease obtainable, p50", fmt(lease.get("lease_ms", {}).get("p50"), "ms")),
        ("port create → lease obtainable, p99", fmt(lease.get("lease_ms", {}).get("p99"), "ms")),
        (f"full resync, {size}: cold `--once` pass",
         fmt(passes.get("cold", {}).get("wall_s"), "s")),
        (f"full resync, {size}: second pass ({passes.get('second', {}).get('reloaded', 0)} "
         "dnsmasq reloaded)", fmt(passes.get("second", {}).get("wall_s"), "s")),
        (f"full resync, {size}: no-change pass",
         fmt(passes.get("no_change", {}).get("wall_s"), "s")),
        (f"{clients}: leases per second (first round)",
         f"{b['leases_per_s']:,.1f}/s" if b.get("leases_per_s") else "—"),
        (f"{clients}: failures (first round)", str(b.get("failures", "—")))])]


def _agents(part: dict[str, Any]) -> dict[str, str]:
    agents = part.get("agents", {})
    return {k: short_command(agents.get(k, f"fermion agent {k}")) for k in ("l2", "dhcp")}


def _lease_lines(t: dict[str, str], lease: dict[str, Any]) -> list[str]:
    lines = ["", t["lease"].format(ports=lease_count(lease), retry=lease.get("retry_ms", 100),
                                   **_agents(lease)), "",
             *h.table(["from the POST's answer to …", "n", "p50", "p90", "p99", "max"],
                    [(label, *h.percentiles(lease.get(key)))
                     for key, label in h.rows_of(t["lease_rows"])])]
    if cpu := lease.get("agent_cpu_s", {}):
        lines += ["", t["lease_cpu"].format(runs=lease.get("udhcpc_runs_mean"),
                                            **{"dhcp": 0, "l2": 0} | cpu)]
    return lines


def _resync_lines(t: dict[str, str], rs: dict[str, Any]) -> list[str]:
    passes = rs["passes"]
    rows = [(label, fmt(p["wall_s"], "s"), fmt(p["cpu_s"], "s"),
             f"{(prof := p.get('profile', {})).get('commands_run', 0):,}",
             fmt(prof.get("commands_s"), "s"), f"{prof.get('api_calls', 0):,}",
             *(p.get(k, 0) for k in ("started", "adopted", "reloaded", "ports_created")))
            for key, label in PASSES.items() if (p := passes.get(key))]
    lines = ["", t["resync"].format(**rs, agent=short_command(rs["agent_command"])), "",
             *h.table(["pass", "wall", "agent CPU", "commands run", "time in commands",
                     "API calls", "dnsmasq started", "adopted", "reloaded",
                     "DHCP ports created"], rows)]
    if made := rs.get("made"):
        lines += ["", t["made"].format(**{"hosts_lines": 0} | made)]
    for key, top in (("cold", 10), ("no_change", 5)):
        if (p := passes.get(key)) and "profile" in p:
            per = p["profile"].get("commands_run", 0) / max(1, p.get("networks", 1))
            lines += ["", t["profile"].format(label=PASSES[key].split(":")[0], per_network=per,
                                              wall=fmt(p["wall_s"], "s")),
                      *profile_lines("dhcp", p["profile"], p["wall_s"], top)]
    return lines


def _burst_lines(t: dict[str, str], burst: dict[str, Any]) -> list[str]:
    rows = []
    for i, r in enumerate(burst.get("rounds", []), 1):
        ms, span, rate = r.get("lease_ms", {}), r.get("all_leased_s"), r.get("leases_per_s")
        rows.append((i, f"{r.get('leases')}/{r.get('clients')}", r.get("failures"),
                     fmt(None if span is None else 1000 * span, "ms"),
                     f"{rate:,.1f}/s" if rate else "—", fmt(ms.get("p50"), "ms"),
                     fmt(ms.get("p99"), "ms"),
                     f"{r.get('machine_load', {}).get('dnsmasq_cores', 0):.2f} cores"))
    lines = ["", t["burst"].format(clients=burst["clients"], **_agents(burst),
                                   udhcpc=burst.get("udhcpc", "busybox udhcpc")), "",
             *h.table(["round", "leases", "failures", "all leased after", "leases/s", "p50", "p99",
                     "dnsmasq CPU"], rows)]
    if first := (burst.get("rounds") or [{}])[0].get("machine_load", {}):
        lines += ["", t["burst_cpu"].format(dnsmasq=first.get("dnsmasq_cores", 0),
                                            bench=first.get("bench_cores", 0),
                                            clients=burst["clients"])]
    return lines


def section(report: dict[str, Any]) -> str:
    t, ph = h.texts("dhcp"), report["phases"]
    server = next((r["server"] for r in ph.values() if "server" in r), "fermion")
    lines = [t["head"].format(measured=h.measured_line(report), server=server),
             *_summary_lines(ph)]
    for key, render in (("lease", _lease_lines), ("resync", _resync_lines),
                        ("burst", _burst_lines)):
        if (part := ph.get(key)) and "error" not in part:
            lines += render(t, part)
    return "\n".join(lines + h.tail(report, t["tail"])) + "\n"


SUITE = Suite("dhcp", DhcpConfig, run, finish, section)
