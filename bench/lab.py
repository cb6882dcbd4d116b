"""The agents' suites' world: a Fermion server, simulated hosts, agents as processes.

``Lab`` is one phase's world: a fresh ``FermionServer``, a ``fermion.lab.host.HostGroup``
(a namespace with its own userspace OVS per host) and the children started for it — agents
run as the real ``fermion agent …`` command, iperf3 servers — each in its own process
group, tracked by pid and stopped by ``close()``, also on failure or Ctrl-C. What agents
made on a host goes with it: routers by ``fermion.lab.leftovers.remove_routers``, DHCP
networks by the DHCP agent's own ``--cleanup``. ``Probe`` runs ``PROBE`` in an instance:
ARP retransmits every 10 ms, an ICMP echo every 10 ms until one is answered, and prints
``OK <CLOCK_MONOTONIC of the reply>``.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import profile as profiles
from bench.harness import REPO, Log, Reporter, children_cpu_s, load_meter, tree_cpu_s
from bench.procs import Api, FermionServer, fermion_executable, start_child, stop_group
from fermion.lab.host import Host, HostGroup, TeardownError, sweep_stale
from fermion.lab.leftovers import remove_routers
from fermion.linux import netns as ns

PROBE = r"""
import os, select, socket, struct, sys, time
print("READY", flush=True)
dst, timeout, dev = sys.argv[1], float(sys.argv[2]), sys.argv[3]
for key, value in (("retrans_time_ms", "10"), ("mcast_solicit", "100"),
                   ("ucast_solicit", "100")):
    with open(f"/proc/sys/net/ipv4/neigh/{dev}/{key}", "w") as f:
        f.write(value)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF

def echo(seq):
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"fermion-l2-bench"
    total = sum(struct.unpack(f"!{len(head) // 2}H", head))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return head[:2] + struct.pack("!H", ~total & 0xFFFF) + head[4:]

end, seq = time.monotonic() + timeout, 0
while time.monotonic() < end:
    seq = (seq + 1) & 0xFFFF
    try:
        s.sendto(echo(seq), (dst, 0))
    except OSError:
        pass
    until = time.monotonic() + 0.01
    while (left := until - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        data, addr = s.recvfrom(4096)
        now = time.monotonic()
        ihl = (data[0] & 0x0F) * 4
        kind, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if kind == 0 and rid == ident and addr[0] == dst:
            print(f"OK {now:.6f}", flush=True)
            sys.exit(0)
print("TIMEOUT", flush=True)
sys.exit(1)
"""
# per-run values left out of an agent's command line in a report
PER_RUN = ("--server", "--ovs-rundir", "--ovs-netns", "--namespace-prefix", "--state-path",
           "--metadata-proxy-socket", "--local-ip", "--config-file")


def parse_probe(stdout: str) -> float | None:
    """The monotonic time in a probe's ``OK <t>`` line, else None."""
    m = re.search(r"^OK (\d+(?:\.\d+)?)$", stdout, re.M)
    return float(m.group(1)) if m else None


def short_command(argv: Sequence[str] | str) -> str:
    """An agent's command line as ``fermion agent …``, without its per-run values."""
    words = argv.split() if isinstance(argv, str) else [str(a) for a in argv]
    out, skip = ["fermion"], False
    for w in words[1:]:
        if skip or w in PER_RUN:
            skip = not skip
            continue
        out.append(w)
    return " ".join(out)


class Probe:
    """``PROBE`` in ``netns`` towards ``dst``; with ``ready`` its interpreter runs on
    return. ``result()``: the monotonic time of the first echo reply, or None."""

    def __init__(self, netns: str, dst: str, dev: str, timeout: float, ready: bool = True):
        self.timeout = timeout
        self.proc = start_child(ns.netns_argv(netns, [sys.executable, "-c", PROBE, dst,
                                                      str(timeout), dev]),
                                subprocess.PIPE, text=True)
        if ready and (line := self.proc.stdout.readline().strip()) != "READY":
            self.kill()
            raise RuntimeError(f"probe did not start: {line} {self.proc.stdout.read()[-500:]}")

    def result(self) -> float | None:
        try:
            return parse_probe(self.proc.communicate(timeout=self.timeout + 10)[0])
        finally:
            self.kill()

    def kill(self) -> None:
        stop_group(self.proc, timeout=0)


def ping_ok(inst: Any, dst: str, timeout: float = 10.0) -> bool:
    """An instance's echo to ``dst`` is answered within ``timeout``."""
    out = inst.exec([sys.executable, "-c", PROBE, dst, str(timeout), inst.dev], check=False,
                    timeout=timeout + 10)
    return parse_probe(out.stdout) is not None


def quiesce(pids: Sequence[int], quiet: float, timeout: float = 60.0) -> float:
    """Wait until the process trees ``pids`` (with the children they reaped) have used no
    CPU for ``quiet`` seconds — every pass a previous change set off has ended; returns the
    seconds waited (``timeout`` at most)."""
    t0 = time.monotonic()
    last, since = sum(map(tree_cpu_s, pids)), t0
    while time.monotonic() - t0 < timeout:
        time.sleep(0.1)
        now = sum(map(tree_cpu_s, pids))
        if now - last > 0.005:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return round(time.monotonic() - t0, 2)


class Lab:
    """A fresh server, a HostGroup and tracked processes; ``close()`` removes them all."""

    def __init__(self, log: Log):
        self.log = log
        self.server = FermionServer(log=log)
        self.group: HostGroup | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}  # name -> tracked child
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-lab-"))
        self.api = Api("http://127.0.0.1:1")

    def __enter__(self) -> Lab:
        try:
            if swept := sweep_stale():
                self.log(f"swept host groups left by dead processes: {', '.join(swept)}")
            self.server.start()
            self.api = Api(self.server.url)
            self.group = HostGroup.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)
        if self.group is not None:
            try:
                self.group.destroy()
            except TeardownError as exc:
                self.log(f"host teardown: {exc}")
            self.group = None
        self.api.close()
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- hosts and processes ----------------------------------------------------------------
    def add_host(self, name: str, agent: str = "l2") -> Host:
        """A host for ``agent``; for l3 and dhcp, its teardown first removes what that
        agent made on it."""
        assert self.group is not None
        host = self.group.add_host(name)
        if agent == "l3":
            host.teardown.add("L3 agent leftovers", remove_routers, host, host.rundir / "l3")
        elif agent == "dhcp":
            (host.rundir / "dhcp_agent.ini").write_text(f"[DEFAULT]\nstate_path = {host.rundir}\n")
            host.teardown.add("DHCP agent --cleanup", self.run_agent,
                              self.agent_argv("dhcp", host, "--cleanup"))
        return host

    def ovs_pids(self) -> list[int]:
        hosts = self.group.hosts.values() if self.group else ()
        return [pid for h in hosts for pid in h.daemon.pids.values()]

    def spawn(self, argv: Sequence[str], name: str, netns: str | None = None
              ) -> subprocess.Popen[bytes]:
        """A tracked child in its own session, output to ``<tmp>/<name>.log``."""
        with open(self.tmp / f"{name}.log", "wb") as out:
            self.procs[name] = start_child(ns.netns_argv(netns, argv), out)
        return self.procs[name]

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        try:
            stop_group(proc)
        except Exception as exc:  # noqa: BLE001 - keep cleaning up
            self.log(f"could not stop {name} (pid {proc.pid}): {exc}")

    def log_text(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.tmp / f"{name}.log").read_text(errors="replace")
        return ""

    def log_tail(self, name: str, lines: int = 30) -> str:
        return "\n".join(self.log_text(name).splitlines()[-lines:])

    def dead(self) -> str | None:
        """Why a tracked process has exited (with its log's tail), or None."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}"
        return None

    def series(self, rep: Reporter, desc: str, items: Sequence[Any],
               sample: Callable[[Any], Any], pids: Callable[[], dict[str, list[int]]]
               ) -> tuple[list[Any], dict[str, Any]]:
        """``sample(item)`` for each item in turn, under a ``load_meter`` of ``pids()``; a
        tracked process that exits ends the series. (samples, load)."""
        samples = []
        with load_meter(pids) as load, rep.task(desc, len(items)) as advance:
            for item in items:
                samples.append(sample(item))
                if (why := self.dead()) is not None:
                    raise RuntimeError(why)
                advance(1)
        return samples, load

    def wait(self, cond: Callable[[], Any], timeout: float, what: str) -> None:
        """Until ``cond()``; RuntimeError on timeout or when a tracked process exits."""
        deadline = time.monotonic() + timeout
        while not cond():
            if (why := self.dead()) is not None:
                raise RuntimeError(f"{what}: {why}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.05)

    # -- agents ---------------------------------------------------------------------------
    def agent_argv(self, kind: str, host: Host, *extra: str) -> list[str]:
        argv = [str(fermion_executable()), "agent", kind, "--host", host.name,
                "--server", self.server.url, "--ovs-rundir", str(host.rundir),
                "--datapath-type", host.ovs.datapath_type]
        if kind != "l2":
            argv += ["--ovs-netns", host.ns, "--namespace-prefix", f"{host.ns}-"]
        if kind == "l3":
            argv += ["--state-path", str(host.rundir / "l3"),
                     "--metadata-proxy-socket", str(host.rundir / "md.sock")]
        if kind == "dhcp":
            argv += ["--config-file", str(host.rundir / "dhcp_agent.ini")]
        return argv + list(extra)

    def agent(self, kind: str, host: Host, *extra: str) -> subprocess.Popen[bytes]:
        """``fermion agent <kind>`` as a daemon, named ``<kind>-<host>``."""
        return self.spawn(self.agent_argv(kind, host, *extra), f"{kind}-{host.name}")

    def run_agent(self, argv: Sequence[str]) -> tuple[dict[str, Any], float, float]:
        """Run an agent command to its end: (its JSON summary, wall s, CPU s)."""
        cpu0, t0 = children_cpu_s(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600,
                              stdin=subprocess.DEVNULL, cwd=REPO)
        wall, cpu = time.monotonic() - t0, children_cpu_s() - cpu0
        if proc.returncode != 0:
            raise RuntimeError(f"{short_command(argv)} failed ({proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-1500:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1]), wall, cpu

    def once(self, kind: str, host: Host, *extra: str, profile: str = ""
             ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One timed ``--once`` pass (under ``bench.profile`` when ``profile`` names the
        pass): ({wall_s, cpu_s[, profile]}, the agent's JSON summary)."""
        argv = self.agent_argv(kind, host, "--once", *extra)
        out_file = self.tmp / f"profile-{profile}.json"
        if profile:
            argv = [sys.executable, "-m", "bench.profile", str(out_file), kind, "--",
                    *argv[1:]]
        summary, wall, cpu = self.run_agent(argv)
        out: dict[str, Any] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        if profile:
            out["profile"] = profiles.load(out_file)
        return out, summary

    # -- API ------------------------------------------------------------------------------
    def port_status(self, port_id: str) -> str:
        return self.api.expect("GET", f"/v2.0/ports/{port_id}")["port"]["status"]

    def wait_active(self, port_id: str, timeout: float, interval: float = 0.01
                    ) -> float | None:
        """Monotonic time at which the API first answered ACTIVE, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_status(port_id) == "ACTIVE":
                return time.monotonic()
            time.sleep(interval)
        return None

    def network(self, name: str, cidr: str, dhcp: bool = False) -> tuple[str, str]:
        """A network with one IPv4 subnet; (network id, subnet id)."""
        net = self.api.post("/v2.0/networks", {"network": {"name": name}})
        sub = self.api.post("/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": dhcp}})
        return net["id"], sub["id"]

    def group_from(self, name: str, cidr: str) -> str:
        """A security group letting in IPv4 from ``cidr``."""
        sg = self.api.post("/v2.0/security-groups", {"security_group": {"name": name}})["id"]
        self.api.post("/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": sg, "direction": "ingress", "ethertype": "IPv4",
            "remote_ip_prefix": cidr}})
        return sg
