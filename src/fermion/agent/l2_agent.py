"""``fermion agent l2 --host H``: the Open vSwitch L2 agent's loop.

Level-triggered, as docs/change-feed.md describes: report state (heartbeat), take the host's
snapshot, converge OVS to it (:class:`~fermion.agent.l2_apply.L2Applier`), report port
status, then long-poll the change feed; any change (or a 410 resync) means a new snapshot.
Plugging happens locally (a hypervisor adds an OVS port), not through the server, so every
wake-up of the loop (at most ``poll_interval`` seconds apart) also re-runs the local pass
against the last snapshot; that pass is a few OVSDB reads and one ``dump-flows`` per bridge
and writes nothing when nothing differs.

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

import httpx

from fermion.agent.l2_apply import ApplyResult, L2Applier
from fermion.agent.server_client import ResyncRequired, ServerClient
from fermion.linux.cmd import CommandError
from fermion.linux.ovs import Ovs, detect_datapath_type

LOG = logging.getLogger(__name__)

AGENT_TYPE = "Open vSwitch agent"
BINARY = "fermion-agent-l2"


class L2Agent:
    def __init__(self, host: str, client: ServerClient, ovs: Ovs, *,
                 bridge_mappings: Mapping[str, str] | None = None,
                 tunnel_types: Sequence[str] = (), local_ip: str | None = None,
                 report_interval: float = 30.0, poll_interval: float = 2.0):
        self.host = host
        self.client = client
        self.ovs = ovs
        self.bridge_mappings = dict(bridge_mappings or {})
        self.tunnel_types = list(tunnel_types)
        self.local_ip = local_ip
        self.report_interval = report_interval
        self.poll_interval = poll_interval
        self.applier = L2Applier(ovs, host=host, bridge_mappings=self.bridge_mappings,
                                 tunnel_types=self.tunnel_types, local_ip=local_ip)
        self.snapshot: dict | None = None
        self.revision = 0
        self.reported: dict[str, str] = {}  # port id -> status we last reported
        self._started = True
        self._last_report = 0.0
        self.stop_event = threading.Event()

    # ---------------------------------------------------------------- server side
    def configurations(self) -> dict:
        conf: dict = {"bridge_mappings": self.bridge_mappings, "integration_bridge": "br-int",
                      "datapath_type": self.ovs.datapath_type,
                      "tunnel_types": self.tunnel_types, "l2_population": False,
                      "arp_responder_enabled": False}
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
        self.snapshot = self.client.snapshot(self.host)
        self.revision = int(self.snapshot["revision"])

    # ---------------------------------------------------------------- one pass
    def converge(self) -> ApplyResult:
        assert self.snapshot is not None
        result = self.applier.reconcile(self.snapshot)
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
    def run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                self.run_once()
                backoff = 1.0
                self._watch()
            except (httpx.HTTPError, OSError, CommandError) as exc:
                LOG.warning("pass failed (%s); full resync in %.0fs", exc, backoff)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _watch(self) -> None:
        while not self.stop_event.is_set():
            if time.monotonic() - self._last_report >= self.report_interval:
                self.report_state()
            try:
                feed = self.client.changes(self.revision, timeout=self.poll_interval)
            except ResyncRequired:
                LOG.info("change feed asks for a resync")
                self.resync()
                self.converge()
                continue
            if feed.changes:
                self.resync()
            else:
                self.revision = feed.revision
            self.converge()

    def stop(self) -> None:
        self.stop_event.set()


def parse_mappings(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            physnet, sep, bridge = item.partition(":")
            if not sep or not physnet or not bridge:
                raise ValueError(f"bad bridge mapping {item!r} (expected physnet:bridge)")
            out[physnet] = bridge
    return out


def main(args) -> int:
    """Entry point for ``fermion agent l2`` (args from the CLI parser)."""
    import json

    ovs = Ovs(args.ovs_rundir, datapath_type=args.datapath_type or detect_datapath_type())
    headers = {}
    if args.os_token:
        headers["X-Auth-Token"] = args.os_token
    client = ServerClient(args.server, headers=headers)
    agent = L2Agent(args.host, client, ovs, bridge_mappings=parse_mappings(args.bridge_mappings),
                    tunnel_types=[t for v in args.tunnel_types for t in v.split(",") if t],
                    local_ip=args.local_ip, report_interval=args.report_interval,
                    poll_interval=args.poll_interval)
    try:
        if args.once:
            result = agent.run_once()
            print(json.dumps(result.summary(), sort_keys=True))
            return 0
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0
