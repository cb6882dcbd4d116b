"""The pure parts of the L3 agent benchmark (bench.l3_bench, l3_profile, l3_report)."""

from __future__ import annotations

import pytest
from bench import l3_report
from bench.l3_bench import _short, command_table, first_host, profile_totals, subnet_cidr
from bench.l3_profile import Recorder, _timed, command_kind


def test_subnet_cidr():
    assert subnet_cidr("10.70.0.0/16", 0) == "10.70.0.0/24"
    assert subnet_cidr("10.70.0.0/16", 3) == "10.70.3.0/24"
    assert subnet_cidr("10.70.0.0/16", 255) == "10.70.255.0/24"
    assert subnet_cidr("172.30.0.0/20", 2, prefix=22) == "172.30.8.0/22"
    with pytest.raises(ValueError):
        subnet_cidr("10.70.0.0/16", 256)
    with pytest.raises(ValueError):
        subnet_cidr("10.70.0.0/16", -1)


def test_first_host():
    assert first_host("10.70.3.0/24") == "10.70.3.1"
    assert first_host("172.30.0.0/20") == "172.30.0.1"


@pytest.mark.parametrize(("argv", "kind"), [
    (["ip", "-n", "r1", "-j", "link", "show", "qr-1"], "[ns] ip link show"),
    (["ip", "-n", "r1", "addr", "replace", "10.0.0.1/24", "dev", "qr-1"], "[ns] ip addr replace"),
    (["ip", "netns", "add", "r1"], "ip netns add"),
    (["ip", "netns", "exec", "r1", "sysctl", "-n", "net.ipv4.ip_forward"], "[ns] sysctl (read)"),
    (["ip", "netns", "exec", "r1", "sysctl", "-q", "-w", "a=1"], "[ns] sysctl -w"),
    (["ip", "netns", "exec", "r1", "ip", "-4", "route", "show"], "[ns] ip route show"),
    (["ip", "netns", "exec", "r1", "/usr/sbin/haproxy", "-f", "x"], "[ns] haproxy"),
    (["ovs-vsctl", "--db=unix:/x/db.sock", "--timeout=10", "--", "--may-exist", "add-port",
      "br-int", "qr-1", "--", "set", "Interface", "qr-1"], "ovs-vsctl add-port"),
    (["ovs-vsctl", "--db=unix:/x", "list-br"], "ovs-vsctl list-br"),
    (["iptables-nft-save"], "iptables-nft-save"),
    (["ip", "netns", "exec"], "ip netns exec"),
])
def test_command_kind(argv, kind):
    assert command_kind(argv) == kind


def test_recorder_and_timed_spans():
    rec = Recorder()
    rec.command(["ip", "-n", "a", "link", "show"], 0.004)
    rec.command(["ip", "-n", "b", "link", "show"], 0.006)
    rec.command(["ethtool", "-K", "x", "tx", "off"], 0.002)
    calls = []
    fn = _timed(lambda x: calls.append(x) or x * 2, "double", rec)
    assert fn(21) == 42 and calls == [21]
    with pytest.raises(ZeroDivisionError):
        _timed(lambda: 1 / 0, "fails", rec)()
    out = rec.as_dict()
    assert out["commands"]["[ns] ip link show"] == {"count": 2, "total_s": 0.01, "max_ms": 6.0}
    assert out["spans"]["double"]["count"] == 1 and out["spans"]["fails"]["count"] == 1


PROFILE = {"import_s": 0.1, "main_s": 9.0, "background": {"arping": 30},
           "commands": {f"k{i}": {"count": i + 1, "total_s": float(i), "max_ms": 10.0 * i}
                        for i in range(5)},
           "spans": {"ensure one router": {"count": 10, "total_s": 8.0},
                     "  plug qr-/qg- (veth, OVS port)": {"count": 20, "total_s": 5.0},
                     "report state": {"count": 1, "total_s": 0.1}}}


def test_command_table_folds_the_tail():
    rows = command_table(PROFILE, wall_s=10.0, top=2)
    assert [r["kind"] for r in rows] == ["k4", "k3", "other (3 kinds)"]
    assert rows[0] == {"kind": "k4", "count": 5, "total_s": 4.0, "max_ms": 40.0,
                       "mean_ms": 800.0, "share": 0.4}
    assert rows[2]["count"] == 1 + 2 + 3 and rows[2]["total_s"] == 3.0
    assert rows[2]["max_ms"] == 20.0
    assert command_table({"commands": {}}, 10.0) == []


def test_profile_totals():
    assert profile_totals(PROFILE) == {"commands_run": 15, "commands_s": 10.0,
                                       "background_run": 30}
    assert profile_totals({}) == {"commands_run": 0, "commands_s": 0, "background_run": 0}


def test_short_drops_per_run_values():
    argv = ["/x/fermion", "agent", "l3", "--host", "net", "--server", "http://h:1",
            "--ovs-rundir", "/r", "--namespace-prefix", "p-", "--once"]
    assert _short(argv) == ["agent", "l3", "--host", "net", "--once"]


def _report() -> dict:
    summary = {"n": 3, "p50": 500.0, "p90": 600.0, "p99": 700.0, "max": 710.0, "mean": 550.0}
    load = {"server_cores": 0.1, "other_processes_cores": 0.5, "bench_cores": 0.1,
            "loadavg_1m_before": 1.0, "loadavg_1m_after": 1.5, "wall_s": 10.0}
    return {
        "benchmark": "l3", "date": "2026-01-01 00:00 UTC", "command": "python -m bench.run "
        "--suite l3", "json": "bench/results/l3.json",
        "machine": {"nproc": 2, "cpu": "cpu", "memory_gib": 1.0, "kernel": "6", "os": "os",
                    "python": "3.11"},
        "phases": {
            "latency": {"server": "fermion x", "samples": 3, "probe_interval_ms": 10,
                        "agents": {"l3-net": "fermion agent l3 --host net"},
                        "add_subnet": {"n": 3, "never": 1, "ping_ms": summary,
                                       "active_ms": summary, "api_ms": summary,
                                       "machine_load": load},
                        "fip_set": {"n": 3, "never": 0, "ping_ms": summary, "api_ms": summary,
                                    "machine_load": load},
                        "l3_agent_cpu_s": 2.0},
            "resync": {"server": "fermion x", "routers": 100, "fips_per_router": 10,
                       "agent_command": "fermion agent l3 --once",
                       "passes": {"cold": {"wall_s": 10.0, "cpu_s": 5.0, "routers_changed": 100,
                                           "fips_added": 1000,
                                           "profile": {**PROFILE, **profile_totals(PROFILE)}},
                                  "no_change": {"wall_s": 2.0, "cpu_s": 1.0,
                                                "routers_changed": 0}},
                       "made": {"namespaces": 100, "haproxy": 100, "ovs_ports": 200},
                       "machine_load": load}}}


def test_markdown_section():
    report = _report()
    l3_report.finish(report)
    assert any("1 of 3 samples never" in n for n in report["notes"])
    assert any("Enough to inflate" in n for n in report["notes"])
    text = l3_report.markdown_section(report)
    assert "| (a) router add subnet → instance pings the external host (SNAT) | 3 | 500 ms |" \
        in text
    assert "| cold: nothing made yet | 10.0 s | 5.00 s | 15 | 10.0 s | 100 |" in text
    assert "| `k4` | 5 | 4.00 s | 800 ms | 40.0 ms | 40% |" in text
    # steps in the order of a pass: the router's parts after "ensure one router"
    assert text.index("| report state") < text.index("| ensure one router") < \
        text.index("| ↳ plug qr-/qg-")
    assert "Raw numbers: `bench/results/l3.json`." in text


def test_markdown_section_with_a_failed_phase():
    report = _report()
    report["phases"]["resync"] = {"error": "RuntimeError: boom\nmore"}
    l3_report.finish(report)
    text = l3_report.markdown_section(report)
    assert "The resync phase failed: RuntimeError: boom" in text
    assert "**Resync**" not in text


def test_applied_at_reads_the_agents_router_lines():
    import datetime as dt

    from bench.l3_bench import applied_at

    log = ("2026-01-01 10:00:00,100 INFO fermion.agent.l3_agent: pass 1 at revision 3\n"
           "2026-01-01 10:00:01,250 INFO fermion.agent.l3_apply: router r1: +10.0.0.1/24\n"
           "2026-01-01 10:00:02,500 INFO fermion.agent.l3_apply: router r2: +route\n"
           "2026-01-01 10:00:03,750 INFO fermion.agent.l3_apply: router r1: +1.2.3.4/32\n")

    def epoch(text: str) -> float:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()

    assert applied_at(log, "r1", epoch("2026-01-01 10:00:00,000")) == \
        epoch("2026-01-01 10:00:01,250")
    assert applied_at(log, "r1", epoch("2026-01-01 10:00:02,000")) == \
        epoch("2026-01-01 10:00:03,750")
    assert applied_at(log, "r2", epoch("2026-01-01 10:00:00,000")) == \
        epoch("2026-01-01 10:00:02,500")
    assert applied_at(log, "r1", epoch("2026-01-01 10:00:04,000")) is None
    assert applied_at(log, "r3", 0.0) is None
