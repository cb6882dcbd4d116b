"""The DHCP agent on real simulated hosts: port create → lease, resync, a burst of clients.

``run_dhcp_bench()`` runs three phases, each against a fresh ``fermion server`` (SQLite,
``bench.servers.FermionServer``) and a fresh group of simulated hosts
(``fermion.lab.host.HostGroup``: a namespace with its own userspace OVS per host), built as
``tests/functional/test_dhcp_agent.py`` builds its lab:

1. **lease** — one host running ``fermion agent l2`` and ``fermion agent dhcp`` as daemons
   (default intervals), one network with a DHCP-enabled /22. ``samples`` times, one after
   another: ``POST /v2.0/ports`` (``binding:host_id``), then at once plug an instance for it
   as os-vif does (namespace, veth on br-int with ``external_ids:iface-id``, the port's MAC)
   and start ``busybox udhcpc -n -q -t 1 -T 1`` in it every ``retry_ms`` (each one sends one
   DISCOVER and waits up to 1 s, so up to 1000/``retry_ms`` run at once) until one of them
   is bound. Timed from the POST's answer to the moment the lease file written by
   udhcpc's script appears (polled every 5 ms). A watcher on a second connection also times
   the port's MAC appearing in dnsmasq's hosts file (the DHCP agent's part) and the port's
   ``ACTIVE`` in the API (the L2 agent's part). ``retry_ms`` bounds the resolution.
2. **resync** — ``networks`` networks with a DHCP-enabled /24 and ``ports_per_network``
   ports each, made through the API in bulk, scheduled to one host that has br-int and no
   agent running; then ``fermion agent dhcp --once`` twice under ``bench.dhcp_profile``
   (same ``fermion.cli.main``; every command, step and API call counted and timed): *cold*
   (every DHCP port created, namespace, veth, address, files and dnsmasq made), *second*
   and *no change* (each a fresh process: nothing applied in memory, everything adopted;
   the second pass still finds each hosts file short of its DHCP port's line, which the
   cold pass wrote before it made the port).
3. **burst** — the lease host again, one network, ``clients`` instance namespaces each
   plugged into br-int for its own port (all ``ACTIVE``, all MACs in the hosts file first),
   each with a ``busybox udhcpc -n -q -t 10 -T 1`` held at a gate (a FIFO) and released at
   once; leases/s = clients with a lease ÷ time from the release to the last lease;
   failures = clients without a lease when all have exited. ``burst_rounds`` rounds: the
   first against an empty lease table, the next ones renewing known clients.

Everything made here — server, agent processes and udhcpc clients (tracked by pid, own
process group, ``PR_SET_PDEATHSIG``), dnsmasq daemons, qdhcp namespaces (removed by the
agent's own ``--cleanup`` mode with the host's ``--namespace-prefix``, by verified pid),
instances, hosts — is removed on the way out, also on failure or Ctrl-C. ``python -m
bench.run --suite dhcp`` runs this and writes the report (``bench.dhcp_report``). Needs
root.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.agent_lab import (
    Lab,
    _children_cpu_s,
    _wait,
    load_meter,
    run_phases,
    summary_ms,
    tree_cpu_s,
)
from bench.feed_bench import Connection
from bench.l3_bench import subnet_cidr
from bench.proc import _die_with_parent
from bench.report import REPO
from bench.servers import fermion_executable
from fermion.lab.host import Host
from fermion.linux import interface
from fermion.linux import netns as ns
from fermion.linux.process import argv_of, read_pidfile

Log = Callable[[str], None]

UDHCPC = ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n"]
GATE_TIMEOUT = 30.0
ACTIVE_GRACE = 10.0  # seconds the watcher may go on after the lease


@dataclass
class DhcpConfig:
    samples: int = 40
    retry_ms: int = 100  # phase 1: a new udhcpc every retry_ms
    networks: int = 200
    ports_per_network: int = 20
    clients: int = 100
    burst_rounds: int = 3
    burst_tries: int = 10  # DISCOVERs each burst client sends (1 s apart) before giving up
    timeout: float = 30.0  # per lease sample
    settle: float = 1.0  # pause between lease samples

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- pure helpers ---------------------------------------------------------------------------

def lease_script(path: Path) -> str:
    """udhcpc's ``-s`` script: on ``bound``, write the address to ``path`` (atomically)."""
    return (f'#!/bin/sh\n[ "$1" = bound ] && echo "$ip" > {path}.$$ && mv {path}.$$ {path}\n'
            "exit 0\n")


def gated_argv(fifo: Path, argv: Sequence[str]) -> list[str]:
    """``sh`` that blocks reading ``fifo`` (until its last writer closes it), then execs
    ``argv``: many clients released at one moment."""
    return ["sh", "-c", 'read _ < "$0"; exec "$@"', str(fifo), *argv]


def burst_result(launched: float, done: dict[int, float], clients: int) -> dict[str, Any]:
    """Leases per second for one burst: ``done`` maps client → monotonic time of its lease;
    ``launched`` is when the gate opened."""
    times = sorted(t - launched for t in done.values())
    out: dict[str, Any] = {"clients": clients, "leases": len(times),
                           "failures": clients - len(times)}
    if times:
        span = times[-1]
        out.update({"all_leased_s": round(span, 3),
                    "leases_per_s": round(len(times) / span, 1) if span > 0 else None,
                    "lease_ms": summary_ms(times),
                    "half_leased_s": round(times[(len(times) - 1) // 2], 3)})
    return out


def hosts_macs(text: str) -> set[str]:
    """MACs listed in a dnsmasq ``--dhcp-hostsfile`` (first field of each line)."""
    return {line.split(",", 1)[0].lower() for line in text.splitlines() if "," in line}


# -- the lab --------------------------------------------------------------------------------

class DhcpLab(Lab):
    """``bench.l2_bench.Lab`` (server, hosts, tracked processes) with the DHCP pieces."""

    def __init__(self, log: Log):
        super().__init__(log)
        self.clients: list[subprocess.Popen[bytes]] = []

    def close(self) -> None:
        self.kill_clients()
        super().close()

    def dhcp_host(self, name: str) -> Host:
        """A host whose teardown first removes what the DHCP agent made on it: the agent's
        own ``--cleanup`` (dnsmasq/haproxy by verified pid, namespaces, files)."""
        host = self.add_host(name)
        ini = host.rundir / "dhcp_agent.ini"
        ini.write_text(f"[DEFAULT]\nstate_path = {host.rundir}\n\n[ovs]\n"
                       f"datapath_type = {host.ovs.datapath_type}\n")
        host.teardown.add("DHCP agent --cleanup", self.dhcp_cleanup, host)
        return host

    def dhcp_argv(self, host: Host, *extra: str) -> list[str]:
        return [str(fermion_executable()), "agent", "dhcp", "--host", host.name,
                "--server", self.server.url, "--config-file", str(host.rundir / "dhcp_agent.ini"),
                "--ovs-rundir", str(host.rundir), "--ovs-netns", host.ns,
                "--namespace-prefix", f"{host.ns}-", *extra]

    def dhcp_cleanup(self, host: Host) -> None:
        proc = subprocess.run(self.dhcp_argv(host, "--cleanup"), capture_output=True,
                              text=True, timeout=900, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            self.log(f"[dhcp] agent --cleanup failed ({proc.returncode}): "
                     f"{(proc.stdout + proc.stderr)[-800:]}; removing in process")
            from fermion.agent.dhcp_apply import DhcpApplier
            from fermion.agent.dhcp_model import DhcpConf

            DhcpApplier(host.name, None, host.ovs, DhcpConf(), state_dir=str(self.state(host)),
                        metadata_socket="", namespace_prefix=f"{host.ns}-",
                        ovs_netns=host.ns).remove_all()
        left = [n for n in ns.list_netns() if n.startswith(f"{host.ns}-qdhcp-")]
        if left:
            raise RuntimeError(f"{len(left)} qdhcp namespaces left after --cleanup")

    def state(self, host: Host) -> Path:
        return host.rundir / "dhcp"

    def dnsmasq_pid(self, host: Host, net_id: str) -> int | None:
        pid = read_pidfile(self.state(host) / net_id / "pid")
        if pid and (argv_of(pid) or [""])[0] == "dnsmasq":
            return pid
        return None

    def hosts_file(self, host: Host, net_id: str) -> str:
        try:
            return (self.state(host) / net_id / "host").read_text()
        except OSError:
            return ""

    def dhcp_once(self, host: Host, profile: Path) -> dict[str, Any]:
        """One ``fermion agent dhcp --once`` under ``bench.dhcp_profile``: wall and CPU
        seconds, the summary's counts, the profile."""
        argv = [sys.executable, "-m", "bench.dhcp_profile", str(profile), "--",
                *self.dhcp_argv(host, "--once")[1:]]
        cpu0, t0 = _children_cpu_s(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600,
                              stdin=subprocess.DEVNULL, cwd=REPO)
        wall, cpu = time.monotonic() - t0, _children_cpu_s() - cpu0
        if proc.returncode != 0:
            raise RuntimeError(f"agent dhcp --once failed ({proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-1500:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        out: dict[str, Any] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        for key in ("networks", "started", "adopted", "reloaded", "unchanged", "removed",
                    "ports_created", "metadata"):
            out[key] = len(res.get(key, []))
        out["errors"] = len(res.get("errors", {}))
        out["profile"] = json.loads(profile.read_text())
        cmds = out["profile"].get("commands", {}).values()
        out["profile"]["commands_run"] = sum(c["count"] for c in cmds)
        out["profile"]["commands_s"] = round(sum(c["total_s"] for c in cmds), 3)
        out["profile"]["api_calls"] = sum(
            v["count"] for k, v in out["profile"].get("spans", {}).items()
            if k.startswith("API:"))
        return out

    # -- API ------------------------------------------------------------------------------
    def dhcp_network(self, name: str, cidr: str) -> tuple[str, str]:
        net = self.api.expect("POST", "/v2.0/networks", {"network": {"name": name}})["network"]
        sub = self.api.expect("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": cidr,
            "enable_dhcp": True}})["subnet"]
        return net["id"], sub["id"]

    # -- instances and clients ------------------------------------------------------------
    def instance(self, host: Host, name: str, port: dict[str, Any]) -> str:
        """An instance namespace whose eth0 (the port's MAC, no address) is plugged into
        br-int for ``port``, as os-vif does; returns the namespace."""
        netns = f"{host.ns}-{name}"
        tap = "tap" + port["id"][:11]
        host.teardown.add(f"delete netns {netns}", ns.delete_netns, netns)
        host.teardown.add(f"unplug {tap}", interface.unplug, host.ovs, "eth0", netns,
                          ovs_device=tap, ovs_netns=host.ns)
        interface.plug(host.ovs, interface.PlugSpec(
            device="eth0", netns=netns, bridge="br-int", port_id=port["id"],
            mac=port["mac_address"], ovs_device=tap, ovs_netns=host.ns,
            extra_ids={"vm-uuid": str(uuid.uuid4())}))
        return netns

    def client(self, argv: Sequence[str], netns: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(ns.netns_argv(netns, argv), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_die_with_parent)
        self.clients.append(proc)
        return proc

    def kill_clients(self) -> None:
        for proc in self.clients:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.clients.clear()


def _dead(lab: DhcpLab, agents: dict[str, subprocess.Popen[bytes]]
          ) -> Callable[[], str | None]:
    def check() -> str | None:
        for name, proc in agents.items():
            if proc.poll() is not None:
                return f"agent {name} exited with {proc.returncode}:\n{lab.log_tail(name)}"
        return None

    return check


def _agents_host(lab: DhcpLab, name: str, cidr: str
                 ) -> tuple[Host, str, dict[str, subprocess.Popen[bytes]]]:
    """A host with the L2 and DHCP agents running and one DHCP network served."""
    host = lab.dhcp_host(name)
    agents = {"l2": lab.spawn(lab.agent_argv(host, "--tunnel-types", "vxlan"), "l2")}
    _wait(lambda: "br-int" in host.ovs.list_bridges(), 60, "the L2 agent's br-int",
          _dead(lab, agents))
    net, _subnet = lab.dhcp_network(f"dhcpb-{name}", cidr)
    agents["dhcp"] = lab.spawn(lab.dhcp_argv(host), "dhcp")
    _wait(lambda: lab.dnsmasq_pid(host, net) is not None, 60, "dnsmasq serving the network",
          _dead(lab, agents))
    return host, net, agents


def _agent_command(argv: Sequence[str]) -> str:
    """An agent's argv without the per-run values (paths, URL, prefix)."""
    out, skip = ["fermion"], False
    for w in list(argv)[1:]:
        if skip:
            skip = False
            continue
        if w in ("--server", "--ovs-rundir", "--ovs-netns", "--namespace-prefix",
                 "--config-file"):
            skip = True
            continue
        out.append(w)
    return " ".join(out)


# -- phase 1: port create → lease -------------------------------------------------------------

class Watch(threading.Thread):
    """Times, from ``t0``, the port's MAC in the hosts file and its ACTIVE in the API."""

    def __init__(self, lab: DhcpLab, host: Host, net: str, port: dict[str, Any],
                 t0: float, timeout: float):
        super().__init__(daemon=True)
        self.lab, self.host, self.net, self.port = lab, host, net, port
        self.t0, self.deadline = t0, t0 + timeout
        self.hosts_s: float | None = None
        self.active_s: float | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        api = Connection(self.lab.server.url)
        mac, last_api = self.port["mac_address"].lower(), 0.0
        try:
            while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                now = time.monotonic()
                if self.hosts_s is None and mac in hosts_macs(
                        self.lab.hosts_file(self.host, self.net)):
                    self.hosts_s = now - self.t0
                if self.active_s is None and now - last_api >= 0.02:
                    last_api = now
                    got = api.expect("GET", f"/v2.0/ports/{self.port['id']}")["port"]
                    if got["status"] == "ACTIVE":
                        self.active_s = time.monotonic() - self.t0
                if self.hosts_s is not None and self.active_s is not None:
                    return
                self.stop_event.wait(0.005)
        finally:
            api.close()


def _lease_sample(lab: DhcpLab, host: Host, net: str, i: int, cfg: DhcpConfig
                  ) -> dict[str, Any]:
    sent = time.monotonic()
    port = lab.api.expect("POST", "/v2.0/ports", {"port": {
        "network_id": net, "binding:host_id": host.name, "name": f"lease-{i}"}})["port"]
    t0 = time.monotonic()
    watch = Watch(lab, host, net, port, t0, cfg.timeout)
    watch.start()
    netns = lab.instance(host, f"v{i}", port)
    plugged = time.monotonic() - t0
    out = host.rundir / f"v{i}.lease"
    script = host.rundir / f"v{i}.sh"
    script.write_text(lease_script(out))
    script.chmod(0o755)
    argv = [*UDHCPC, "-t", "1", "-T", "1", "-s", str(script)]
    leased: float | None = None
    tries, next_try = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < cfg.timeout:
            now = time.monotonic()
            if out.exists():
                leased = now - t0
                break
            if now >= next_try:
                lab.client(argv, netns)
                tries += 1
                next_try = now + cfg.retry_ms / 1000
            time.sleep(0.005)
    finally:
        lab.kill_clients()
        watch.join(timeout=ACTIVE_GRACE)  # ACTIVE may come after the lease
        watch.stop_event.set()
        watch.join(timeout=5)
    ip = out.read_text().strip() if leased is not None else None
    want = port["fixed_ips"][0]["ip_address"]
    if ip is not None and ip != want:
        raise RuntimeError(f"lease {i}: udhcpc was given {ip}, the port has {want}")
    return {"api_s": round(t0 - sent, 4), "plug_s": round(plugged, 4),
            "hosts_s": _r(watch.hosts_s), "active_s": _r(watch.active_s),
            "lease_s": _r(leased),
            "lease_after_plug_s": None if leased is None else round(leased - plugged, 4),
            "udhcpc_runs": tries}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _col(samples: list[dict[str, Any]], key: str) -> list[float]:
    return [s[key] for s in samples if s.get(key) is not None]


def phase_lease(cfg: DhcpConfig, rep: Any) -> dict[str, Any]:
    with DhcpLab(rep.log) as lab:
        host, net, agents = _agents_host(lab, "d1", "10.71.0.0/22")
        dead = _dead(lab, agents)
        out: dict[str, Any] = {
            "server": lab.server.version(),
            "agents": {k: _agent_command(_argv(v))
                       for k, v in agents.items()},
            "ports": cfg.samples, "retry_ms": cfg.retry_ms}
        warm = _lease_sample(lab, host, net, 0, cfg)  # the DHCP port wired, caches warm
        if warm["lease_s"] is None:
            raise RuntimeError(f"the warm-up instance got no lease within {cfg.timeout:.0f}s"
                               f"\n{lab.log_tail('dhcp')}\n{lab.log_tail('l2')}")
        time.sleep(cfg.settle)

        def pids() -> dict[str, list[int]]:
            return {"server": [lab.server.pid or 0], "dhcp_agent": [agents["dhcp"].pid],
                    "l2_agent": [agents["l2"].pid], "ovs": lab.ovs_pids()}

        cpu0 = {k: tree_cpu_s(p.pid) for k, p in agents.items()}
        samples: list[dict[str, Any]] = []
        with load_meter(pids) as load:
            with rep.task(f"port create → udhcpc lease (a try every {cfg.retry_ms} ms)",
                          cfg.samples) as advance:
                for i in range(1, cfg.samples + 1):
                    samples.append(_lease_sample(lab, host, net, i, cfg))
                    if (why := dead()) is not None:
                        raise RuntimeError(why)
                    advance(1)
                    time.sleep(cfg.settle)
        out.update({
            "never": sum(1 for s in samples if s["lease_s"] is None),
            "api_ms": summary_ms(_col(samples, "api_s")),
            "plug_ms": summary_ms(_col(samples, "plug_s")),
            "hosts_ms": summary_ms(_col(samples, "hosts_s")),
            "active_ms": summary_ms(_col(samples, "active_s")),
            "lease_ms": summary_ms(_col(samples, "lease_s")),
            "lease_after_plug_ms": summary_ms(_col(samples, "lease_after_plug_s")),
            "udhcpc_runs_mean": round(sum(s["udhcpc_runs"] for s in samples)
                                      / max(1, len(samples)), 1),
            "agent_cpu_s": {k: round(tree_cpu_s(p.pid) - cpu0[k], 1)
                            for k, p in agents.items()},
            "machine_load": load, "samples": samples})
        rep.log(f"[dhcp] port create → lease: {out['lease_ms']}")
        return out


def _argv(proc: subprocess.Popen[bytes]) -> list[str]:
    """A spawned agent's argv without ``ip netns exec`` (none here) as a list."""
    return [str(a) for a in proc.args]  # type: ignore[union-attr]


# -- phase 2: resync of many networks ---------------------------------------------------------

def phase_resync(cfg: DhcpConfig, rep: Any) -> dict[str, Any]:
    log = rep.log
    with DhcpLab(log) as lab:
        host = lab.dhcp_host("r1")
        host.ovs.add_bridge("br-int")  # the L2 agent's; the DHCP agent plugs into it
        out: dict[str, Any] = {
            "server": lab.server.version(), "networks": cfg.networks,
            "ports_per_network": cfg.ports_per_network,
            "agent_command": _agent_command(lab.dhcp_argv(host, "--once"))}
        out["empty_pass"] = {k: v for k, v in lab.dhcp_once(
            host, lab.tmp / "profile-empty.json").items() if k != "profile"}
        t0 = time.monotonic()
        nets = _resync_objects(lab, cfg, rep)
        out["api_create_s"] = round(time.monotonic() - t0, 1)
        agents = lab.api.expect("GET", "/v2.0/agents?agent_type=DHCP%20agent")["agents"]
        scheduled = lab.api.expect(
            "GET", f"/v2.0/agents/{agents[0]['id']}/dhcp-networks")["networks"]
        out["scheduled"] = len(scheduled)
        if len(scheduled) != len(nets):
            raise RuntimeError(f"{len(scheduled)} of {len(nets)} networks scheduled to the "
                               "agent")
        passes: dict[str, Any] = {}
        with load_meter(lambda: {"server": [lab.server.pid or 0],
                                 "ovs": lab.ovs_pids()}) as load:
            for key, what in PASSES:
                log(f"[dhcp] resync: {what} pass over {len(nets)} networks …")
                passes[key] = lab.dhcp_once(host, lab.tmp / f"profile-{key}.json")
                log(f"[dhcp]   {what}: {_brief(passes[key])}")
        out.update({"passes": passes, "machine_load": load,
                    "made": _census(lab, host, nets)})
        log(f"[dhcp]   made: {out['made']}")
        return out


# the cold pass writes each hosts file before its DHCP port exists, so the second pass
# rewrites them (and sends SIGHUP); the third is the first with nothing to do
PASSES = (("cold", "cold"), ("second", "second"), ("no_change", "no change"))


def _resync_objects(lab: DhcpLab, cfg: DhcpConfig, rep: Any) -> list[str]:
    api = lab.api
    n = cfg.networks
    with rep.task(f"create {n} networks with a DHCP subnet and {cfg.ports_per_network} "
                  "ports each (bulk)", n) as advance:
        nets: list[str] = []
        for start in range(0, n, 50):
            count = min(50, n - start)
            made = api.expect("POST", "/v2.0/networks", {"networks": [
                {"name": f"rs-{start + k}"} for k in range(count)]})["networks"]
            api.expect("POST", "/v2.0/subnets", {"subnets": [
                {"network_id": net["id"], "ip_version": 4, "enable_dhcp": True,
                 "cidr": subnet_cidr("10.96.0.0/16", start + k)}
                for k, net in enumerate(made)]})
            ports = [{"network_id": net["id"], "name": f"rs-{start + k}-{p}"}
                     for k, net in enumerate(made) for p in range(cfg.ports_per_network)]
            for i in range(0, len(ports), 500):
                api.expect("POST", "/v2.0/ports", {"ports": ports[i:i + 500]})
            nets += [net["id"] for net in made]
            advance(count)
    return nets


def _census(lab: DhcpLab, host: Host, nets: Sequence[str]) -> dict[str, int]:
    """What the agent made: qdhcp namespaces, live dnsmasq, tap ports on br-int, hosts
    lines over all hosts files."""
    spaces = [n for n in ns.list_netns() if n.startswith(f"{host.ns}-qdhcp-")]
    live = sum(1 for n in nets if lab.dnsmasq_pid(host, n) is not None)
    taps = [p for p in host.ovs.list_ports("br-int") if p.startswith("tap")]
    lines = sum(len(lab.hosts_file(host, n).splitlines()) for n in nets)
    return {"namespaces": len(spaces), "dnsmasq": live, "ovs_ports": len(taps),
            "hosts_lines": lines}


def _brief(p: dict[str, Any]) -> str:
    prof = p.get("profile", {})
    return (f"{p['wall_s']:.1f} s wall, {p['cpu_s']:.1f} s CPU, {p['started']} started, "
            f"{p['adopted']} adopted, {p['ports_created']} DHCP ports created, "
            f"{prof.get('commands_run', 0)} commands ({prof.get('commands_s', 0):.1f} s), "
            f"{prof.get('api_calls', 0)} API calls, {p['errors']} errors")


# -- phase 3: a burst of clients ---------------------------------------------------------------

def phase_burst(cfg: DhcpConfig, rep: Any) -> dict[str, Any]:
    with DhcpLab(rep.log) as lab:
        host, net, agents = _agents_host(lab, "b1", "10.72.0.0/24")
        dead = _dead(lab, agents)
        n = cfg.clients
        ports = lab.api.expect("POST", "/v2.0/ports", {"ports": [
            {"network_id": net, "binding:host_id": host.name, "name": f"burst-{i}"}
            for i in range(n)]})["ports"]
        spaces: list[str] = []
        with rep.task(f"plug {n} instances", n) as advance:
            for i, port in enumerate(ports):
                spaces.append(lab.instance(host, f"c{i}", port))
                advance(1)
        want = {p["mac_address"].lower() for p in ports}

        def ready() -> bool:
            got = lab.api.expect("GET", f"/v2.0/ports?network_id={net}")["ports"]
            active = {p["id"] for p in got if p["status"] == "ACTIVE"}
            return (all(p["id"] in active for p in ports)
                    and want <= hosts_macs(lab.hosts_file(host, net)))

        _wait(ready, 300, f"{n} ports ACTIVE and in the hosts file", dead)
        time.sleep(2 * cfg.settle)
        out: dict[str, Any] = {
            "server": lab.server.version(), "clients": n,
            "agents": {k: _agent_command(_argv(v)) for k, v in agents.items()},
            "udhcpc": " ".join([*UDHCPC, "-t", str(cfg.burst_tries), "-T", "1"]),
            "rounds": []}

        def pids() -> dict[str, list[int]]:
            return {"server": [lab.server.pid or 0], "dhcp_agent": [agents["dhcp"].pid],
                    "l2_agent": [agents["l2"].pid], "ovs": lab.ovs_pids(),
                    "dnsmasq": [lab.dnsmasq_pid(host, net) or 0]}

        for r in range(cfg.burst_rounds):
            res = _burst_round(lab, host, spaces, ports, r, cfg, pids)
            out["rounds"].append(res)
            rep.log(f"[dhcp] burst round {r + 1}: {res['leases']}/{n} leases in "
                    f"{res.get('all_leased_s')} s → {res.get('leases_per_s')} leases/s, "
                    f"{res['failures']} failures")
            if (why := dead()) is not None:
                raise RuntimeError(why)
            time.sleep(2 * cfg.settle)
        return out


def _burst_round(lab: DhcpLab, host: Host, spaces: Sequence[str],
                 ports: Sequence[dict[str, Any]], r: int, cfg: DhcpConfig,
                 pids: Callable[[], dict[str, list[int]]]) -> dict[str, Any]:
    fifo = host.rundir / f"gate{r}"
    os.mkfifo(fifo)
    gate = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # the writer: clients open without waiting
    files, procs = [], []
    try:
        for i, netns in enumerate(spaces):
            out = host.rundir / f"r{r}-c{i}.lease"
            script = host.rundir / f"r{r}-c{i}.sh"
            script.write_text(lease_script(out))
            script.chmod(0o755)
            files.append(out)
            procs.append(lab.client(gated_argv(fifo, [
                *UDHCPC, "-t", str(cfg.burst_tries), "-T", "1", "-s", str(script)]), netns))
        _wait(lambda: all(_holds(p.pid, fifo) for p in procs), GATE_TIMEOUT,
              "every client waiting at the gate")
        done: dict[int, float] = {}
        with load_meter(pids) as load:
            os.close(gate)  # EOF for every reader: all go at once
            gate = -1
            launched = time.monotonic()
            deadline = launched + cfg.burst_tries * 1.5 + 15
            while len(done) < len(procs) and time.monotonic() < deadline:
                now = time.monotonic()
                for i, p in enumerate(procs):
                    if i not in done and p.poll() is not None:
                        done[i] = now
                time.sleep(0.005)
        leased = {i: t for i, t in done.items() if files[i].exists()}
        wrong = [i for i in leased
                 if files[i].read_text().strip() != ports[i]["fixed_ips"][0]["ip_address"]]
        res = burst_result(launched, leased, len(procs))
        res["wrong_address"] = len(wrong)
        res["still_running"] = len(procs) - len(done)
        res["machine_load"] = load
        return res
    finally:
        if gate >= 0:
            os.close(gate)
        lab.kill_clients()
        fifo.unlink(missing_ok=True)


def _holds(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (a client waiting at the gate)."""
    target = str(path)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
    return False


# -- all of it ---------------------------------------------------------------------------------

PHASES: dict[str, Callable[[DhcpConfig, Any], dict[str, Any]]] = {
    "lease": phase_lease, "resync": phase_resync, "burst": phase_burst}


def run_dhcp_bench(cfg: DhcpConfig, rep: Any, phases: Sequence[str] = tuple(PHASES)
                  ) -> dict[str, Any]:
    """Each phase in turn; a failed phase is recorded (``error``) and the next one runs."""
    return run_phases("dhcp", "DHCP agent", PHASES, cfg, rep, phases)


if __name__ == "__main__":
    import argparse

    from bench.api_bench import PlainReporter
    from bench.proc import install_signal_handlers

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", action="append", choices=tuple(PHASES))
    defaults = DhcpConfig()
    for key, value in defaults.as_dict().items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    a = parser.parse_args()
    install_signal_handlers()
    config = DhcpConfig(**{k: getattr(a, k) for k in defaults.as_dict()})
    result = run_dhcp_bench(config, PlainReporter(), a.phase or tuple(PHASES))
    for phase in result.values():
        phase.pop("samples", None)
    print(json.dumps(result, indent=2))
