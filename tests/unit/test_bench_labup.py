"""The lab suite's pure parts: which daemon a command line is, targets and notes, and the
section rendered from a report (no lab is built here)."""

from __future__ import annotations

from bench import labup

MACHINE = {"nproc": 2, "cpu": "cpu", "memory_gib": 8, "kernel": "6", "os": "Debian",
           "python": "3.11"}


def test_kind_of_command_lines():
    assert labup.kind_of("/r/.venv/bin/python /r/.venv/bin/fermion server --config-file x") \
        == "server"
    assert labup.kind_of("/r/.venv/bin/python /r/.venv/bin/fermion agent l2 --server u") \
        == "L2 agent"
    assert labup.kind_of("ovs-vswitchd unix:/run/openvswitch/db.sock --pidfile=x") \
        == "ovs-vswitchd"
    assert labup.kind_of("dnsmasq --no-hosts --no-resolv") == "dnsmasq"
    assert labup.kind_of("tini -s -- sleep infinity") is None
    assert labup.kind_of("busybox udhcpc -f -i eth0") is None


def _sample(up_s: float, down_s: float, ok: int = 7) -> dict:
    return {"lab": "lab10", "up_s": up_s, "down_s": down_s, "up_reported_s": up_s - 0.5,
            "steps_s": {"hosts": 0.2, "agents": 1.0}, "smoke_pass": ok, "smoke_rows": 7,
            "memory": {"server": {"count": 1, "max_mb": 82.0, "sum_mb": 82.0},
                       "L2 agent": {"count": 3, "max_mb": 35.0, "sum_mb": 104.0}},
            "machine_load": {}}


def _report(runs: dict) -> dict:
    return {"benchmark": "lab", "date": "2026-01-01 00:00 UTC", "machine": MACHINE,
            "command": "python -m bench --suite lab", "json": "bench/results/lab.json",
            "config": {"topology": "lab10", "repeats": 3, "computes": 8, "instances": 40,
                       "timeout_s": 600.0}, "runs": runs}


def test_targets_notes_and_section():
    report = _report({"lab10": [_sample(7.0, 0.5), _sample(6.0, 0.6), _sample(9.0, 0.4, 6)],
                      "scaled": [_sample(150.0, 1.2)]})
    labup.finish(report)
    assert report["targets"]["lab10_up_s"] == {"target_s": 30.0, "measured_s": 7.0,
                                               "met": True}
    assert report["targets"]["scaled_up_s"]["met"] is False
    assert report["targets"]["down_s"] == {"target_s": 10.0, "measured_s": 1.2, "met": True}
    assert report["notes"] == ["lab10: 1 of 7 smoke rows failed."]
    text = labup.section(report)
    assert "| `lab up`, wall | 7.00 s | 150 s | < 30 s: **met**; < 120 s: **not met** |" in text
    assert "| server | 82 MB × 1 (82 MB) | 82 MB × 1 (82 MB) |" in text
    assert "--computes 8 --instances 40` once" in text


def test_a_failed_run_is_a_note_and_no_scaled_column():
    report = _report({"lab10": [{"error": "RuntimeError: boom", "total_s": 1.0},
                                _sample(7.0, 0.5)]})
    labup.finish(report)
    assert report["notes"][0].startswith("The lab10 #1 run failed: RuntimeError: boom")
    text = labup.section(report)
    assert "--computes" not in text and "(median of 1)" in text
