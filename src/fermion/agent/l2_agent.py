"""``fermion agent l2 --host H``: the Open vSwitch L2 agent's loop.

Level-triggered, as docs/change-feed.md describes: report state (heartbeat), take the host's
snapshot, converge OVS to it (:class:`~fermion.agent.l2_apply.L2Applier`), report port
status. Then wait for a reason to pass again, from three sources:

- the change feed, long-polled by a watcher thread: any change (or a 410 resync) means a new
  snapshot before the next pass;
- OVSDB, through ``ovsdb-client monitor`` of the Interface table: a hypervisor plugging or
  unplugging a port wakes the loop at once (a local pass against the last snapshot);
- a timer (``polling_interval``), in case either of the above is missed.

A local pass is a few OVSDB reads and one ``dump-flows`` per bridge and writes nothing when
nothing differs, so extra wake-ups cost little.

Port status: a snapshot port bound to this host (or unbound) with an OVS port on br-int whose
``external_ids:iface-id`` is its id is reported ACTIVE; one that was ACTIVE and has no OVS
port any more is reported DOWN. Reports are only sent for ports whose status differs from
what the server (or our last report) says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from fermion.agent.l2_apply import ApplyResult, L2Applier
from fermion.agent.server_client import ResyncRequired, ServerClient
from fermion.linux.cmd import CommandError
from fermion.linux.ovs import Ovs, detect_datapath_type
from fermion.linux.ovsdb_monitor import OvsdbMonitor

LOG = logging.getLogger(__name__)

AGENT_TYPE = "Open vSwitch agent"
BINARY = "fermion-agent-l2"
FEED_WAIT = 30  # seconds a change-feed long poll may wait


class L2Agent:
    def __init__(self, host: str, client: ServerClient, ovs: Ovs, *,
                 bridge_mappings: Mapping[str, str] | None = None,
                 tunnel_types: Sequence[str] = (), local_ip: str | None = None,
                 report_interval: float = 30.0, poll_interval: float = 2.0,
                 l2_population: bool = False, arp_responder: bool = False):
        self.host = host
        self.client = client
        self.ovs = ovs
        self.bridge_mappings = dict(bridge_mappings or {})
        self.tunnel_types = list(tunnel_types)
        self.local_ip = local_ip
        self.report_interval = report_interval
        self.poll_interval = poll_interval
        self.l2_population = l2_population
        self.arp_responder = arp_responder and l2_population
        self.applier = L2Applier(ovs, host=host, bridge_mappings=self.bridge_mappings,
                                 tunnel_types=self.tunnel_types, local_ip=local_ip,
                                 l2_population=l2_population, arp_responder=arp_responder)
        self.snapshot: dict | None = None
        self.revision = 0
        self.reported: dict[str, str] = {}  # port id -> status we last reported
        self._started = True
        self._last_report = 0.0
        self.stop_event = threading.Event()
        self.wake = threading.Event()  # something may differ: pass again
        self.dirty = threading.Event()  # the server's model changed: snapshot first
        self._watcher: threading.Thread | None = None
        self.passes = 0

    # ---------------------------------------------------------------- server side
    def configurations(self) -> dict:
        conf: dict = {"bridge_mappings": self.bridge_mappings, "integration_bridge": "br-int",
                      "datapath_type": self.ovs.datapath_type,
                      "tunnel_types": self.tunnel_types, "l2_population": self.l2_population,
                      "arp_responder_enabled": self.arp_responder}
        if self.local_ip and self.tunnel_types:
            conf["tunneling_ip"] = self.local_ip
        return conf

    def report_state(self) -> None:
        self.client.report_state({
            "agent_type": AGENT_TYPE, "host": self.host, "binary": BINARY, "topic": "N/A",
            "start_flag": self._started, "configurations": self.configurations()})
        self._started = False
        self._last_report = time.monotonic()

    def resync(self) -> None:
        self.dirty.clear()  # changes arriving from now on ask for another snapshot
        self.snapshot = self.client.snapshot(self.host)
        self.revision = max(self.revision, int(self.snapshot["revision"]))

    # ---------------------------------------------------------------- one pass
    def converge(self) -> ApplyResult:
        assert self.snapshot is not None
        result = self.applier.reconcile(self.snapshot)
        self.passes += 1
        if result.changed or self.passes == 1:
            LOG.info("pass %d at revision %d: %d ports wired, %d OVSDB changes, flows +%d -%d",
                     self.passes, self.revision, len(result.wired), result.ovs_changes,
                     sum(result.flows_added.values()), sum(result.flows_deleted.values()))
        self.report_ports(result)
        return result

    def report_ports(self, result: ApplyResult) -> None:
        statuses = []
        for p in self.snapshot.get("ports", []):
            bound = p.get("binding:host_id")
            if bound and bound != self.host:
                continue
            known = self.reported.get(p["id"], p.get("status"))
            if p["id"] in result.wired:
                if known != "ACTIVE":
                    statuses.append((p["id"], "ACTIVE"))
            elif bound == self.host and known == "ACTIVE":
                statuses.append((p["id"], "DOWN"))  # unplugged (maybe while we were down)
        if not statuses:
            return
        answer = self.client.report_ports(self.host, statuses)
        sent = dict(statuses)
        for entry in answer:
            if entry.get("result") in ("updated", "unchanged") and entry.get("id") in sent:
                self.reported[entry["id"]] = sent[entry["id"]]
        LOG.info("reported port status: %s", statuses)

    def run_once(self) -> ApplyResult:
        """Heartbeat, snapshot, converge, report: one full pass (``--once``)."""
        self.report_state()
        self.resync()
        return self.converge()

    # ---------------------------------------------------------------- the loop
    def run(self, monitor: OvsdbMonitor | None = None) -> None:
        """Pass, then wait for the feed, OVSDB or the timer; until :meth:`stop`."""
        backoff = 1.0
        self.dirty.set()
        while not self.stop_event.is_set():
            try:
                if time.monotonic() - self._last_report >= self.report_interval:
                    self.report_state()
                if self.dirty.is_set() or self.snapshot is None:
                    self.resync()
                self.converge()
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
            if monitor is not None and not monitor.alive():
                monitor = None  # the timer is left
            until_report = self.report_interval - (time.monotonic() - self._last_report)
            self.wake.wait(max(0.0, min(self.poll_interval, until_report)))
            self.wake.clear()

    def _watch(self) -> None:
        """Long-poll the change feed from the newest revision seen; flag changes."""
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                feed = self.client.changes(self.revision, timeout=FEED_WAIT)
                backoff = 1.0
            except ResyncRequired as exc:
                LOG.info("change feed asks for a resync")
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


def parse_mappings(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            physnet, sep, bridge = item.partition(":")
            if not sep or not physnet or not bridge:
                raise ValueError(f"bad bridge mapping {item!r} (expected physnet:bridge)")
            out[physnet] = bridge
    return out


@dataclass(frozen=True)
class L2Options:
    """The agent's settings: command line over INI files ([ovs], [agent]) over defaults."""

    host: str
    ovs_rundir: str
    datapath_type: str
    bridge_mappings: dict[str, str]
    tunnel_types: list[str]
    local_ip: str | None
    l2_population: bool
    arp_responder: bool
    report_interval: float
    poll_interval: float

    @classmethod
    def from_args(cls, args) -> L2Options:
        conf = args.conf

        def pick(value, section, name):
            return value if value is not None else conf.get(section, name)

        for section, name, only in (("ovs", "integration_bridge", "br-int"),
                                    ("ovs", "tunnel_bridge", "br-tun")):
            if conf.get(section, name) != only:
                raise ValueError(f"[{section}] {name} must be {only} (other names are not "
                                 "supported)")
        mappings = args.bridge_mappings if args.bridge_mappings is not None \
            else conf.get("ovs", "bridge_mappings")
        types = args.tunnel_types if args.tunnel_types is not None \
            else conf.get("agent", "tunnel_types")
        return cls(
            host=args.host,
            ovs_rundir=args.ovs_rundir or rundir_of(conf.get("ovs", "ovsdb_connection")),
            datapath_type=pick(args.datapath_type, "ovs", "datapath_type")
            or detect_datapath_type(),
            bridge_mappings=parse_mappings(mappings),
            tunnel_types=[t.strip() for v in types for t in v.split(",") if t.strip()],
            local_ip=pick(args.local_ip, "ovs", "local_ip") or None,
            l2_population=pick(args.l2_population, "agent", "l2_population"),
            arp_responder=pick(args.arp_responder, "agent", "arp_responder"),
            report_interval=pick(args.report_interval, "agent", "report_interval"),
            poll_interval=pick(args.poll_interval, "agent", "polling_interval"))


def rundir_of(connection: str) -> str:
    """``unix:/var/run/openvswitch/db.sock`` -> ``/var/run/openvswitch``."""
    kind, _, path = connection.partition(":")
    if kind != "unix" or not path:
        raise ValueError(f"[ovs] ovsdb_connection {connection!r}: only unix:PATH is supported")
    return str(Path(path).parent)


def main(args) -> int:
    """Entry point for ``fermion agent l2`` (args from the CLI parser)."""
    import json

    opts = L2Options.from_args(args)
    ovs = Ovs(opts.ovs_rundir, datapath_type=opts.datapath_type)
    headers = {}
    if args.os_token:
        headers["X-Auth-Token"] = args.os_token
    client = ServerClient(args.server, headers=headers)
    agent = L2Agent(opts.host, client, ovs, bridge_mappings=opts.bridge_mappings,
                    tunnel_types=opts.tunnel_types, local_ip=opts.local_ip,
                    report_interval=opts.report_interval, poll_interval=opts.poll_interval,
                    l2_population=opts.l2_population, arp_responder=opts.arp_responder)
    monitor = None
    try:
        if args.once:
            result = agent.run_once()
            print(json.dumps(result.summary(), sort_keys=True))
            return 0
        monitor = OvsdbMonitor(Path(opts.ovs_rundir) / "db.sock", agent.wake.set).start()
        agent.run(monitor)
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
        if monitor is not None:
            monitor.stop()
        client.close()
    return 0
