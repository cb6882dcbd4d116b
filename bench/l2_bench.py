"""The L2 agent on real simulated hosts: port → ACTIVE + traffic, resync, throughput.

``run_l2_bench()`` runs three phases, each against a fresh ``fermion server`` (SQLite,
``bench.servers.FermionServer``) and a fresh group of simulated hosts
(``fermion.lab.host.HostGroup``: a namespace with its own userspace OVS per host):

1. **active** — one host with a running ``fermion agent l2`` (the daemon, not ``--once``;
   ``--poll-interval`` explicit) and one instance already wired as a ping target. For each
   of ``ports`` new Neutron ports: ``POST /v2.0/ports`` (``binding:host_id``), plug an
   instance namespace for it as os-vif does (``plug_instance``), then time until the API
   shows ``status: ACTIVE`` and until an ICMP echo from the new instance to the target is
   answered. The probe (``PROBE``) runs in the instance, sends an echo every 10 ms and
   prints the ``CLOCK_MONOTONIC`` time of the first reply; it also shortens the instance's
   ARP retransmit time to 10 ms so the guest's ARP back-off (1 s by default) does not hide
   the agent's latency. Instances stay plugged, so the host fills up to ``ports`` + 1.
2. **resync** — ``resync_ports`` ports bound to one host, each an OVS *internal* port on
   br-int carrying ``external_ids:iface-id`` (no namespaces: cheap, and the agent cannot
   tell the difference), then timed ``fermion agent l2 --once`` passes: *cold* (first pass
   over the plugged ports: tags, every flow, 1,000 ports reported ACTIVE), *no change*, and
   *flows lost* (after ``ovs-ofctl del-flows`` on br-int and br-tun, as after an OVS
   restart). Then the same at ``default_sg_ports`` ports with the default security group
   (its remote-group rule costs one flow per member address per port). Wall time of the whole command, including Python start-up
   (``startup_s``: starting Python and importing the agent, for scale).
3. **throughput** — two instances on one host, iperf3 TCP through the full pipeline (br-int
   with the agent's flows: port security, a security group, conntrack) against the same two
   namespaces over a second veth each on a bare bridge of the same ovs-vswitchd
   (``datapath_type=netdev``) with a single ``NORMAL`` flow; alternating, ``iperf_repeats``
   each; the ratio is of the medians. With ``vxlan``, the same across two hosts over a
   userspace VXLAN underlay, against a bare bridge pair joined by a VXLAN port over the
   same underlay.

Ports use a security group allowing ingress from the subnet's prefix by default
(``sg="prefix"``); ``sg="default"`` uses the project's default group, whose ingress rule
names the group itself (remote group), as Neutron creates it.

Everything made here — servers, agent processes (tracked by pid, in their own process group,
``PR_SET_PDEATHSIG``), iperf3 servers, namespaces and OVS daemons — is removed on the way
out, also on failure or Ctrl-C. ``python -m bench.run --suite l2`` runs this and writes the
report (``bench.l2_report``). Needs root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.agent_lab import (
    PROBE,
    Lab,
    _wait,
    load_meter,
    parse_probe,
    run_phases,
    summary_ms,
    tree_cpu_s,
)
from bench.proc import _die_with_parent
from fermion.lab.host import Host, plug_instance
from fermion.linux import netns as ns

Log = Callable[[str], None]


BARE_BRIDGE = "br-bare"


@dataclass
class L2Config:
    ports: int = 200
    resync_ports: int = 1000
    poll_interval: float = 2.0  # the agent's default; local plugs wake it (OVSDB monitor)
    iperf_seconds: float = 5.0
    iperf_repeats: int = 5
    vxlan: bool = True
    sg: str = "prefix"  # "prefix": ingress from the subnet's CIDR; "default": remote group
    default_sg_ports: int = 200  # resync again with the default group at this size (0: no)
    port_timeout: float = 30.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- pure helpers ---------------------------------------------------------------------------


def median_ratio(numer: Sequence[float], denom: Sequence[float]) -> float | None:
    """median(numer) / median(denom), or None when either is empty or the divisor is 0."""
    if not numer or not denom:
        return None
    d = statistics.median(denom)
    return round(statistics.median(numer) / d, 3) if d > 0 else None


def alternating(repeats: int, a: str, b: str) -> list[str]:
    """ABBA order: a b, b a, a b, … (drift in the machine's load hits both alike)."""
    out: list[str] = []
    for i in range(repeats):
        out += [a, b] if i % 2 == 0 else [b, a]
    return out


def iperf_gbps(report: dict[str, Any]) -> float:
    """Receiver-side throughput from ``iperf3 -J`` output, in Gbit/s."""
    end = report["end"]
    bps = (end.get("sum_received") or end["sum"])["bits_per_second"]
    return round(bps / 1e9, 3)


# -- CPU accounting -------------------------------------------------------------------------


# -- the lab: a server, hosts, tracked processes ----------------------------------------------


def _plug(host: Host, name: str, port: dict[str, Any], prefix: str, **kw: Any):
    ip = port["fixed_ips"][0]["ip_address"]
    return plug_instance(host, name, port["mac_address"], f"{ip}/{prefix}",
                         iface_id=port["id"], **kw)


def _ping_ok(src, dst_ip: str, timeout: float = 10.0) -> bool:
    out = src.exec([sys.executable, "-c", PROBE, dst_ip, str(timeout), src.dev],
                   check=False, timeout=timeout + 10)
    return parse_probe(out.stdout) is not None


# -- phase 1: port → ACTIVE and traffic ----------------------------------------------------------

def phase_active(cfg: L2Config, rep: Any) -> dict[str, Any]:
    log = rep.log
    with Lab(log) as lab:
        host = lab.add_host("a1")
        net, prefix, group = lab.network("l2b-active", "10.61.0.0/22", cfg.sg)
        extra = ["--tunnel-types", "vxlan", "--poll-interval", f"{cfg.poll_interval:g}"]
        agent_argv = lab.agent_argv(host, *extra)
        agent = lab.spawn(agent_argv, "agent-a1")

        def dead() -> str | None:
            if agent.poll() is None:
                return None
            return f"agent exited with {agent.returncode}:\n{lab.log_tail('agent-a1')}"

        _wait(lambda: "patch-tun" in host.ovs.list_ports("br-int")
              if "br-int" in host.ovs.list_bridges() else False, 30, "the agent's br-int", dead)
        api = lab.api
        tport = api.expect("POST", "/v2.0/ports", {"port": lab.port_body(
            net, host.name, group, "target")})["port"]
        target = _plug(host, "tgt", tport, prefix)
        if lab.wait_active(tport["id"], cfg.port_timeout) is None:
            raise RuntimeError(f"the target port never became ACTIVE\n{lab.log_tail('agent-a1')}")
        samples: list[dict[str, float | None]] = []
        with load_meter(lambda: {"server": [lab.server.pid or 0], "agent": [agent.pid],
                                 "ovs": lab.ovs_pids()}) as load:
            with rep.task(f"ports to ACTIVE + ping (agent --poll-interval "
                          f"{cfg.poll_interval:g})", cfg.ports) as advance:
                for i in range(cfg.ports):
                    samples.append(_one_port(lab, host, net, prefix, group, target.ip, i, cfg))
                    if (why := dead()) is not None:
                        raise RuntimeError(why)
                    advance(1)
        agent_cpu_s = round(tree_cpu_s(agent.pid), 1)
        lab.stop(agent)
        return _active_result(samples, cfg, agent_argv, load, agent_cpu_s,
                              lab.server.version())


def _one_port(lab: Lab, host: Host, net: str, prefix: str, group: str | None,
              target_ip: str, i: int, cfg: L2Config) -> dict[str, float | None]:
    t0 = time.monotonic()
    port = lab.api.expect("POST", "/v2.0/ports", {"port": lab.port_body(
        net, host.name, group, f"l2b-{i}")})["port"]
    t_created = time.monotonic()
    inst = _plug(host, f"v{i}", port, prefix)
    t_plugged = time.monotonic()
    probe = subprocess.Popen(
        ns.netns_argv(inst.ns, [sys.executable, "-c", PROBE, target_ip,
                                str(cfg.port_timeout), inst.dev]),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_die_with_parent)
    try:
        t_active = lab.wait_active(port["id"], cfg.port_timeout)
        out, _ = probe.communicate(timeout=cfg.port_timeout + 10)
    finally:
        if probe.poll() is None:
            os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()
    t_ping = parse_probe(out)

    def rel(t: float | None, base: float) -> float | None:
        return None if t is None else round(t - base, 4)

    return {"create_s": rel(t_created, t0), "plug_s": rel(t_plugged, t_created),
            "active_s": rel(t_active, t0), "ping_s": rel(t_ping, t0),
            "active_after_plug_s": rel(t_active, t_plugged),
            "ping_after_plug_s": rel(t_ping, t_plugged)}


def _active_result(samples: list[dict[str, float | None]], cfg: L2Config,
                   agent_argv: list[str], load: dict[str, Any], agent_cpu_s: float,
                   server: str) -> dict[str, Any]:
    def col(key: str) -> list[float]:
        return [s[key] for s in samples if s[key] is not None]

    return {
        "server": server,
        "agent_command": " ".join(["fermion", *agent_argv[1:]]),
        "poll_interval_s": cfg.poll_interval,
        "ports": len(samples),
        "never_active": sum(1 for s in samples if s["active_s"] is None),
        "never_pinged": sum(1 for s in samples if s["ping_s"] is None),
        "create_ms": summary_ms(col("create_s")),
        "plug_ms": summary_ms(col("plug_s")),
        "active_ms": summary_ms(col("active_s")),
        "ping_ms": summary_ms(col("ping_s")),
        "active_after_plug_ms": summary_ms(col("active_after_plug_s")),
        "ping_after_plug_ms": summary_ms(col("ping_after_plug_s")),
        # the first and last tenth, to show whether latency grows as the host fills up
        "active_first_tenth_ms": summary_ms(col("active_s")[:max(1, len(samples) // 10)]),
        "active_last_tenth_ms": summary_ms(col("active_s")[-max(1, len(samples) // 10):]),
        "agent_cpu_s": agent_cpu_s,
        "machine_load": load,
        "samples": samples,
    }


# -- phase 2: resync with many ports ------------------------------------------------------------

def phase_resync(cfg: L2Config, rep: Any) -> dict[str, Any]:
    out = _resync(cfg.resync_ports, cfg.sg, rep)
    if cfg.default_sg_ports and cfg.sg != "default":
        # the default group's ingress rule names the group itself: one flow per member
        # address per port, so the flow count grows with the square of the port count
        rep.log(f"[l2] resync again with the default security group, "
                f"{cfg.default_sg_ports} ports")
        try:
            out["default_sg"] = _resync(cfg.default_sg_ports, "default", rep)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the headline numbers stand
            out["default_sg"] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    return out


def _resync(n: int, sg: str, rep: Any) -> dict[str, Any]:
    log = rep.log
    with Lab(log) as lab:
        host = lab.add_host("r1")
        # a /16 holds 1,000+ addresses
        net, _prefix, group = lab.network("l2b-resync", "10.62.0.0/16", sg)
        extra = ["--tunnel-types", "vxlan"]
        out: dict[str, Any] = {"server": lab.server.version(), "ports": n, "sg": sg,
                               "ovs_ports": "OVS internal ports on br-int (type=internal, "
                                            "external_ids iface-id/attached-mac/"
                                            "iface-status/vm-uuid), no namespaces",
                               "agent_command": " ".join(["fermion", *lab.agent_argv(
                                   host, "--once", *extra)[1:]])}
        out["startup_s"] = _startup_s()
        out["empty_pass"] = lab.agent_once(host, *extra)  # bridges; nothing to wire
        t0 = time.monotonic()
        ports: list[dict[str, Any]] = []
        with rep.task(f"create {n} ports bound to {host.name}", n) as advance:
            while len(ports) < n:
                count = min(500, n - len(ports))
                body = {"ports": [lab.port_body(net, host.name, group, f"r-{len(ports) + k}")
                                  for k in range(count)]}
                ports += lab.api.expect("POST", "/v2.0/ports", body)["ports"]
                advance(count)
        out["api_create_s"] = round(time.monotonic() - t0, 1)
        t1 = time.monotonic()
        with rep.task(f"add {n} OVS internal ports to br-int", n) as advance:
            for i in range(0, n, 100):
                _add_internal_ports(host, ports[i:i + 100], i)
                advance(len(ports[i:i + 100]))
        out["ovs_plug_s"] = round(time.monotonic() - t1, 1)
        passes: dict[str, Any] = {}
        with load_meter(lambda: {"server": [lab.server.pid or 0],
                                 "ovs": lab.ovs_pids()}) as load:
            log(f"[l2] resync: cold pass over {n} plugged ports …")
            passes["cold"] = lab.agent_once(host, *extra)
            log(f"[l2]   cold: {passes['cold']}")
            passes["no_change"] = lab.agent_once(host, *extra)
            log(f"[l2]   no change: {passes['no_change']}")
            for bridge in ("br-int", "br-tun"):
                host.ovs.ofctl(bridge, "del-flows")
            passes["flows_lost"] = lab.agent_once(host, *extra)
            log(f"[l2]   flows lost: {passes['flows_lost']}")
        active = sum(1 for p in lab.api.expect("GET", f"/v2.0/ports?network_id={net}")["ports"]
                     if p["status"] == "ACTIVE")
        out.update({"passes": passes, "active_after": active,
                    "flows_br_int": _count_flows(host, "br-int"), "machine_load": load})
        return out


def _add_internal_ports(host: Host, ports: list[dict[str, Any]], start: int) -> None:
    args: list[str] = []
    for k, p in enumerate(ports):
        name = f"rp{start + k}"
        args += ["--", "--may-exist", "add-port", "br-int", name, "--", "set", "Interface",
                 name, "type=internal", f'external_ids:iface-id="{p["id"]}"',
                 f'external_ids:attached-mac="{p["mac_address"]}"',
                 'external_ids:iface-status="active"', f'external_ids:vm-uuid="{p["id"]}"']
    host.ovs.vsctl(*args[1:])


def _count_flows(host: Host, bridge: str) -> int:
    return sum(1 for line in host.ovs.ofctl(bridge, "dump-flows").splitlines()
               if "cookie=" in line)


def _startup_s() -> float:
    """Seconds to start Python and import the agent (part of every ``--once`` pass)."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import fermion.cli, fermion.agent.l2_agent"],
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return round(time.monotonic() - t0, 3)


# -- phase 3: throughput ------------------------------------------------------------------------

def phase_throughput(cfg: L2Config, rep: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"tool": "iperf3 TCP, one stream, receiver-side rate, "
                                   f"-t {cfg.iperf_seconds:g} -O 1",
                           "iperf3": _iperf_version()}
    with Lab(rep.log) as lab:
        out["server"] = lab.server.version()
        out["one_host"] = _throughput_one_host(lab, cfg, rep)
    if cfg.vxlan:
        with Lab(rep.log) as lab:
            out["vxlan"] = _throughput_vxlan(lab, cfg, rep)
    return out


def _iperf_version() -> str:
    exe = shutil.which("iperf3")
    if exe is None:
        raise RuntimeError("iperf3 is missing: run `make deps` (scripts/install-deps.sh)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.split("\n", 1)[0].strip()


def _bare_leg(host: Host, inst, cidr: str, mtu: int | None = None,
              bridge: str = BARE_BRIDGE) -> str:
    """A second veth from the instance namespace (``eth1`` with ``cidr``) to ``bridge``;
    returns the address."""
    port = f"bb{inst.port[3:]}"[:15]
    t = host.teardown
    t.add(f"delete link {port}", ns.delete_link, port, netns=host.ns)
    ns.add_veth(port, "eth1", netns=host.ns, peer_netns=inst.ns)
    ns.add_address("eth1", cidr, netns=inst.ns)
    ns.disable_tx_offload("eth1", netns=inst.ns)
    if mtu:
        ns.set_mtu("eth1", mtu, netns=inst.ns)
    ns.set_up("eth1", netns=inst.ns)
    ns.set_up(port, netns=host.ns)
    host.ovs.add_port(bridge, port)
    return cidr.split("/")[0]


def _bare_bridge(host: Host) -> None:
    """``br-bare`` on the host's OVS (same vswitchd, same datapath type) with one flow:
    ``actions=NORMAL``."""
    host.ovs.add_bridge(BARE_BRIDGE, fail_mode="secure")
    host.ovs.ofctl(BARE_BRIDGE, "del-flows")
    host.ovs.ofctl(BARE_BRIDGE, "add-flow", "priority=0,actions=NORMAL")


def _iperf_once(client, argv: list[str], cfg: L2Config, label: str,
                retries: list[str]) -> float:
    """One iperf3 client run; retried (up to 3 tries, recorded) when the server was not
    ready yet for a new test ("connection reset" on the control channel)."""
    for attempt in range(3):
        res = client.exec(argv, check=False, timeout=cfg.iperf_seconds + 30)
        try:
            return iperf_gbps(json.loads(res.stdout))
        except (ValueError, KeyError) as exc:
            error = f"{exc}: {(res.stdout + res.stderr)[-600:]}"
            retries.append(f"{label}: {error[:200]}")
            if attempt == 2:
                raise RuntimeError(f"iperf3 to {label} failed 3 times: {error}") from exc
            time.sleep(1.0)
    raise AssertionError("unreachable")


def _iperf_pair(lab: Lab, cfg: L2Config, rep: Any, client, server_ns: str,
                targets: dict[str, str], what: str) -> dict[str, Any]:
    """iperf3 from ``client`` to each of ``targets`` ({label: address}), alternating."""
    iperf_server = lab.spawn(["iperf3", "-s", "-p", "5201"], f"iperf3-s-{what}",
                             netns=server_ns)
    time.sleep(0.5)
    labels = list(targets)
    runs: dict[str, list[float]] = {k: [] for k in labels}
    retries: list[str] = []
    order = alternating(cfg.iperf_repeats, *labels)
    with load_meter(lambda: {"server": [lab.server.pid or 0], "ovs": lab.ovs_pids(),
                             "iperf3_server": [iperf_server.pid]}) as load:
        with rep.task(f"iperf3 {what}: {' vs '.join(labels)}", len(order)) as advance:
            for label in order:
                argv = ["iperf3", "-c", targets[label], "-p", "5201", "-J", "-t",
                        f"{cfg.iperf_seconds:g}", "-O", "1", "--connect-timeout", "5000"]
                runs[label].append(_iperf_once(client, argv, cfg, label, retries))
                advance(1)
    a, b = labels
    return {"gbps": runs, "order": order, "retries": retries,
            "median_gbps": {k: round(statistics.median(v), 3) for k, v in runs.items()},
            "ratio": median_ratio(runs[a], runs[b]), "machine_load": load}


def _throughput_one_host(lab: Lab, cfg: L2Config, rep: Any) -> dict[str, Any]:
    host = lab.add_host("t1")
    net, prefix, group = lab.network("l2b-iperf", "10.63.0.0/24", cfg.sg)
    lab.agent_once(host, "--tunnel-types", "vxlan")
    ports = [lab.api.expect("POST", "/v2.0/ports", {"port": lab.port_body(
        net, host.name, group, f"ip-{k}")})["port"] for k in range(2)]
    vm1, vm2 = _plug(host, "c1", ports[0], prefix), _plug(host, "s1", ports[1], prefix)
    wired = lab.agent_once(host, "--tunnel-types", "vxlan")
    if wired["wired"] != 2 or not _ping_ok(vm1, vm2.ip):
        raise RuntimeError(f"the two instances do not reach each other: {wired}")
    _bare_bridge(host)
    _bare_leg(host, vm1, "10.99.0.1/24")
    bare_ip = _bare_leg(host, vm2, "10.99.0.2/24")
    if not _ping_ok(vm1, bare_ip):
        raise RuntimeError("the instances do not reach each other over br-bare")
    res = _iperf_pair(lab, cfg, rep, vm1, vm2.ns, {"pipeline": vm2.ip, "bare": bare_ip},
                      "one host")
    res["flows_br_int"] = _count_flows(host, "br-int")
    rep.log(f"[l2] one host: {res['median_gbps']} ratio {res['ratio']}")
    return res


def _throughput_vxlan(lab: Lab, cfg: L2Config, rep: Any) -> dict[str, Any]:
    h1, h2 = lab.add_host("x1"), lab.add_host("x2")
    assert lab.group is not None
    ul = lab.group.add_underlay("ul")
    ul.attach(h1, "192.168.150.1/24")
    ul.attach(h2, "192.168.150.2/24")
    net, prefix, group = lab.network("l2b-vxlan", "10.64.0.0/24", cfg.sg)
    mtu = lab.api.expect("GET", f"/v2.0/networks/{net}")["network"].get("mtu") or 1450

    def agent(h: Host) -> dict[str, Any]:
        return lab.agent_once(h, "--tunnel-types", "vxlan", "--local-ip", h.local_ip or "")

    agent(h1), agent(h2)
    ports = [lab.api.expect("POST", "/v2.0/ports", {"port": lab.port_body(
        net, h.name, group, f"vx-{h.name}")})["port"] for h in (h1, h2)]
    vm1 = _plug(h1, "c1", ports[0], prefix, mtu=mtu)
    vm2 = _plug(h2, "s1", ports[1], prefix, mtu=mtu)
    agent(h1), agent(h2)
    if not _ping_ok(vm1, vm2.ip, timeout=15):
        raise RuntimeError("the instances do not reach each other over VXLAN")
    # the bare pair: br-bare on each host, one VXLAN port to the other host (fixed key),
    # actions=NORMAL
    for h, peer in ((h1, h2), (h2, h1)):
        _bare_bridge(h)
        h.ovs.add_tunnel_port(BARE_BRIDGE, "vxbare", peer.local_ip or "", key="4242",
                              local_ip=h.local_ip)
    _bare_leg(h1, vm1, "10.99.1.1/24", mtu)
    bare_ip = _bare_leg(h2, vm2, "10.99.1.2/24", mtu)
    if not _ping_ok(vm1, bare_ip, timeout=15):
        raise RuntimeError("the instances do not reach each other over the bare VXLAN pair")
    res = _iperf_pair(lab, cfg, rep, vm1, vm2.ns, {"pipeline": vm2.ip, "bare": bare_ip},
                      "VXLAN, two hosts")
    res["mtu"] = mtu
    rep.log(f"[l2] VXLAN: {res['median_gbps']} ratio {res['ratio']}")
    return res


# -- all of it ------------------------------------------------------------------------------------

PHASES: dict[str, Callable[[L2Config, Any], dict[str, Any]]] = {
    "active": phase_active, "resync": phase_resync, "throughput": phase_throughput}


def run_l2_bench(cfg: L2Config, rep: Any, phases: Sequence[str] = tuple(PHASES)
                 ) -> dict[str, Any]:
    """Each phase in turn; a failed phase is recorded (``error``) and the next one runs."""
    return run_phases("l2", "L2 agent", PHASES, cfg, rep, phases)


if __name__ == "__main__":
    import argparse

    from bench.api_bench import PlainReporter
    from bench.proc import install_signal_handlers

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", action="append", choices=tuple(PHASES))
    parser.add_argument("--ports", type=int, default=200)
    parser.add_argument("--resync-ports", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--iperf-seconds", type=float, default=5.0)
    parser.add_argument("--iperf-repeats", type=int, default=5)
    parser.add_argument("--no-vxlan", action="store_true")
    parser.add_argument("--sg", choices=("prefix", "default"), default="prefix")
    parser.add_argument("--default-sg-ports", type=int, default=200)
    a = parser.parse_args()
    install_signal_handlers()
    config = L2Config(ports=a.ports, resync_ports=a.resync_ports, poll_interval=a.poll_interval,
                      iperf_seconds=a.iperf_seconds, iperf_repeats=a.iperf_repeats,
                      vxlan=not a.no_vxlan, sg=a.sg,
                      default_sg_ports=a.default_sg_ports)
    result = run_l2_bench(config, PlainReporter(), a.phase or tuple(PHASES))
    for phase in result.values():
        phase.pop("samples", None)
    print(json.dumps(result, indent=2))
