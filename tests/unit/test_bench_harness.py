"""The benchmark harness's pure parts: statistics, tables, the section texts, the command
line made from the suites' config dataclasses, and the profile's command kinds."""

from __future__ import annotations

import argparse
import json
import threading
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from bench import harness as h
from bench import profile
from bench.__main__ import SUITES, add_options, config_of, main, parser
from bench.harness import Suite, knob
from bench.lab import parse_probe, short_command


def test_percentiles_and_summary():
    assert h.percentile([], 50) != h.percentile([], 50)  # NaN
    assert h.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert h.percentile([0.0, 10.0], 99) == pytest.approx(9.9)
    s = h.summary_ms([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert (s["n"], s["p50"], s["p99"], s["max"], s["mean"]) == (100, 50.5, 99.0, 100.0, 50.5)
    assert h.summary_ms([]) == {}


def test_summaries_of_sample_columns():
    samples = [{"a_s": i / 1000, "b_s": None if i % 2 else i / 1000} for i in range(1, 21)]
    out = h.summaries(samples, ("a", "b"), tenth="a")
    assert out["a_ms"]["n"] == 20 and out["b_ms"]["n"] == 10  # None left out
    assert out["a_first_tenth_ms"]["max"] == 2.0 and out["a_last_tenth_ms"]["max"] == 20.0


def test_linear_fit_and_median_ratio():
    a, b, r2 = h.linear_fit([(500, 10.0), (1000, 20.0), (2000, 40.0)])
    assert (round(a, 6), round(b * 1000, 6), r2) == (0.0, 20.0, 1.0)
    assert h.linear_fit([(1, 2.0)]) is None and h.linear_fit([(1, 2.0), (1, 3.0)]) is None
    assert h.median_ratio([0.6, 0.7, 0.5], [1.0, 0.8, 2.0]) == 0.6
    assert h.median_ratio([], [1.0]) is None and h.median_ratio([1.0], [0.0]) is None


def test_fmt_table_and_percentile_cells():
    assert h.fmt(None, "ms") == "—"
    assert [h.fmt(v, "ms") for v in (9.404, 95.67, 1234.5)] == ["9.40 ms", "95.7 ms", "1,234 ms"]
    assert h.fmt(0.854, "×") == "0.85×" and h.fmt(4325.2, "/s", 1) == "4,325/s"
    assert h.table(["target", "limit", "<"], [("x", "1 s", "met")]) == [
        "| target | limit | |", "| --- | ---: | --- |", "| x | 1 s | met |"]
    assert h.percentiles({"n": 2, "p50": 5.0, "max": 7.0}) == [2, "5.00 ms", "—", "—", "7.00 ms"]


def test_load_note_and_value_at():
    load = {"server_cores": 0.1, "l2_agents_cores": 0.25, "bench_cores": 0.2,
            "other_processes_cores": 1.2, "loadavg_1m_before": 1.0, "loadavg_1m_after": 2.0}
    (note,) = h.load_note("the passes", load, 2)
    assert note == ("Machine load during the passes: other processes used 1.20 of the 2 CPUs "
                    "on average (server 0.10, l2 agents 0.25, bench 0.20); 1-minute load "
                    "average 1.0 → 2.0. Enough to inflate wall-clock times.")
    assert h.load_note("x", None, 2) == []
    assert h.value_at({"a": {"b": 3}}, ("a", "b")) == 3
    assert h.value_at({"a": {"b": True}}, ("a", "b")) is None
    assert h.value_at({"a": 1}, ("a", "b")) is None


def test_recorded_keeps_going_after_a_failure():
    class Quiet:
        def log(self, msg: str) -> None:
            pass

    assert h.recorded("x", Quiet(), lambda: {"v": 1})["v"] == 1
    failed = h.recorded("x", Quiet(), lambda: 1 / 0)
    assert failed["error"].startswith("ZeroDivisionError") and "total_s" in failed
    with pytest.raises(KeyboardInterrupt):
        h.recorded("x", Quiet(), lambda: (_ for _ in ()).throw(KeyboardInterrupt()))


def test_every_section_text_is_used_and_parses():
    for name in SUITES:
        blocks = h.texts(name)
        assert "head" in blocks and "tail" in blocks, name
        assert all(text.strip() for text in blocks.values()), name


def test_save_replaces_only_its_section(tmp_path: Path):
    md = tmp_path / "B.md"
    md.write_text("# B\n\n<!-- x:begin -->\nold\n<!-- x:end -->\n\nkept\n")
    suite = Suite("x", object, None, None, lambda r: f"new {r['v']}\n")  # type: ignore[arg-type]
    h.save({"v": 1}, suite, tmp_path / "x.json", md)
    assert md.read_text() == "# B\n\n<!-- x:begin -->\nnew 1\n<!-- x:end -->\n\nkept\n"
    assert json.loads((tmp_path / "x.json").read_text())["v"] == 1
    h.save({"v": 2}, Suite("y", object, None, None, lambda r: "y\n"),  # type: ignore[arg-type]
           tmp_path / "y.json", md)
    assert md.read_text().endswith("kept\n\n<!-- y:begin -->\ny\n<!-- y:end -->\n")


# -- the command line -------------------------------------------------------------------------

@dataclass
class DemoConfig:
    """a demo"""

    count: int = knob(3, "how many")
    rate: float = knob(1.5, "how fast")
    mode: str = knob("a", "which", choices=("a", "b"))
    on: bool = knob(True, "whether")
    sizes: tuple[int, ...] = knob((1, 2), "sizes")


def _demo(argv: list[str], env: dict[str, str] | None = None,
          monkeypatch: pytest.MonkeyPatch | None = None) -> DemoConfig:
    for key, value in (env or {}).items():
        assert monkeypatch is not None
        monkeypatch.setenv(key, value)
    ap = argparse.ArgumentParser()
    suite = Suite("demo", DemoConfig, None, None, None)  # type: ignore[arg-type]
    add_options(ap, suite)
    return config_of(suite, ap.parse_args(argv))


def test_options_come_from_the_dataclass(monkeypatch: pytest.MonkeyPatch):
    assert _demo([]) == DemoConfig()
    cfg = _demo(["--demo-count", "7", "--demo-rate", "2", "--demo-mode", "b",
                 "--no-demo-on", "--demo-sizes", "5, 6,7"])
    assert cfg == DemoConfig(7, 2.0, "b", False, (5, 6, 7))
    with pytest.raises(SystemExit):
        _demo(["--demo-mode", "c"])
    env = {"BENCH_DEMO_COUNT": "9", "BENCH_DEMO_ON": "no", "BENCH_DEMO_SIZES": "4"}
    assert _demo([], env, monkeypatch) == DemoConfig(count=9, on=False, sizes=(4,))


def test_help_lists_every_knob_once_with_its_default():
    text = " ".join(parser().format_help().split())
    for name, suite in SUITES.items():
        for f in fields(suite.config):
            option = f"--{name}-{f.name.replace('_', '-')}"
            assert f"{option} " in text, option
            assert text.count(f"[BENCH_{name}_{f.name}]".upper()) == 1, option
    assert "(default 200)" in text and "(default fermion,neutron)" in text


def test_render_rewrites_the_stored_sections(tmp_path: Path):
    """--render makes every section from the stored results: their headings and tables."""
    results = Path(__file__).resolve().parents[2] / "bench" / "results"
    md = tmp_path / "B.md"
    code = main(["--render", "--suite", "api,feed,l2,l3,dhcp", "--results",
                 str(_copy(results, tmp_path)), "--markdown", str(md)])
    text = md.read_text()
    assert code == 0
    for heading in ("## API: Fermion vs upstream Neutron", "## Change feed: 50 watchers",
                    "## L2 agent: port to ACTIVE", "## L3 agent: API write to traffic",
                    "## DHCP agent: port to lease"):
        assert heading in text
    assert "| list 10000 ports |" in text and "| target | measured | limit | |" in text


def _copy(src: Path, dst: Path) -> Path:
    for p in src.glob("*.json"):
        (dst / p.name).write_text(p.read_text())
    return dst


# -- profiles ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "kind"), [
    (["ip", "-n", "r1", "-j", "link", "show", "qr-1"], "[ns] ip link show"),
    (["ip", "netns", "add", "r1"], "ip netns add"),
    (["ip", "netns", "exec", "r1", "sysctl", "-n", "net.ipv4.ip_forward"], "[ns] sysctl (read)"),
    (["ip", "netns", "exec", "r1", "sysctl", "-q", "-w", "a=1"], "[ns] sysctl -w"),
    (["ip", "netns", "exec", "r1", "/usr/sbin/haproxy", "-f", "x"], "[ns] haproxy"),
    (["ovs-vsctl", "--db=unix:/x/db.sock", "--", "--may-exist", "add-port", "br-int", "q"],
     "ovs-vsctl add-port"),
    (["iptables-nft-save"], "iptables-nft-save"),
    (["ip", "netns", "exec"], "ip netns exec"),
])
def test_command_kind(argv, kind):
    assert profile.command_kind(argv) == kind


def test_recorder_from_threads_and_timed_spans():
    rec = profile.Recorder()

    def work() -> None:
        for _ in range(500):
            rec.command(["ip", "-n", "ns", "link", "show", "tap1"], 0.002)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fn = profile.timed(lambda x: x * 2, "double", rec)
    assert fn(21) == 42
    with pytest.raises(ZeroDivisionError):
        profile.timed(lambda: 1 / 0, "fails", rec)()
    out = rec.as_dict()
    assert out["commands"]["[ns] ip link show"] == {"count": 2000, "total_s": 4.0,
                                                    "max_ms": 2.0}
    assert out["spans"]["double"]["count"] == 1 and out["spans"]["fails"]["count"] == 1


PROFILE = {"import_s": 0.1, "main_s": 9.0, "background": {"arping": 30},
           "commands": {f"k{i}": {"count": i + 1, "total_s": float(i), "max_ms": 10.0 * i}
                        for i in range(5)},
           "spans": {"  plug qr-/qg- (veth, OVS port)": {"count": 20, "total_s": 5.0},
                     "ensure one router": {"count": 10, "total_s": 8.0},
                     "report state": {"count": 1, "total_s": 0.1},
                     "API: snapshot": {"count": 1, "total_s": 0.5}}}


def test_profile_totals_and_tables(tmp_path: Path):
    (tmp_path / "p.json").write_text(json.dumps(PROFILE))
    prof = profile.load(tmp_path / "p.json")
    assert (prof["commands_run"], prof["commands_s"], prof["background_run"],
            prof["api_calls"]) == (15, 10.0, 30, 1)
    rows = profile.command_table(PROFILE, wall_s=10.0, top=2)
    assert [r["kind"] for r in rows] == ["k4", "k3", "other (3 kinds)"]
    assert rows[0] == {"kind": "k4", "count": 5, "total_s": 4.0, "max_ms": 40.0,
                            "mean_ms": 800.0, "share": 0.4}
    lines = profile.profile_lines("l3", PROFILE, 10.0, top=2)
    assert "| `k4` | 5 | 4.00 s | 800 ms | 40.0 ms | 40% |" in lines
    assert lines.index("| report state | 1 | 0.10 s | 1% |") < lines.index(
        "| ensure one router | 10 | 8.00 s | 80% |") < lines.index(
        "| ↳ plug qr-/qg- (veth, OVS port) | 20 | 5.00 s | 50% |")
    assert "| start-up: Python, imports (all but `cli.main`) | 1 | 1.00 s | 10% |" in lines


def test_spans_name_real_attributes():
    """Every span wraps something that exists: a rename in an agent breaks the profile."""
    import importlib

    for kind, spans in profile.SPANS.items():
        for module, path, _label in spans:
            owner = importlib.import_module(module)
            for part in path.split("."):
                owner = getattr(owner, part)
            assert callable(owner), (kind, module, path)


def test_probe_output_and_short_commands():
    assert parse_probe("READY\nOK 12345.678901\n") == 12345.678901
    assert parse_probe("READY\nTIMEOUT\n") is None
    argv = ["/x/.venv/bin/fermion", "agent", "l3", "--host", "net", "--server", "http://h:1",
            "--ovs-rundir", "/r", "--namespace-prefix", "p-", "--config-file", "/a.ini",
            "--once"]
    assert short_command(argv) == "fermion agent l3 --host net --once"
    assert short_command(" ".join(argv)) == "fermion agent l3 --host net --once"
