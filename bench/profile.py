"""``python -m bench.profile OUT.json KIND -- agent KIND --once …``: an agent, profiled.

Runs ``fermion.cli.main`` with the arguments after ``--`` in this process (the same code
path as the ``fermion`` command) after wrapping, without changing them, ``subprocess.run``
(every external command the agent runs goes through it; timed by ``command_kind``),
``fermion.linux.netns.popen_in`` (background processes, counted) and the steps of a pass,
``SPANS[KIND]`` (in the order of a pass; leading spaces: part of the step above; ``API:``:
calls to the server). That costs microseconds per call, against commands of milliseconds.
The profile goes to OUT.json when the agent returns; ``load`` and ``profile_lines`` read
and render it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.harness import fmt

_L3, _DHCP, _LOOP = "fermion.agent.l3_apply", "fermion.agent.dhcp_apply", "fermion.agent.loop"
_CLIENT = "fermion.agent.server_client"
SPANS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "l3": (
        ("fermion.agent.l3_agent", "L3Agent.report_state", "report state"),
        ("fermion.agent.l3_agent", "L3Agent.resync", "snapshot (GET)"),
        ("fermion.agent.l3_agent", "routers_from_snapshot", "build router models"),
        (_L3, "L3Applier.reconcile", "reconcile (all routers)"),
        (_L3, "L3Applier.ensure", "ensure one router"),
        ("fermion.linux.netns", "add_netns", "  namespace add"),
        (_L3, "L3Applier._ensure_forwarding", "  forwarding sysctls"),
        ("fermion.linux.interface", "plug", "  plug qr-/qg- (veth, OVS port)"),
        ("fermion.linux.interface", "set_addresses", "  addresses (qr-, qg- + floating IPs)"),
        (_L3, "apply_iptables", "  iptables save/diff/restore"),
        (_L3, "L3Applier._announce", "  gratuitous ARP start"),
        (_L3, "L3Applier._ensure_routes", "  routes"),
        (_L3, "ensure_proxy", "  metadata proxy (haproxy)"),
        (_L3, "L3Applier._remove_orphan_ovs_ports", "orphan OVS port sweep")),
    "dhcp": (
        (_LOOP, "ReconcilingAgent.report_state", "report state"),
        (_LOOP, "ReconcilingAgent.resync", "snapshot"),
        ("fermion.agent.dhcp_agent", "desired_networks", "desired model (dhcp_model)"),
        (_DHCP, "DhcpApplier.reconcile", "reconcile (all networks)"),
        (_DHCP, "DhcpApplier.apply_network", "apply one network"),
        (_DHCP, "DhcpApplier._ensure_port", "  DHCP port (create/update)"),
        ("fermion.linux.interface", "plug", "  plug tap (namespace, veth, OVS port)"),
        ("fermion.linux.interface", "set_addresses", "  addresses"),
        ("fermion.agent.dnsmasq", "render_files", "  render hosts/opts files"),
        ("fermion.linux.files", "replace_if_different", "  write files (if changed)"),
        ("fermion.linux.process", "Daemon.ensure", "  dnsmasq: adopt or start"),
        ("fermion.linux.process", "Daemon._find_in_netns", "    look for it in the namespace"),
        ("fermion.linux.process", "Daemon.start", "    start, wait for its pid file"),
        (_DHCP, "DhcpApplier._release_ports", "release stale DHCP ports"),
        (_DHCP, "DhcpApplier.check_daemons", "check daemons alive"),
        *((_CLIENT, f"ServerClient.{name}", f"API: {name}") for name in (
            "report_state", "snapshot", "create_port", "update_port", "delete_port",
            "list_ports"))),
}


def command_kind(argv: Sequence[str]) -> str:
    """A short name for a command line: ``ip netns exec NS`` becomes a ``[ns] `` prefix,
    ``ip -n NS`` counts as in a namespace, ``ip``'s object and verb are kept, ``ovs-vsctl``'s
    first verb after its options, and the program name alone for everything else."""
    args, prefix = list(argv), ""
    if args[:3] == ["ip", "netns", "exec"] and len(args) > 4:
        prefix, args = "[ns] ", args[4:]
    if not args:
        return prefix.strip() or "?"
    prog, rest = os.path.basename(args[0]), args[1:]
    if prog == "ip":
        words, i = [], 0
        while i < len(rest) and len(words) < 2:
            if rest[i] in ("-n", "-netns"):
                prefix, i = "[ns] ", i + 2
                continue
            if not rest[i].startswith("-"):
                words.append(rest[i])
            i += 1
        return prefix + " ".join(["ip", *words])
    if prog in ("ovs-vsctl", "ovs-ofctl"):
        return prefix + " ".join([prog, *[a for a in rest if not a.startswith("-")][:1]])
    if prog == "sysctl":
        return prefix + ("sysctl -w" if "-w" in rest else "sysctl (read)")
    return prefix + prog


class Recorder:
    """Durations per command kind and per span, and background processes per kind; safe to
    use from threads (the DHCP agent applies several networks at once)."""

    def __init__(self) -> None:
        self.commands: dict[str, list[float]] = defaultdict(list)
        self.spans: dict[str, list[float]] = defaultdict(list)
        self.popen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def command(self, argv: Sequence[str], seconds: float) -> None:
        with self.lock:
            self.commands[command_kind(argv)].append(seconds)

    def span(self, label: str, seconds: float) -> None:
        with self.lock:
            self.spans[label].append(seconds)

    def as_dict(self) -> dict[str, Any]:
        return {"commands": {k: {"count": len(v), "total_s": round(sum(v), 3),
                                 "max_ms": round(max(v) * 1000, 1)}
                             for k, v in self.commands.items()},
                "spans": {k: {"count": len(v), "total_s": round(sum(v), 3)}
                          for k, v in self.spans.items()},
                "background": dict(self.popen)}


def timed(fn: Callable[..., Any], label: str, rec: Recorder) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            rec.span(label, time.monotonic() - t0)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def install(rec: Recorder, spans: Sequence[tuple[str, str, str]]) -> None:
    """Time every ``subprocess.run``, count ``popen_in``, and wrap ``spans`` in place."""
    real_run = subprocess.run
    from fermion.linux import netns

    real_popen_in = netns.popen_in

    def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return real_run(argv, *args, **kwargs)
        finally:
            rec.command([argv] if isinstance(argv, str) else [str(a) for a in argv],
                        time.monotonic() - t0)

    def popen_in(ns_name: Any, argv: Sequence[str], **kwargs: Any) -> Any:
        with rec.lock:
            rec.popen[command_kind([str(a) for a in argv])] += 1
        return real_popen_in(ns_name, argv, **kwargs)

    subprocess.run = run  # type: ignore[assignment]
    netns.popen_in = popen_in  # type: ignore[assignment]
    for module, path, label in spans:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        setattr(owner, name, timed(getattr(owner, name), label, rec))


def main(argv: Sequence[str]) -> int:
    out, kind, sep, *agent = argv
    if sep != "--" or kind not in SPANS:
        raise SystemExit(f"usage: python -m bench.profile OUT.json {{{','.join(SPANS)}}} -- "
                         "agent KIND …")
    rec, t0 = Recorder(), time.monotonic()
    from fermion import cli

    imported = time.monotonic() - t0
    install(rec, SPANS[kind])
    t1 = time.monotonic()
    try:
        return cli.main(list(agent))
    finally:
        Path(out).write_text(json.dumps({"import_s": round(imported, 3),
                                         "main_s": round(time.monotonic() - t1, 3),
                                         **rec.as_dict()}, indent=1))


# -- reading and rendering a profile ---------------------------------------------------------

def load(path: Path) -> dict[str, Any]:
    """A profile with its totals: commands run, their summed wall time, background
    processes started, calls to the server."""
    prof = json.loads(Path(path).read_text())
    cmds = prof.get("commands", {}).values()
    prof.update({"commands_run": sum(c["count"] for c in cmds),
                 "commands_s": round(sum(c["total_s"] for c in cmds), 3),
                 "background_run": sum(prof.get("background", {}).values()),
                 "api_calls": sum(v["count"] for k, v in prof.get("spans", {}).items()
                                  if k.startswith("API:"))})
    return prof


def command_table(profile: dict[str, Any], wall_s: float, top: int = 12
                  ) -> list[dict[str, Any]]:
    """The profile's command kinds by total time, with the share of ``wall_s`` each took;
    the rest folded into one ``other`` row."""
    rows = sorted(({"kind": k, **v} for k, v in profile.get("commands", {}).items()),
                  key=lambda r: r["total_s"], reverse=True)
    head, tail = rows[:top], rows[top:]
    if tail:
        head.append({"kind": f"other ({len(tail)} kinds)",
                     "count": sum(r["count"] for r in tail),
                     "total_s": round(sum(r["total_s"] for r in tail), 3),
                     "max_ms": max(r["max_ms"] for r in tail)})
    for r in head:
        r["mean_ms"] = round(1000 * r["total_s"] / r["count"], 2) if r["count"] else 0.0
        r["share"] = round(r["total_s"] / wall_s, 3) if wall_s > 0 else 0.0
    return head


def profile_lines(kind: str, prof: dict[str, Any], wall: float, top: int) -> list[str]:
    """Two tables: external commands by kind, then the steps of the pass in order."""
    lines = ["", "| command | runs | total | mean | max | share of wall |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in command_table(prof, wall, top):
        lines.append(f"| `{r['kind']}` | {r['count']:,} | {fmt(r['total_s'], 's')} | "
                     f"{fmt(r['mean_ms'], 'ms')} | {fmt(r['max_ms'], 'ms')} | "
                     f"{100 * r['share']:.0f}% |")
    start = max(0.0, wall - prof.get("main_s", 0.0))
    lines += ["", "| step | calls | total | share of wall |", "| --- | ---: | ---: | ---: |",
              f"| start-up: Python, imports (all but `cli.main`) | 1 | {fmt(start, 's')} | "
              f"{100 * start / wall:.0f}% |"]
    order = {label: i for i, (_m, _p, label) in enumerate(SPANS[kind])}
    spans = prof.get("spans", {})
    for label in sorted(spans, key=lambda k: order.get(k, len(order))):
        s = spans[label]
        name = "↳ " * ((len(label) - len(label.lstrip(" "))) // 2) + label.strip()
        lines.append(f"| {name} | {s['count']:,} | {fmt(s['total_s'], 's')} | "
                     f"{100 * s['total_s'] / wall:.0f}% |")
    return lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
