"""The suites' pure parts (bench.l2, l3, dhcp, sg, feed): helpers, targets, notes and the
sections they render from a report — no hosts, no servers, no timing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from bench import dhcp, feed, l2, l3, sg

MACHINE = {"nproc": 2, "cpu": "cpu", "memory_gib": 8, "kernel": "6", "os": "Debian",
           "python": "3.11"}
LOAD = {"server_cores": 0.1, "bench_cores": 0.2, "other_processes_cores": 1.2,
        "loadavg_1m_before": 3.0, "loadavg_1m_after": 4.0, "wall_s": 10.0}


def _report(name: str, **fields) -> dict:
    return {"benchmark": name, "date": "2026-01-01 00:00 UTC", "machine": MACHINE,
            "command": f"python -m bench --suite {name}", "json": f"bench/results/{name}.json",
            **fields}


# -- l2 ---------------------------------------------------------------------------------------

def test_alternating_and_iperf():
    assert l2.alternating(3, "p", "b") == ["p", "b", "b", "p", "p", "b"]
    report = json.loads('{"end": {"sum_sent": {"bits_per_second": 9.9e8},'
                        ' "sum_received": {"bits_per_second": 8.5e8}}}')
    assert l2.iperf_gbps(report) == 0.85


def _l2(active_p99: float, cold_s: float, ratio: float, ports: int = 1000) -> dict:
    passes = {k: {"wall_s": cold_s, "cpu_s": 1.0, "flows_added": 10, "flows_deleted": 0,
                  "ovs_changes": 1} for k in ("cold", "no_change", "flows_lost")}
    one = {"median_gbps": {"pipeline": 0.6, "bare": 0.8}, "ratio": ratio,
           "gbps": {"pipeline": [0.6], "bare": [0.8]}, "machine_load": LOAD}
    return _report("l2", config={"sg": "prefix"}, phases={
        "active": {"server": "fermion x", "ports": 3, "poll_interval_s": 0.2,
                   "agent_command": "fermion agent l2 --host a1 --server http://x "
                                    "--ovs-rundir /tmp/x --poll-interval 0.2",
                   "active_ms": {"p99": active_p99}, "ping_ms": {"p99": 500.0},
                   "agent_cpu_s": 1.0, "machine_load": {"wall_s": 10}},
        "resync": {"ports": ports, "passes": passes, "ovs_ports": "internal",
                   "agent_command": "fermion agent l2 --once", "startup_s": 0.3,
                   "flows_br_int": 43000, "active_after": ports, "machine_load": LOAD,
                   "default_sg": {"ports": 200, "passes": passes, "flows_br_int": 48000}},
        "throughput": {"tool": "iperf3", "iperf3": "iperf 3.12", "one_host": one}})


def test_l2_targets_notes_and_section():
    report = _l2(active_p99=400.0, cold_s=12.0, ratio=0.75)
    l2.finish(report)
    t = report["targets"]
    assert (t["active_p99"]["met"], t["resync"]["met"], t["throughput"]["met"]) == (
        True, False, True)
    text = l2.section(report)
    assert "| resync, 1,000 ports (cold `--once` pass) | 12.0 s | < 10.0 s | **not met** |" \
        in text
    assert "| default security group, 200 ports: no change | 12.0 s |" in text
    assert "(240 per port; the sg section below" in text
    assert "`fermion agent l2 --host a1 --poll-interval 0.2`" in text  # per-run values gone
    assert "| two instances on one host | 0.60 Gbit/s | 0.80 Gbit/s | 0.75× | 0.60; 0.80 |" \
        in text
    assert any("The resync's wall times include waiting" in n for n in report["notes"])


def test_l2_resync_at_another_size_and_a_failed_phase():
    report = _l2(active_p99=400.0, cold_s=1.0, ratio=0.75, ports=100)
    report["phases"]["throughput"] = {"error": "RuntimeError: iperf3 is missing\nmore"}
    l2.finish(report)
    assert report["targets"]["resync"]["met"] is None
    assert report["targets"]["throughput"]["met"] is None
    text = l2.section(report)
    assert "- The throughput phase failed: RuntimeError: iperf3 is missing" in text
    assert "**Throughput**" not in text and "not measured" in text


# -- sg ---------------------------------------------------------------------------------------

def test_sg_section():
    passes = {k: {"wall_s": 2.0, "cpu_s": 1.0, "flows_added": 5, "flows_deleted": 1,
                  "ovs_changes": 0} for k in ("cold", "no_change", "flows_lost", "join",
                                              "leave")}
    report = _report("sg", config={"ports": 1000, "groups": 10, "tcp_port": 22}, phases={
        "resync": {"server": "fermion x", "ports": 1000, "groups": 10, "passes": passes,
                   "ovs_ports": "internal", "agent_command": "fermion agent l2 --once",
                   "startup_s": 0.3, "flows_br_int": 17000, "rule_flows": 5000,
                   "active_after": 1000, "machine_load": LOAD}})
    sg.finish(report)
    assert report["targets"]["resync"]["met"] is True
    text = sg.section(report)
    assert "## Security groups: remote-group rules at 1,000 ports" in text
    assert "(**17 per port**), 5,000 of them in the rule tables 72 and 82 (5 per port)" in text
    assert "| one port joins the first group | 2.00 s | 1.00 s | 5 | 1 | 0 |" in text


# -- l3 ---------------------------------------------------------------------------------------

def test_subnet_cidr_and_first_host():
    assert l3.subnet_cidr("10.70.0.0/16", 3) == "10.70.3.0/24"
    assert l3.subnet_cidr("172.30.0.0/20", 2, prefix=22) == "172.30.8.0/22"
    for bad in (256, -1):
        with pytest.raises(ValueError):
            l3.subnet_cidr("10.70.0.0/16", bad)
    assert l3.first_host("172.30.0.0/20") == "172.30.0.1"


def test_applied_at_reads_the_agents_router_lines():
    log = ("2026-01-01 10:00:00,100 INFO fermion.agent.l3_agent: pass 1 at revision 3\n"
           "2026-01-01 10:00:01,250 INFO fermion.agent.l3_apply: router r1: +10.0.0.1/24\n"
           "2026-01-01 10:00:02,500 INFO fermion.agent.l3_apply: router r2: +route\n"
           "2026-01-01 10:00:03,750 INFO fermion.agent.l3_apply: router r1: +1.2.3.4/32\n")

    def epoch(text: str) -> float:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()

    assert l3.applied_at(log, "r1", epoch("2026-01-01 10:00:00,000")) == epoch(
        "2026-01-01 10:00:01,250")
    assert l3.applied_at(log, "r1", epoch("2026-01-01 10:00:02,000")) == epoch(
        "2026-01-01 10:00:03,750")
    assert l3.applied_at(log, "r1", epoch("2026-01-01 10:00:04,000")) is None
    assert l3.applied_at(log, "r3", 0.0) is None


def _l3() -> dict:
    s = {"n": 3, "p50": 500.0, "p90": 600.0, "p99": 700.0, "max": 710.0}
    prof = {"main_s": 9.0, "commands_run": 15, "commands_s": 10.0, "background_run": 30,
            "commands": {"[ns] ip addr show": {"count": 15, "total_s": 10.0, "max_ms": 9.0}},
            "spans": {"ensure one router": {"count": 10, "total_s": 8.0}}}
    return _report("l3", phases={
        "latency": {"server": "fermion x", "samples": 3, "probe_interval_ms": 10,
                    "agents": {"l3-net": "fermion agent l3 --host net"},
                    "add_subnet": {"n": 3, "never": 1, "ping_ms": s, "machine_load": LOAD},
                    "fip_set": {"n": 3, "never": 0, "ping_ms": s}, "l3_agent_cpu_s": 2.0},
        "resync": {"server": "fermion x", "routers": 100, "fips_per_router": 10,
                   "agent_command": "fermion agent l3 --once", "machine_load": LOAD,
                   "passes": {"cold": {"wall_s": 10.0, "cpu_s": 5.0, "routers_changed": 100,
                                       "fips_added": 1000, "profile": prof}},
                   "made": {"namespaces": 100, "haproxy": 100, "ovs_ports": 200}}})


def test_l3_section_and_notes():
    report = _l3()
    l3.finish(report)
    assert any("1 of 3 samples never" in n for n in report["notes"])
    text = l3.section(report)
    assert "| (a) router add subnet → instance pings the external host (SNAT) | 3 | 500 ms |" \
        in text
    assert "| cold: nothing made yet | 10.0 s | 5.00 s | 15 | 10.0 s | 100 |" in text
    assert "| `[ns] ip addr show` | 15 | 10.0 s | 667 ms | 9.00 ms | 100% |" in text
    assert "`PUT /v2.0/routers/{id}/add_router_interface`" in text
    report["phases"]["resync"] = {"error": "RuntimeError: boom\nmore"}
    l3.finish(report)
    text = l3.section(report)
    assert "The resync phase failed: RuntimeError: boom" in text and "**Resync**" not in text


# -- dhcp -------------------------------------------------------------------------------------

def test_lease_script_writes_the_address_on_bound_only(tmp_path: Path):
    out = tmp_path / "lease"
    argv = dhcp.client_argv(out, "-t", "1")
    assert argv[-2:] == ["-s", str(tmp_path / "lease.sh")] and "-t" in argv
    for event in ("deconfig", "leasefail", "bound"):
        subprocess.run([argv[-1], event], env={"ip": "10.0.0.5"}, check=True)
        assert out.exists() == (event == "bound")
    assert out.read_text() == "10.0.0.5\n"


def test_gated_clients_wait_for_the_fifo_writer(tmp_path: Path):
    fifo, out = tmp_path / "gate", tmp_path / "ran"
    os.mkfifo(fifo)
    gate = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    procs = [subprocess.Popen(dhcp.gated_argv(fifo, ["sh", "-c", f"echo x >> {out}"]))
             for _ in range(3)]
    try:
        deadline = time.monotonic() + 10
        while not all(dhcp.holds(p.pid, fifo) for p in procs):
            assert time.monotonic() < deadline, "the shells never opened the gate"
            time.sleep(0.01)
        assert not out.exists()  # all of them hold at the gate
    finally:
        os.close(gate)
    assert [p.wait(timeout=10) for p in procs] == [0, 0, 0]
    assert out.read_text() == "x\n" * 3
    assert not dhcp.holds(2 ** 22 + 12345, fifo)


def test_burst_result_and_hosts_macs():
    res = dhcp.burst_result(100.0, {0: 100.5, 1: 101.0, 2: 100.25, 3: 102.0}, 5)
    assert (res["leases"], res["failures"], res["all_leased_s"], res["leases_per_s"],
            res["half_leased_s"], res["lease_ms"]["max"]) == (4, 1, 2.0, 2.0, 0.5, 2000.0)
    assert dhcp.burst_result(100.0, {}, 3) == {"clients": 3, "leases": 0, "failures": 3}
    text = ("fa:16:3e:00:00:01,host-10-0-0-2.openstacklocal,10.0.0.2\n"
            "FA:16:3E:00:00:02,set:port-x,host-10-0-0-3.openstacklocal,10.0.0.3\n\n")
    assert dhcp.hosts_macs(text) == {"fa:16:3e:00:00:01", "fa:16:3e:00:00:02"}
    assert dhcp.lease_count({"samples": [{}] * 3}) == 3 and dhcp.lease_count({}) == 0


def test_dhcp_section_and_notes():
    prof = {"main_s": 9.0, "commands_run": 30, "commands_s": 20.0, "api_calls": 3,
            "commands": {"[ns] dnsmasq": {"count": 10, "total_s": 8.0, "max_ms": 90.0}},
            "spans": {"  plug tap (namespace, veth, OVS port)": {"count": 10, "total_s": 20.0}}}
    report = _report("dhcp", phases={
        "lease": {"ports": 3, "never": 1, "agents": {"l2": "fermion agent l2"},
                  "lease_ms": {"n": 2, "p50": 500.0, "p99": 800.0},
                  "agent_cpu_s": {"dhcp": 1.0, "l2": 2.0}, "udhcpc_runs_mean": 5.0},
        "resync": {"networks": 10, "ports_per_network": 2, "api_create_s": 1.0,
                   "agent_command": "fermion agent dhcp --host r1 --once",
                   "passes": {k: {"wall_s": 10.0, "cpu_s": 3.0, "networks": 10, "started": 10,
                                  "errors": 0, "profile": prof}
                              for k in ("cold", "second", "no_change")}},
        "burst": {"clients": 4, "rounds": [
            {**dhcp.burst_result(0.0, {0: 0.5, 1: 1.0, 2: 1.0}, 4), "wrong_address": 0,
             "machine_load": {**LOAD, "dnsmasq_cores": 0.3}}]}})
    dhcp.finish(report)
    text = dhcp.section(report)
    assert "| port create → lease obtainable, p99 | 800 ms |" in text
    assert "| burst of 4 clients: leases per second (first round) | 3.0/s |" in text
    assert "| ↳ plug tap (namespace, veth, OVS port) | 10 | 20.0 s | 200% |" in text
    assert "| 1 | 3/4 | 1 | 1,000 ms | 3.0/s |" in text and "dnsmasq used 0.30 cores" in text
    assert any("1 of 3 samples got no lease" in n for n in report["notes"])
    assert any(n.startswith("Machine load during burst round 1") for n in report["notes"])


# -- feed -------------------------------------------------------------------------------------

def test_feed_section_with_one_run():
    run = {"watchers": 50, "server": "fermion x", "live": {
        "deliveries_per_s": 4325.2, "latency_ms": {"p50": 75.0}, "watchers_complete": 49},
        "backlog": {"wall_s": 0.01, "watchers_complete": 50}}
    report = _report("feed", client="stdlib", runs={"fanout": run}, config={
        "watchers": 50, "baseline_watchers": 0, "ports": 10000, "writes": 1000, "writers": 4})
    feed.finish(report)
    assert report["ratios"] == {}
    assert any("only 49 of 50 watchers" in n for n in report["notes"])
    text = feed.section(report)
    assert "| metric | 50 watchers |\n| --- | ---: |" in text
    assert "| deliveries/s to the watchers (changes × watchers) | 4,325/s |" in text
