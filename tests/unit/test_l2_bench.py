"""The l2 benchmark's pure helpers and its report (no hosts, no timing)."""

from __future__ import annotations

import json

from bench import l2_report
from bench.l2_bench import (
    alternating,
    iperf_gbps,
    median_ratio,
    parse_probe,
    summary_ms,
)


def test_summary_ms_percentiles_in_milliseconds():
    s = summary_ms([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert s["n"] == 100
    assert s["p50"] == 50.5
    assert s["p99"] == 99.0
    assert s["max"] == 100.0
    assert s["mean"] == 50.5
    assert summary_ms([]) == {}


def test_median_ratio():
    assert median_ratio([0.6, 0.7, 0.5], [1.0, 0.8, 2.0]) == 0.6
    assert median_ratio([], [1.0]) is None
    assert median_ratio([1.0], [0.0]) is None


def test_alternating_is_abba():
    assert alternating(3, "p", "b") == ["p", "b", "b", "p", "p", "b"]
    order = alternating(4, "p", "b")
    assert order.count("p") == order.count("b") == 4


def test_parse_probe():
    assert parse_probe("OK 12345.678901\n") == 12345.678901
    assert parse_probe("TIMEOUT\n") is None
    assert parse_probe("") is None


def test_iperf_gbps_reads_the_receiver_side():
    report = json.loads('{"end": {"sum_sent": {"bits_per_second": 9.9e8},'
                        ' "sum_received": {"bits_per_second": 8.5e8}}}')
    assert iperf_gbps(report) == 0.85


def _report(active_p99: float, cold_s: float, ratio: float, ports: int = 1000) -> dict:
    one = {"median_gbps": {"pipeline": 0.6, "bare": 0.8}, "gbps": {"pipeline": [0.6],
           "bare": [0.8]}, "ratio": ratio, "machine_load": {"other_processes_cores": 1.2,
                                                              "bench_cores": 0.3}}
    passes = {k: {"wall_s": cold_s, "cpu_s": 1.0, "flows_added": 10, "ovs_changes": 1}
              for k in ("cold", "no_change", "flows_lost")}
    return {
        "date": "today", "command": "python -m bench.run --suite l2",
        "machine": {"nproc": 2, "cpu": "x", "memory_gib": 1, "kernel": "k", "os": "o",
                    "python": "3"},
        "config": {"sg": "prefix"}, "json": "bench/results/l2.json",
        "phases": {
            "active": {"server": "fermion", "ports": 3, "poll_interval_s": 0.2,
                       "agent_command": "fermion agent l2 --host a1 --server http://x "
                                        "--ovs-rundir /tmp/x --poll-interval 0.2",
                       "active_ms": {"p99": active_p99}, "ping_ms": {"p99": 500.0},
                       "agent_cpu_s": 1.0, "machine_load": {"wall_s": 10}},
            "resync": {"ports": ports, "passes": passes, "ovs_ports": "internal",
                       "agent_command": "fermion agent l2 --once", "startup_s": 0.3,
                       "flows_br_int": 43000, "active_after": ports},
            "throughput": {"tool": "iperf3", "iperf3": "iperf 3.12", "one_host": one},
        },
    }


def test_targets_met_and_missed():
    report = _report(active_p99=400.0, cold_s=12.0, ratio=0.75)
    l2_report.finish(report)
    t = report["targets"]
    assert t["active_p99"]["met"] is True
    assert t["resync"]["met"] is False
    assert t["throughput"]["met"] is True
    text = l2_report.markdown_section(report)
    assert "**not met**" in text
    assert "--ovs-rundir" not in text  # per-run paths are left out of the section
    assert any("other processes used 1.20" in n for n in report["notes"])


def test_resync_at_another_size_gets_no_verdict():
    report = _report(active_p99=400.0, cold_s=1.0, ratio=0.75, ports=100)
    l2_report.finish(report)
    assert report["targets"]["resync"]["met"] is None
    assert report["targets"]["resync_no_change"]["met"] is None


def test_failed_phase_is_a_note_and_renders():
    report = _report(active_p99=400.0, cold_s=1.0, ratio=0.75)
    report["phases"]["throughput"] = {"error": "RuntimeError: iperf3 is missing"}
    l2_report.finish(report)
    assert report["targets"]["throughput"]["met"] is None
    assert any("throughput phase failed" in n for n in report["notes"])
    assert "not measured" in l2_report.markdown_section(report)
