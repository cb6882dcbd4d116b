"""OVSDB read in one transaction: bridges, ports and interfaces as plain values.

An agent's pass asks many questions of OVSDB (which ports are on br-int, their tags, ofports,
``external_ids``, errors); ``Ovs.state()`` sends :data:`STATE_QUERY` in one ``ovsdb-client
transact`` and :meth:`OvsState.parse` turns the answer into dictionaries by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

_SELECTS = (("Bridge", ["name", "ports"]),
            ("Port", ["_uuid", "name", "tag", "other_config", "interfaces"]),
            ("Interface", ["_uuid", "name", "ofport", "type", "external_ids", "error"]))
STATE_QUERY = json.dumps(["Open_vSwitch", *({"op": "select", "table": table, "where": [],
                                             "columns": columns}
                                            for table, columns in _SELECTS)])


def atom(value):
    """An OVSDB JSON value as Python: uuids as strings, sets as lists, maps as dicts."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, body = value
        if kind == "uuid":
            return body
        if kind == "set":
            return [atom(v) for v in body]
        if kind == "map":
            return {k: atom(v) for k, v in body}
    return value


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@dataclass
class OvsState:
    """Bridges, ports and interfaces as read in one OVSDB transaction (``Ovs.state``)."""

    bridges: dict[str, list[str]] = field(default_factory=dict)  # bridge -> its port names
    ports: dict[str, dict] = field(default_factory=dict)  # name -> tag, other_config, ifaces
    # name -> ofport, type, external_ids, error (why OVS could not open it, or None)
    interfaces: dict[str, dict] = field(default_factory=dict)

    def ports_of(self, bridge: str) -> list[str]:
        """Port names of ``bridge`` without the bridge's own internal port (as list-ports)."""
        return sorted(p for p in self.bridges.get(bridge, []) if p != bridge)

    def ofport(self, iface: str) -> int:
        value = self.interfaces.get(iface, {}).get("ofport")
        return value if isinstance(value, int) else -1

    @classmethod
    def parse(cls, answer: str) -> OvsState:
        """The state from ``ovsdb-client transact``'s answer to :data:`STATE_QUERY`."""
        bridges, ports, ifaces = (r.get("rows", []) for r in json.loads(answer))
        iface_names = {atom(r["_uuid"]): r["name"] for r in ifaces}
        port_names = {atom(r["_uuid"]): r["name"] for r in ports}
        state = cls()
        for r in bridges:
            state.bridges[r["name"]] = sorted(port_names.get(u, "?")
                                              for u in _as_list(atom(r["ports"])))
        for r in ports:
            tag = atom(r["tag"])
            state.ports[r["name"]] = {
                "tag": tag if isinstance(tag, int) else None,
                "other_config": atom(r["other_config"]) or {},
                "interfaces": [iface_names.get(u, "?") for u in _as_list(atom(r["interfaces"]))]}
        for r in ifaces:
            ofport, error = atom(r["ofport"]), atom(r.get("error", []))
            state.interfaces[r["name"]] = {
                "ofport": ofport if isinstance(ofport, int) else -1, "type": r["type"],
                "external_ids": atom(r["external_ids"]) or {},
                "error": error if isinstance(error, str) else None}
        return state
