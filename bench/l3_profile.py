"""``python -m bench.l3_profile OUT.json -- agent l3 --once …``: the L3 agent, profiled.

Runs ``fermion.cli.main`` with the arguments after ``--`` in this process (the same code
path as the ``fermion`` command) after wrapping, without changing them:

- ``subprocess.run`` — every external command the agent runs (``fermion.linux.cmd.run``
  goes through it): its wall time, grouped by :func:`command_kind`;
- ``fermion.linux.netns.popen_in`` — background processes it starts (``arping``);
- the steps of a pass (``SPANS``): report, snapshot, the per-router ``ensure`` and its
  pieces (namespace, forwarding, plug, addresses, iptables, routes, metadata proxy), the
  sweep of stale namespaces — wall time and calls each.

The cost of the wrapping is one ``time.monotonic()`` pair and a dict update per call
(microseconds against commands of milliseconds). The agent's own stdout (its JSON summary)
is left as it is; the profile goes to OUT.json when the agent returns.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

# (module, attribute path, label): wrapped in place, timed as a span
SPANS = (
    ("fermion.agent.l3_agent", "L3Agent.report_state", "report state"),
    ("fermion.agent.l3_agent", "L3Agent.resync", "snapshot (GET)"),
    ("fermion.agent.l3_agent", "routers_from_snapshot", "build router models"),
    ("fermion.agent.l3_apply", "L3Applier.reconcile", "reconcile (all routers)"),
    ("fermion.agent.l3_apply", "L3Applier.ensure", "ensure one router"),
    ("fermion.linux.netns", "add_netns", "  namespace add"),
    ("fermion.agent.l3_apply", "L3Applier._ensure_forwarding", "  forwarding sysctls"),
    ("fermion.linux.interface", "plug", "  plug qr-/qg- (veth, OVS port)"),
    ("fermion.linux.interface", "set_addresses", "  addresses (qr-, qg- + floating IPs)"),
    ("fermion.agent.l3_apply", "apply_iptables", "  iptables save/diff/restore"),
    ("fermion.agent.l3_apply", "L3Applier._announce", "  gratuitous ARP start"),
    ("fermion.agent.l3_apply", "L3Applier._ensure_routes", "  routes"),
    ("fermion.agent.l3_apply", "ensure_proxy", "  metadata proxy (haproxy)"),
    ("fermion.agent.l3_apply", "L3Applier._remove_orphan_ovs_ports", "orphan OVS port sweep"),
)


def command_kind(argv: Sequence[str]) -> str:
    """A short name for a command line: ``ip netns exec NS`` becomes a ``[ns] `` prefix,
    ``ip -n NS`` counts as in a namespace, ``ip``'s object (``link``/``addr``/``route``/
    ``netns``) and verb are kept, ``ovs-vsctl``'s first verb after its options, and the
    program name alone for everything else."""
    args = list(argv)
    prefix = ""
    if args[:3] == ["ip", "netns", "exec"] and len(args) > 4:
        prefix, args = "[ns] ", args[4:]
    if not args:
        return prefix.strip() or "?"
    prog = os.path.basename(args[0])
    rest = args[1:]
    if prog == "ip":
        words = []
        i = 0
        while i < len(rest):
            a = rest[i]
            if a in ("-n", "-netns"):
                prefix = "[ns] "
                i += 2
                continue
            if a.startswith("-"):
                i += 1
                continue
            words.append(a)
            if len(words) == 2:
                break
            i += 1
        return prefix + " ".join(["ip", *words])
    if prog in ("ovs-vsctl", "ovs-ofctl"):
        verbs = [a for a in rest if not a.startswith("-")]
        return prefix + " ".join([prog, *verbs[:1]])
    if prog == "sysctl":
        return prefix + ("sysctl -w" if "-w" in rest else "sysctl (read)")
    return prefix + prog


class Recorder:
    """Wall time and calls per command kind and per span; safe to call from threads (the
    DHCP agent applies networks in parallel)."""

    def __init__(self) -> None:
        self.commands: dict[str, list[float]] = {}  # kind -> [count, total_s, max_s]
        self.spans: dict[str, list[float]] = {}  # label -> [count, total_s]
        self.popen: dict[str, int] = {}
        self.lock = threading.Lock()

    def command(self, argv: Sequence[str], seconds: float) -> None:
        kind = command_kind(argv)
        with self.lock:
            entry = self.commands.setdefault(kind, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += seconds
            entry[2] = max(entry[2], seconds)

    def span(self, label: str, seconds: float) -> None:
        with self.lock:
            entry = self.spans.setdefault(label, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": {k: {"count": int(c), "total_s": round(t, 3),
                             "max_ms": round(m * 1000, 1)}
                         for k, (c, t, m) in self.commands.items()},
            "spans": {k: {"count": int(c), "total_s": round(t, 3)}
                      for k, (c, t) in self.spans.items()},
            "background": dict(self.popen),
        }


def _timed(fn: Callable[..., Any], label: str, rec: Recorder) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            rec.span(label, time.monotonic() - t0)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def time_commands(rec: Recorder) -> None:
    """Record every ``subprocess.run`` (all of ``fermion.linux.cmd.run`` goes through it)."""
    real_run = subprocess.run

    def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return real_run(argv, *args, **kwargs)
        finally:
            rec.command([str(a) for a in argv] if not isinstance(argv, str) else [argv],
                        time.monotonic() - t0)

    subprocess.run = run  # type: ignore[assignment]


def wrap_spans(rec: Recorder, spans: Sequence[tuple[str, str, str]]) -> None:
    """Time each (module, attribute path, label) of ``spans`` in place."""
    for module, path, label in spans:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        setattr(owner, name, _timed(getattr(owner, name), label, rec))


def install(rec: Recorder) -> None:
    time_commands(rec)
    from fermion.linux import netns

    real_popen_in = netns.popen_in

    def popen_in(ns_name: Any, argv: Sequence[str], **kwargs: Any) -> Any:
        kind = command_kind([str(a) for a in argv])
        with rec.lock:
            rec.popen[kind] = rec.popen.get(kind, 0) + 1
        return real_popen_in(ns_name, argv, **kwargs)

    netns.popen_in = popen_in  # type: ignore[assignment]
    wrap_spans(rec, SPANS)


def run_profiled(argv: Sequence[str], install: Callable[[Recorder], None], what: str) -> int:
    """``OUT.json -- <fermion arguments>``: ``fermion.cli.main`` in this process with
    ``install`` applied; the profile goes to OUT.json when it returns."""
    out, sep, *agent = argv
    if sep != "--":
        raise SystemExit(f"usage: python -m bench.{what.split()[1]}_profile OUT.json -- {what} …")
    rec = Recorder()
    t0 = time.monotonic()
    from fermion import cli

    imported = time.monotonic() - t0
    install(rec)
    t1 = time.monotonic()
    try:
        return cli.main(list(agent))
    finally:
        result = {"import_s": round(imported, 3), "main_s": round(time.monotonic() - t1, 3),
                  **rec.as_dict()}
        with open(out, "w") as f:
            json.dump(result, f, indent=1)


def main(argv: Sequence[str]) -> int:
    return run_profiled(argv, install, "agent l3")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
