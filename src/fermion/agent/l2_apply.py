"""The L2 agent's applier: converge one host's Open vSwitch to the compiled model.

Thin: what to do is decided by the pure modules (``l2_plan``: bridges, tunnels, wiring, local
VLANs, tags; ``l2_flows``: the flows); this is the only L2 module that talks to OVS, through
:class:`fermion.linux.ovs.Ovs` verbs. One :meth:`L2Applier.reconcile` pass:

1. read OVSDB once (bridges, ports, interfaces in one ``ovsdb-client transact``);
2. add the bridges, patch ports and tunnel ports the plan lacks, remove stale tunnel ports
   (then read OVSDB again for the new ofports);
3. write the ports' tags (local VLAN and ``other_config:net_uuid``, or the dead VLAN 4095)
   in one OVSDB transaction without waiting for ovs-vswitchd;
4. flows: per bridge, the desired flows are compared with the bridge's and only the
   difference is sent, in one ``ovs-ofctl --bundle`` transaction. Nothing is flushed; flows
   with other cookies and learned flows are left alone. The bridge's flows are what the
   last pass applied, kept in memory, re-read with ``dump-flows`` on the first pass, every
   ``audit_interval`` seconds, and whenever br-int's canary flow (table 23) is missing.

Failures are contained per port: a port OVS cannot open, one without a free local VLAN,
one whose flows cannot be compiled, whose tag cannot be written or whose flows OVS rejects
fails alone (its traffic is dropped; a transaction for many ports that fails is retried
port by port to find it). The pass returns the wired ports (reported ACTIVE) and the
failing ones with their reasons (reported ERROR); ``failures`` remembers them between
passes (``fermion.agent.retry``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fermion.agent import cookies
from fermion.agent import flows as fl
from fermion.agent import l2_plan as plan
from fermion.agent.l2_flows import PortFlowCache, compile_all
from fermion.agent.l2_model import PhysBridge
from fermion.agent.loop import EXPECTED
from fermion.agent.pipeline import BR_INT, BR_TUN
from fermion.agent.retry import Failures
from fermion.linux.ovs import Ovs, OvsState

LOG = logging.getLogger(__name__)

AUDIT_INTERVAL = 60.0  # seconds between full flow dumps (the cache is checked in between)


@dataclass
class ApplyResult:
    wired: dict[str, plan.OvsPort] = field(default_factory=dict)  # port id -> OVS port
    errors: dict[str, str] = field(default_factory=dict)  # failing port id -> reason
    local_vlans: dict[str, int] = field(default_factory=dict)
    flows_added: dict[str, int] = field(default_factory=dict)
    flows_deleted: dict[str, int] = field(default_factory=dict)
    ovs_changes: int = 0  # OVSDB writes (bridges, patch/tunnel ports, tags)

    @property
    def changed(self) -> bool:
        return bool(self.ovs_changes or sum(self.flows_added.values())
                    or sum(self.flows_deleted.values()))

    def summary(self) -> dict:
        return {"wired": sorted(self.wired), "errors": dict(sorted(self.errors.items())),
                "local_vlans": self.local_vlans, "flows_added": self.flows_added,
                "flows_deleted": self.flows_deleted, "ovs_changes": self.ovs_changes}


def int_ports(state: OvsState) -> dict[str, plan.OvsPort]:
    """OVS ports on br-int (besides the bridge's own and patch ports), by name."""
    out = {}
    for name in state.ports_of(BR_INT):
        iface = state.interfaces.get(name, {})
        if iface.get("type") == "patch":
            continue
        port = state.ports.get(name, {})
        out[name] = plan.OvsPort(name, state.ofport(name),
                                 (iface.get("external_ids") or {}).get("iface-id"),
                                 port.get("tag"), (port.get("other_config") or {}).get("net_uuid"),
                                 iface.get("error"))
    return out


class L2Applier:
    def __init__(self, ovs: Ovs, cfg: plan.L2Config, *, audit_interval: float = AUDIT_INTERVAL):
        self.ovs = ovs
        self.cfg = cfg
        self.audit_interval = audit_interval
        self._known: dict[str, dict[tuple, fl.Flow]] = {}  # bridge -> flow key -> flow
        self._compiled = PortFlowCache()
        self._audited = 0.0
        self.failures = Failures("port", expected=EXPECTED)

    # ------------------------------------------------------------------ the pass
    def reconcile(self, snapshot: Mapping) -> ApplyResult:
        result = ApplyResult()
        state = self.ovs.state()
        bridges = plan.bridge_plan(self.cfg, snapshot, state.bridges)
        if bridges.changes:
            self.apply_bridges(bridges)
            result.ovs_changes += bridges.changes
            state = self.ovs.state()  # the new ofports
            self.forget_flows()  # a new bridge may be a restarted OVS: trust no cache
        ports = plan.port_plan(self.cfg, snapshot, int_ports(state))
        failed: dict[str, Exception | str] = dict(ports.failed)
        failed.update(self.apply_tags(ports))
        result.ovs_changes += len(ports.tags)
        result.local_vlans = ports.local_vlans
        ports = plan.without(ports, failed)

        phys = [PhysBridge(physnet, bridge, state.ofport(plan.phys_patch(bridge).port_a),
                           state.ofport(plan.phys_patch(bridge).port_b))
                for physnet, bridge in sorted(self.cfg.bridge_mappings.items())]
        tunnelling = bool(self.cfg.tunnel_types)
        model = plan.host_model(
            self.cfg, snapshot, ports, phys=phys,
            tunnel_ofports={t.remote_ip: state.ofport(t.name) for t in bridges.tunnels
                            if state.ofport(t.name) > 0},
            patch_tun=state.ofport(plan.PATCH_TUN) if tunnelling else None,
            patch_int=state.ofport(plan.PATCH_INT) if tunnelling else None)
        self._check_flow_cache()
        model, compile_failed = plan.compile_ports(model, self._compiled)
        failed.update(compile_failed)
        owners = plan.owners(model)
        for bridge, desired in compile_all(model, self._compiled).items():
            added, deleted, rejected = self.apply_flows(bridge, desired, owners)
            result.flows_added[bridge] = added
            result.flows_deleted[bridge] = deleted
            failed.update(rejected)

        result.wired = {pid: p for pid, p in ports.wired.items() if pid not in failed}
        self.failures.keep_only(failed)
        for pid, error in sorted(failed.items(), key=lambda kv: kv[0]):
            result.errors[pid] = self.failures.failed(pid, error).reason
        for pid in result.wired:
            self.failures.succeeded(pid)
        return result

    # ------------------------------------------------------------------ OVSDB
    def apply_bridges(self, bridges: plan.BridgePlan) -> None:
        for name in bridges.add_bridges:
            self.ovs.add_bridge(name, fail_mode="secure")
        for p in bridges.add_patches:
            self.ovs.add_patch_pair(p.bridge_a, p.port_a, p.bridge_b, p.port_b)
        for name in bridges.del_tunnels:
            self.ovs.del_port(name, bridge=BR_TUN)
        for t in bridges.add_tunnels:
            self.ovs.add_tunnel_port(BR_TUN, t.name, t.remote_ip, type=t.type,
                                     local_ip=self.cfg.local_ip,
                                     options={"df_default": "true"})

    def apply_tags(self, ports: plan.PortPlan) -> dict[str, Exception]:
        """Write the tags in one transaction; if it fails, port by port: returns the wired
        ports whose tag could not be written (they fail: dropped, see ``PortPlan``)."""
        if not ports.tags:
            return {}
        try:
            self.ovs.set_port_tags(ports.tags)
            return {}
        except EXPECTED as exc:
            LOG.warning("tagging %d ports failed (%s): port by port", len(ports.tags), exc)
        by_name = {p.name: pid for pid, p in ports.wired.items()}
        failed = {}
        for name, tag in sorted(ports.tags.items()):
            try:
                self.ovs.set_port_tags({name: tag})
            except EXPECTED as exc:
                if name in by_name:
                    failed[by_name[name]] = exc
                else:  # a dead port: dropped by its in_port anyway
                    LOG.error("OVS port %s: cannot set dead VLAN: %s", name, exc)
        return failed

    # ------------------------------------------------------------------ flows
    def forget_flows(self) -> None:
        """Next pass dumps every bridge's flows instead of trusting what we last applied."""
        self._known.clear()

    def _check_flow_cache(self) -> None:
        """The cache of applied flows is trusted between audits (``audit_interval``) as long
        as br-int's canary flow (table 23) is there: OVS restarted or flows flushed by hand
        lose it, and the next diff is against a fresh dump."""
        if not self._known:
            return
        if time.monotonic() - self._audited >= self.audit_interval:
            self.forget_flows()
            return
        canary = fl.parse_dump(BR_INT, self.ovs.dump_flows(BR_INT, "table=23"))
        if not any(f.cookie == cookies.BASE for f in canary):
            LOG.warning("br-int lost its canary flow (OVS restarted?): full resync of flows")
            self.forget_flows()

    def actual_flows(self, bridge: str) -> list[fl.Flow]:
        return fl.parse_dump(bridge, self.ovs.dump_flows(bridge))

    def apply_flows(self, bridge: str, desired: Sequence[fl.Flow],
                    owners: Mapping[int, list[str]] | None = None
                    ) -> tuple[int, int, dict[str, Exception]]:
        """Send the difference between ``desired`` and the bridge's flows as one bundle.

        The bridge's flows are those we last applied (kept in memory) or, after
        :meth:`forget_flows`, a fresh ``dump-flows``. When OVS rejects the bundle, it is sent
        again split by owner (``owners``: port cookie -> port ids): the ports whose part is
        rejected are returned with the error; a rejected part owned by no port raises."""
        known = self._known.get(bridge)
        if known is None:
            known = {f.key: f for f in self.actual_flows(bridge)}
            if not self._known:
                self._audited = time.monotonic()
        to_add, to_delete = fl.diff(desired, known)
        rejected: dict[str, Exception] = {}
        if to_add or to_delete:
            try:
                self._bundle(bridge, to_add, to_delete)
            except EXPECTED as exc:
                self._known.pop(bridge, None)  # rolled back (and maybe split): dump next time
                if not owners:
                    raise
                LOG.warning("%s: flow bundle rejected (%s): sending it port by port", bridge,
                            exc)
                rejected = self._bundle_by_owner(bridge, to_add, to_delete, owners)
                return len(to_add), len(to_delete), rejected
            for f in to_delete:
                known.pop(f.key, None)
            for f in to_add:
                known[f.key] = f
        self._known[bridge] = known
        return len(to_add), len(to_delete), rejected

    def _bundle(self, bridge: str, to_add: Sequence[fl.Flow],
                to_delete: Sequence[fl.Flow]) -> None:
        lines = [f"delete_strict {f.render_delete()}" for f in to_delete]
        lines += [f"add {f.render()}" for f in to_add]
        self.ovs.apply_flow_bundle(bridge, lines)
        LOG.info("%s: %d flows added/replaced, %d deleted", bridge, len(to_add), len(to_delete))
        LOG.debug("%s bundle:\n%s", bridge, "\n".join(lines))

    def _bundle_by_owner(self, bridge: str, to_add: Sequence[fl.Flow],
                         to_delete: Sequence[fl.Flow], owners: Mapping[int, list[str]]
                         ) -> dict[str, Exception]:
        """Flows owned by no port first (their failure raises), then one bundle per port."""
        groups: dict[int | None, tuple[list[fl.Flow], list[fl.Flow]]] = {}
        for flows, i in ((to_add, 0), (to_delete, 1)):
            for f in flows:
                key = f.cookie if f.cookie in owners else None
                groups.setdefault(key, ([], []))[i].append(f)
        if None in groups:
            self._bundle(bridge, *groups.pop(None))
        rejected = {}
        for cookie, (adds, deletes) in sorted(groups.items()):
            try:
                self._bundle(bridge, adds, deletes)
            except EXPECTED as exc:
                rejected.update(dict.fromkeys(owners[cookie], exc))
        return rejected
