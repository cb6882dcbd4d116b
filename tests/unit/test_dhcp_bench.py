"""The pure parts of the DHCP agent benchmark (bench.dhcp_bench, dhcp_profile, dhcp_report)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from bench import dhcp_report
from bench.dhcp_bench import (
    _agent_command,
    _holds,
    burst_result,
    gated_argv,
    hosts_macs,
    lease_script,
)
from bench.dhcp_profile import SPANS, install
from bench.l3_profile import Recorder


def test_lease_script_writes_the_address_on_bound_only(tmp_path: Path):
    out = tmp_path / "lease"
    script = tmp_path / "s.sh"
    script.write_text(lease_script(out))
    script.chmod(0o755)
    for event in ("deconfig", "leasefail"):
        subprocess.run([str(script), event], env={"ip": "10.0.0.5"}, check=True)
        assert not out.exists()
    subprocess.run([str(script), "bound"], env={"ip": "10.0.0.5"}, check=True)
    assert out.read_text() == "10.0.0.5\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("lease.")] == []


def test_gated_argv_waits_for_the_fifo_writer_to_close(tmp_path: Path):
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    out = tmp_path / "ran"
    gate = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    procs = [subprocess.Popen(gated_argv(fifo, ["sh", "-c", f"echo x >> {out}"]))
             for _ in range(3)]
    try:
        deadline = time.monotonic() + 10
        while not all(_holds(p.pid, fifo) for p in procs):
            assert time.monotonic() < deadline, "the shells never opened the gate"
            time.sleep(0.01)
        time.sleep(0.1)
        assert not out.exists()  # still held
    finally:
        os.close(gate)
    for p in procs:
        assert p.wait(timeout=10) == 0
    assert out.read_text() == "x\n" * 3


def test_holds_is_false_for_a_gone_process(tmp_path: Path):
    assert not _holds(2 ** 22 + 12345, tmp_path / "gate")


def test_burst_result():
    res = burst_result(100.0, {0: 100.5, 1: 101.0, 2: 100.25, 3: 102.0}, 5)
    assert res["clients"] == 5 and res["leases"] == 4 and res["failures"] == 1
    assert res["all_leased_s"] == 2.0
    assert res["leases_per_s"] == 2.0
    assert res["half_leased_s"] == 0.5
    assert res["lease_ms"]["n"] == 4 and res["lease_ms"]["max"] == 2000.0
    none = burst_result(100.0, {}, 3)
    assert none == {"clients": 3, "leases": 0, "failures": 3}


def test_hosts_macs():
    text = ("fa:16:3e:00:00:01,host-10-0-0-2.openstacklocal,10.0.0.2\n"
            "FA:16:3E:00:00:02,set:port-x,host-10-0-0-3.openstacklocal,10.0.0.3\n\n")
    assert hosts_macs(text) == {"fa:16:3e:00:00:01", "fa:16:3e:00:00:02"}
    assert hosts_macs("") == set()


def test_agent_command_drops_per_run_values():
    argv = ["/x/.venv/bin/fermion", "agent", "dhcp", "--host", "d1", "--server",
            "http://127.0.0.1:1", "--config-file", "/tmp/a.ini", "--ovs-rundir", "/tmp/d1",
            "--ovs-netns", "fm1-d1", "--namespace-prefix", "fm1-d1-", "--once"]
    assert _agent_command(argv) == "fermion agent dhcp --host d1 --once"


def test_recorder_counts_from_threads():
    rec = Recorder()

    def work() -> None:
        for _ in range(500):
            rec.command(["ip", "-n", "ns", "link", "show", "tap1"], 0.001)
            rec.span("  plug", 0.002)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    d = rec.as_dict()
    assert d["commands"]["[ns] ip link show"]["count"] == 2000
    assert d["spans"]["  plug"]["count"] == 2000


def test_spans_name_real_attributes(monkeypatch: pytest.MonkeyPatch):
    """Every span wraps something that exists (a rename in the agent would break the
    profile); wrapping keeps the functions working."""
    import importlib

    for module, path, _label in SPANS:
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    monkeypatch.setattr(subprocess, "run", subprocess.run)
    rec = Recorder()
    install(rec)
    assert subprocess.run(["true"]).returncode == 0
    assert rec.as_dict()["commands"]["true"]["count"] == 1
    from fermion.agent import dnsmasq

    assert hasattr(dnsmasq.render_files, "__wrapped__")


def _report(phases: dict) -> dict:
    return {"date": "2026-01-01 00:00 UTC", "command": "python -m bench.run --suite dhcp",
            "json": "bench/results/dhcp.json", "phases": phases,
            "machine": {"nproc": 2, "cpu": "cpu", "memory_gib": 8, "kernel": "6",
                        "os": "Debian", "python": "3.11"}}


def test_report_renders_every_phase_and_notes():
    prof = {"main_s": 9.0, "commands_run": 30, "commands_s": 20.0, "api_calls": 3,
            "commands": {"[ns] ip link show": {"count": 20, "total_s": 12.0, "max_ms": 80.0},
                         "[ns] dnsmasq": {"count": 10, "total_s": 8.0, "max_ms": 90.0}},
            "spans": {"apply one network": {"count": 10, "total_s": 30.0},
                      "  plug tap (namespace, veth, OVS port)": {"count": 10, "total_s": 20.0},
                      "API: create_port": {"count": 10, "total_s": 1.0}}}
    load = {"server_cores": 0.1, "bench_cores": 0.2, "other_processes_cores": 1.2,
            "loadavg_1m_before": 3.0, "loadavg_1m_after": 4.0}
    phases = {
        "lease": {"server": "fermion x", "ports": 3, "retry_ms": 100, "never": 1,
                  "agents": {"l2": "fermion agent l2", "dhcp": "fermion agent dhcp"},
                  "lease_ms": {"n": 2, "p50": 500.0, "p90": 700.0, "p99": 800.0,
                               "max": 800.0},
                  "agent_cpu_s": {"dhcp": 1.0, "l2": 2.0}, "udhcpc_runs_mean": 5.0,
                  "machine_load": load},
        "resync": {"server": "fermion x", "networks": 10, "ports_per_network": 2,
                   "agent_command": "fermion agent dhcp --host r1 --once",
                   "api_create_s": 1.0, "machine_load": load,
                   "made": {"namespaces": 10, "dnsmasq": 10, "ovs_ports": 10,
                            "hosts_lines": 30},
                   "passes": {k: {"wall_s": 10.0, "cpu_s": 3.0, "networks": 10,
                                  "started": 10, "adopted": 0, "reloaded": 0,
                                  "ports_created": 10, "errors": 0, "profile": prof}
                              for k in ("cold", "second", "no_change")}},
        "burst": {"server": "fermion x", "clients": 4, "udhcpc": "busybox udhcpc",
                  "agents": {}, "rounds": [
                      {**burst_result(0.0, {0: 0.5, 1: 1.0, 2: 1.0}, 4), "wrong_address": 0,
                       "machine_load": {**load, "dnsmasq_cores": 0.3}}]},
    }
    report = _report(phases)
    dhcp_report.finish(report)
    md = dhcp_report.markdown_section(report)
    assert "| port create → lease obtainable, p99 | 800 ms |" in md
    assert "| burst of 4 clients: leases per second (first round) | 3.0/s |" in md
    assert "| burst of 4 clients: failures (first round) | 1 |" in md
    assert "| `[ns] ip link show` | 20 | 12.0 s |" in md
    assert "| ↳ plug tap (namespace, veth, OVS port) | 10 | 20.0 s | 200% |" in md
    assert "| 1 | 3/4 | 1 | 1,000 ms | 3.0/s |" in md
    assert "bounds the resolution" in md
    assert "dnsmasq used 0.30 cores" in md
    assert any("1 of 3 samples got no lease" in n for n in report["notes"])
    assert any(n.startswith("Machine load during burst round 1") for n in report["notes"])


def test_lease_count():
    assert dhcp_report.lease_count({"ports": 40, "samples": [{}] * 3}) == 40
    assert dhcp_report.lease_count({"samples": [{}] * 3}) == 3
    assert dhcp_report.lease_count({}) == 0


def test_report_with_failed_phases():
    report = _report({"lease": {"error": "RuntimeError: boom\nmore"},
                      "resync": {"error": "x"}, "burst": {"error": "y"}})
    dhcp_report.finish(report)
    md = dhcp_report.markdown_section(report)
    assert "The lease phase failed: RuntimeError: boom" in md
    assert "| port create → lease obtainable, p50 | — |" in md
