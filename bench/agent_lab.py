"""What the agents' benchmarks share (``bench.l2_bench``, ``l3_bench``, ``dhcp_bench``).

``Lab``: one phase's world (a fresh Fermion server, a group of simulated hosts, tracked child
processes), removed by ``close()`` also on failure or Ctrl-C; ``run_phases``: the phases of a
suite in turn, a failed one recorded; ``PROBE``: an in-instance ping that reports when its
first echo was answered; CPU and machine-load meters; percentile summaries.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.api_bench import percentile
from bench.feed_bench import Connection
from bench.proc import _CLK_TCK, _die_with_parent, process_tree, system_busy_s
from bench.servers import FermionServer, fermion_executable
from fermion.lab.host import Host, HostGroup, TeardownError, sweep_stale
from fermion.linux import netns as ns

Log = Callable[[str], None]


# Runs inside an instance: ARP retransmits every 10 ms, then an ICMP echo every 10 ms to
# argv[1] until one is answered; prints "OK <CLOCK_MONOTONIC of the reply>" or "TIMEOUT".
PROBE = r"""
import os, select, socket, struct, sys, time
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


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds of durations given in seconds ({} when empty)."""
    if not seconds:
        return {}
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": round(percentile(ms, 50), 1),
            "p90": round(percentile(ms, 90), 1), "p99": round(percentile(ms, 99), 1),
            "max": round(max(ms), 1), "mean": round(statistics.fmean(ms), 1)}


def parse_probe(stdout: str) -> float | None:
    """The monotonic time in a probe's ``OK <t>`` line, else None."""
    m = re.search(r"^OK (\d+(?:\.\d+)?)$", stdout, re.M)
    return float(m.group(1)) if m else None


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a live process tree, including the children each of them has already
    reaped (an agent's ``ovs-vsctl``/``ovs-ofctl`` calls count as the agent's)."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / _CLK_TCK


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def load_meter(tracked: Callable[[], dict[str, list[int]]]) -> Iterator[dict[str, Any]]:
    """Average cores used while the block ran: each group of ``tracked`` pids (process trees
    still alive at the end, e.g. the server, a running agent, the OVS daemons), this
    benchmark with the children it reaped (``ip``, ``ovs-vsctl``, ``--once`` agents, iperf3),
    and everything else on the machine; plus the 1-minute load average before and after."""
    out: dict[str, Any] = {}

    def cpu() -> dict[str, float]:
        return {k: sum(tree_cpu_s(p) for p in pids) for k, pids in tracked().items()}

    load0, busy0, own0, kids0 = (os.getloadavg()[0], system_busy_s(), _own_cpu_s(),
                                 _children_cpu_s())
    t0, groups0 = time.monotonic(), cpu()
    yield out
    wall = max(time.monotonic() - t0, 1e-6)
    groups = {k: v - groups0.get(k, 0.0) for k, v in cpu().items()}
    bench = (_own_cpu_s() - own0) + (_children_cpu_s() - kids0)
    others = (system_busy_s() - busy0) - bench - sum(groups.values())
    out.update({f"{k}_cores": round(v / wall, 2) for k, v in groups.items()})
    out.update({"bench_cores": round(bench / wall, 2),
                "other_processes_cores": round(max(0.0, others) / wall, 2),
                "loadavg_1m_before": round(load0, 2),
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
                "wall_s": round(wall, 1)})


class Lab:
    """One phase's world: a fresh Fermion server, a HostGroup, and the processes started for
    it (agents, iperf3 servers), all stopped and removed by ``close()``."""

    def __init__(self, log: Log):
        self.log = log
        self.server = FermionServer(log=log)
        self.group: HostGroup | None = None
        self.procs: list[tuple[subprocess.Popen[bytes], str]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-l2-"))

    def __enter__(self) -> Lab:
        try:
            self.server.start()
            self.api = Connection(self.server.url)
            self.group = HostGroup.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_host(self, name: str) -> Host:
        assert self.group is not None
        return self.group.add_host(name)

    def spawn(self, argv: Sequence[str], name: str, netns: str | None = None
              ) -> subprocess.Popen[bytes]:
        """A tracked child in its own session (its pid is its process group), output to
        ``<tmp>/<name>.log``; dies with us even if we are killed hard."""
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps it
        try:
            proc = subprocess.Popen(ns.netns_argv(netns, argv), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            log.close()
        self.procs.append((proc, name))
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            text = (self.tmp / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """TERM, then KILL, the process group of a tracked child (by its pid)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything left in its group

    def ovs_pids(self) -> list[int]:
        if self.group is None:
            return []
        return [pid for h in self.group.hosts.values() for pid in h.daemon.pids.values()]

    def close(self) -> None:
        for proc, _name in reversed(self.procs):
            try:
                self.stop(proc)
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                self.log(f"[l2] could not stop pid {proc.pid}: {exc}")
        self.procs.clear()
        if self.group is not None:
            try:
                self.group.destroy()
            except TeardownError as exc:
                self.log(f"[l2] host teardown: {exc}")
            self.group = None
        with contextlib.suppress(Exception):
            self.api.close()
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- API ---------------------------------------------------------------------------
    def network(self, name: str, cidr: str, sg: str) -> tuple[str, str, str | None]:
        """A network with one IPv4 subnet (no DHCP); returns (network id, prefix length,
        security group id for its ports, None = the default group)."""
        api = self.api
        net = api.expect("POST", "/v2.0/networks", {"network": {"name": name}})["network"]
        api.expect("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": False}})
        group = None
        if sg == "prefix":
            group = api.expect("POST", "/v2.0/security-groups", {"security_group": {
                "name": f"{name}-from-subnet"}})["security_group"]["id"]
            api.expect("POST", "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
                "remote_ip_prefix": cidr}})
        return net["id"], cidr.split("/")[1], group

    def port_body(self, net: str, host: str, group: str | None, name: str) -> dict[str, Any]:
        body: dict[str, Any] = {"network_id": net, "binding:host_id": host, "name": name}
        if group:
            body["security_groups"] = [group]
        return body

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

    # -- agents ------------------------------------------------------------------------
    def agent_argv(self, host: Host, *extra: str) -> list[str]:
        return [str(fermion_executable()), "agent", "l2", "--host", host.name,
                "--server", self.server.url, "--ovs-rundir", str(host.rundir),
                "--datapath-type", host.ovs.datapath_type, *extra]

    def agent_once(self, host: Host, *extra: str) -> dict[str, Any]:
        """One timed ``fermion agent l2 --once`` pass: wall seconds, CPU seconds (user +
        system of the agent process), and its JSON summary's counts."""
        argv = self.agent_argv(host, "--once", *extra)
        cpu0, t0 = _children_cpu_s(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=900,
                              stdin=subprocess.DEVNULL)
        wall, cpu = time.monotonic() - t0, _children_cpu_s() - cpu0
        if proc.returncode != 0:
            raise RuntimeError(f"agent --once failed ({proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-1500:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                "wired": len(res.get("wired", [])),
                "flows_added": sum(res.get("flows_added", {}).values()),
                "flows_deleted": sum(res.get("flows_deleted", {}).values()),
                "ovs_changes": res.get("ovs_changes", 0)}


def _wait(cond: Callable[[], bool], timeout: float, what: str,
          alive: Callable[[], str | None] = lambda: None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if (dead := alive()) is not None:
            raise RuntimeError(f"{what}: {dead}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def run_phases(tag: str, title: str, table: Mapping[str, Callable[[Any, Any], dict]],
               cfg: Any, rep: Any, phases: Sequence[str]) -> dict[str, Any]:
    """Run ``phases`` of an agent suite (``table``: name -> phase function) in turn, each
    timed; a failed phase is recorded (``error``) and the next one runs. Shared by the
    l2, l3 and dhcp suites."""
    if os.geteuid() != 0:
        raise RuntimeError(f"the {tag} benchmark needs root (namespaces, Open vSwitch)")
    swept = sweep_stale()
    if swept:
        rep.log(f"[{tag}] swept host groups left by dead processes: {', '.join(swept)}")
    out: dict[str, Any] = {}
    for name in phases:
        rep.log(f"== {title}: {name} ==")
        t0 = time.monotonic()
        try:
            out[name] = table[name](cfg, rep)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded, the other phases still run
            import traceback

            rep.log(f"[{tag}] {name} FAILED: {exc}")
            rep.log(traceback.format_exc(limit=4))
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        out[name]["total_s"] = round(time.monotonic() - t0, 1)
    return out
