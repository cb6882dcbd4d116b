"""``fermion agent l3 --host H``: the L3 agent's loop (legacy routers, as in the seed).

Level-triggered like the L2 agent: report state (agent_type "L3 agent", so the server
schedules routers here), take the host's snapshot, build the router models
(:mod:`fermion.agent.l3_model`) and converge the ``qrouter-`` namespaces to them
(:class:`~fermion.agent.l3_apply.L3Applier`). Then wait: a watcher thread long-polls the
change feed and flags any change (a new snapshot, then a pass); a timer
(``periodic_interval``) passes again anyway, so a namespace someone broke by hand is
repaired. A pass over a correct host writes nothing, so a restarted agent (even after
``kill -9``) disturbs no traffic: namespaces, devices, addresses, rules and haproxy are
adopted as they are.

Where the data plane lives: ``--ovs-rundir`` points at the ovs-vswitchd of this host, and
``--ovs-netns`` names the namespace it runs in (the OVS ends of the routers' veths go there;
default: the agent's own). ``--namespace-prefix`` is put before every ``qrouter-`` name, so
simulated hosts sharing one kernel keep their routers apart (default: none).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from fermion.agent.l3_apply import L3Applier, L3Result
from fermion.agent.l3_model import routers_from_snapshot
from fermion.agent.server_client import ResyncRequired, ServerClient
from fermion.linux.cmd import CommandError
from fermion.linux.iptables import Iptables, detect_backend
from fermion.linux.ovs import Ovs, detect_datapath_type

LOG = logging.getLogger(__name__)

AGENT_TYPE = "L3 agent"
BINARY = "neutron-l3-agent"
TOPIC = "l3_agent"
FEED_WAIT = 30


@dataclass(frozen=True)
class L3Options:
    """The agent's settings: command line over l3_agent.ini over defaults."""

    host: str
    ovs_rundir: str
    ovs_netns: str | None
    datapath_type: str
    namespace_prefix: str
    state_path: str
    iptables_backend: str
    enable_metadata_proxy: bool
    metadata_port: int
    metadata_socket: str
    handle_internal_only_routers: bool
    send_arp_for_ha: int
    report_interval: float
    periodic_interval: float

    @classmethod
    def from_args(cls, args) -> L3Options:
        conf = args.conf

        def pick(value, section, name):
            return value if value is not None else conf.get(section, name)

        return cls(
            host=args.host,
            ovs_rundir=args.ovs_rundir or _rundir_of(conf.get("ovs", "ovsdb_connection")),
            ovs_netns=args.ovs_netns,
            datapath_type=pick(args.datapath_type, "ovs", "datapath_type")
            or detect_datapath_type(),
            namespace_prefix=args.namespace_prefix or "",
            state_path=pick(args.state_path, "DEFAULT", "state_path"),
            iptables_backend=detect_backend(args.iptables_backend),
            enable_metadata_proxy=pick(args.enable_metadata_proxy, "DEFAULT",
                                       "enable_metadata_proxy"),
            metadata_port=conf.get("DEFAULT", "metadata_port"),
            metadata_socket=pick(args.metadata_proxy_socket, "DEFAULT",
                                 "metadata_proxy_socket"),
            handle_internal_only_routers=conf.get("DEFAULT", "handle_internal_only_routers"),
            send_arp_for_ha=conf.get("DEFAULT", "send_arp_for_ha"),
            report_interval=pick(args.report_interval, "agent", "report_interval"),
            periodic_interval=pick(args.periodic_interval, "DEFAULT", "periodic_interval"))


def _rundir_of(connection: str) -> str:
    kind, _, path = connection.partition(":")
    if kind != "unix" or not path:
        raise ValueError(f"[ovs] ovsdb_connection {connection!r}: only unix:PATH is supported")
    return str(Path(path).parent)


class L3Agent:
    def __init__(self, opts: L3Options, client: ServerClient, applier: L3Applier):
        self.opts = opts
        self.host = opts.host
        self.client = client
        self.applier = applier
        self.snapshot: dict | None = None
        self.revision = 0
        self.passes = 0
        self._started = True
        self._last_report = 0.0
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.dirty = threading.Event()
        self._watcher: threading.Thread | None = None

    def configurations(self) -> dict:
        return {"agent_mode": "legacy", "interface_driver": "openvswitch",
                "handle_internal_only_routers": self.opts.handle_internal_only_routers,
                "enable_metadata_proxy": self.opts.enable_metadata_proxy,
                "iptables_backend": self.opts.iptables_backend,
                "routers": len((self.snapshot or {}).get("routers", []))}

    def report_state(self) -> None:
        self.client.report_state({
            "agent_type": AGENT_TYPE, "host": self.host, "binary": BINARY, "topic": TOPIC,
            "start_flag": self._started, "configurations": self.configurations()})
        self._started = False
        self._last_report = time.monotonic()

    def resync(self) -> None:
        self.dirty.clear()
        self.snapshot = self.client.snapshot(self.host)
        self.revision = max(self.revision, int(self.snapshot["revision"]))

    def converge(self) -> L3Result:
        assert self.snapshot is not None
        routers = routers_from_snapshot(
            self.snapshot, namespace_prefix=self.opts.namespace_prefix,
            handle_internal_only_routers=self.opts.handle_internal_only_routers,
            enable_metadata_proxy=self.opts.enable_metadata_proxy)
        result = self.applier.reconcile(routers)
        self.passes += 1
        if result.changed or self.passes == 1:
            LOG.info("pass %d at revision %d: %d routers, %d removed, changed: %s",
                     self.passes, self.revision, len(routers), len(result.removed),
                     result.changed)
        return result

    def run_once(self) -> L3Result:
        """Heartbeat, snapshot, converge (``--once``)."""
        self.report_state()
        self.resync()
        return self.converge()

    def run(self) -> None:
        backoff = 1.0
        self.dirty.set()
        last_pass = 0.0
        while not self.stop_event.is_set():
            try:
                if time.monotonic() - self._last_report >= self.opts.report_interval:
                    self.report_state()
                periodic = time.monotonic() - last_pass >= self.opts.periodic_interval
                if self.dirty.is_set() or self.snapshot is None or periodic:
                    if self.dirty.is_set() or self.snapshot is None:
                        self.resync()
                    self.converge()
                    last_pass = time.monotonic()
                backoff = 1.0
            except (httpx.HTTPError, OSError, CommandError) as exc:
                LOG.warning("pass failed (%s); full resync in %.0fs", exc, backoff)
                self.dirty.set()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="change-feed",
                                                 daemon=True)
                self._watcher.start()
            now = time.monotonic()
            wait = min(self.opts.report_interval - (now - self._last_report),
                       self.opts.periodic_interval - (now - last_pass))
            self.wake.wait(max(0.0, wait))
            self.wake.clear()

    def _watch(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                feed = self.client.changes(self.revision, timeout=FEED_WAIT)
                backoff = 1.0
            except ResyncRequired as exc:
                self.revision = max(self.revision, exc.revision or 0)
                self._flag()
                continue
            except (httpx.HTTPError, OSError) as exc:
                LOG.warning("change feed: %s; again in %.0fs", exc, backoff)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.revision = max(self.revision, feed.revision)
            if feed.changes:
                self._flag()

    def _flag(self) -> None:
        self.dirty.set()
        self.wake.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()


def build(args) -> tuple[L3Agent, ServerClient]:
    opts = L3Options.from_args(args)
    ovs = Ovs(opts.ovs_rundir, datapath_type=opts.datapath_type)
    applier = L3Applier(ovs, Iptables(opts.iptables_backend), state_path=opts.state_path,
                        ovs_netns=opts.ovs_netns, namespace_prefix=opts.namespace_prefix,
                        metadata_port=opts.metadata_port, metadata_socket=opts.metadata_socket,
                        send_arp_count=opts.send_arp_for_ha)
    headers = {"X-Auth-Token": args.os_token} if args.os_token else {}
    client = ServerClient(args.server, headers=headers)
    return L3Agent(opts, client, applier), client


def main(args) -> int:
    """Entry point for ``fermion agent l3`` (args from the CLI parser)."""
    agent, client = build(args)
    try:
        if args.once:
            print(json.dumps(agent.run_once().summary(), sort_keys=True))
            return 0
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
        client.close()
    return 0
