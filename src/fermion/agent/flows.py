"""Flows as values: canonical ``ovs-ofctl`` text both ways, and desired-vs-actual diff.

A :class:`Flow` is identified on its bridge by (table, priority, match), as OpenFlow does;
cookie and actions are its content. ``render()`` gives the ``ovs-ofctl add-flow`` line;
``parse_dump_line()`` reads a ``ovs-ofctl dump-flows`` line (counters and ages ignored) into
the same canonical form, so the two can be compared with ``==``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fermion.agent import cookies, pipeline
from fermion.agent.actions import DROP, Action, parse_action

# Protocol shorthands: match keys without a value.
PROTOCOLS = ("ip", "ipv6", "icmp", "icmp6", "tcp", "tcp6", "udp", "udp6", "sctp", "sctp6",
             "arp", "rarp")
# Canonical order of the fields we write (others follow, sorted).
FIELD_ORDER = (
    "conj_id", "in_port", "reg5", "reg6", "dl_vlan", "vlan_tci", "tun_id", "dl_src", "dl_dst",
    "dl_type", "nw_proto", "arp_op", "arp_spa", "arp_tpa", "nw_src", "nw_dst",
    "ipv6_src", "ipv6_dst", "icmp_type", "icmp_code", "nd_target", "tp_src", "tp_dst",
    "ct_state", "ct_zone", "ct_mark",
)
_HEX_FIELDS = {"tun_id", "metadata", "ct_mark"} | {f"reg{i}" for i in range(16)}
_DEC_FIELDS = {"conj_id", "in_port", "dl_vlan", "nw_proto", "arp_op", "icmp_type", "icmp_code",
               "tp_src", "tp_dst", "ct_zone"}
_STATS = {"duration", "n_packets", "n_bytes", "idle_age", "hard_age", "importance"}
_IGNORED = {"idle_timeout", "hard_timeout", "send_flow_rem", "reset_counts", "out_port",
            "out_group", "check_overlap", "no_packet_counts", "no_byte_counts"}
_SHORTHAND_OF = {("ip", "1"): "icmp", ("ip", "6"): "tcp", ("ip", "17"): "udp",
                 ("ip", "132"): "sctp", ("ipv6", "58"): "icmp6", ("ipv6", "6"): "tcp6",
                 ("ipv6", "17"): "udp6", ("ipv6", "132"): "sctp6"}

Match = tuple[tuple[str, str | None], ...]


def _int(text: str) -> int:
    return int(text, 0)


_CT_FLAGS = ("new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat")


def _canon_ct_state(value: str) -> str:
    flags = {name: sign for sign, name in re.findall(r"([+-])([a-z]+)", value)}
    return "".join(f"{flags[f]}{f}" for f in _CT_FLAGS if f in flags)


def _canon_value(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip('"')
    if key == "ct_state":
        return _canon_ct_state(value)
    if "/" in value or not re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)", value):
        return value.lower() if re.fullmatch(r"[0-9a-fA-F:]+(/[0-9a-fA-F:]+)?", value) else value
    if key in _HEX_FIELDS:
        return hex(_int(value))
    if key in _DEC_FIELDS:
        return str(_int(value))
    return value.lower()


def _order(key: str) -> tuple[int, int, str]:
    if key in PROTOCOLS:
        return (0, 0, key)
    if key in FIELD_ORDER:
        return (1, FIELD_ORDER.index(key), key)
    return (2, 0, key)


def canon_match(match: Mapping[str, object] | Iterable[tuple[str, object]]) -> Match:
    items = match.items() if isinstance(match, Mapping) else match
    out = {}
    for key, value in items:
        out[key] = _canon_value(key, None if value is None else str(value))
    for family in ("ip", "ipv6"):  # OVS prints ip,nw_proto=6 as tcp (ipv6: tcp6), etc.
        name = _SHORTHAND_OF.get((family, out.get("nw_proto")))
        if family in out and name:
            del out[family], out["nw_proto"]
            out[name] = None
    return tuple(sorted(out.items(), key=lambda kv: _order(kv[0])))


def canon_action(action: str) -> str:
    """The canonical text of one action as ``ovs-ofctl`` prints or takes it."""
    return str(parse_action(action))


def split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (``learn(...)``, ``resubmit(,60)``)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return [p for p in parts if p]


@dataclass(frozen=True)
class Flow:
    bridge: str
    table: int
    priority: int
    match: Match = ()
    actions: tuple[Action | str, ...] = ()  # typed actions (plain text if not modelled)
    cookie: int = 0
    extra: tuple[str, ...] = field(default=(), compare=False)  # e.g. comments for docs

    @property
    def key(self) -> tuple:
        return (self.bridge, self.table, self.priority, self.match)

    def get(self, key: str, default=None):
        return dict(self.match).get(key, default)

    def render_match(self) -> str:
        parts = [f"table={self.table}", f"priority={self.priority}"]
        for key, value in self.match:
            parts.append(key if value is None else f"{key}={value}")
        return ",".join(parts)

    def render(self) -> str:
        """The ``ovs-ofctl add-flow`` argument."""
        head = self.render_match().split(",", 2)
        body = ",".join(head[:2] + [f"cookie=0x{self.cookie:x}"] + head[2:])
        return f"{body},actions={','.join(self.actions) or 'drop'}"

    def render_delete(self) -> str:
        """The ``ovs-ofctl --strict del-flows`` argument removing exactly this flow."""
        return self.render_match()

    def __str__(self) -> str:
        return f"{self.bridge}: {self.render()}"


def make(bridge: str, table: int, priority: int, match=None, actions=(), cookie: int = 0,
         ) -> Flow:
    """A flow of ours: every jump among ``actions`` (``resubmit``, ``ct(table=…)``) must be
    one the pipeline declares for ``table`` (:class:`~fermion.agent.pipeline.PipelineError`
    otherwise). Actions given as text are read into their typed values."""
    acts = tuple(a if isinstance(a, Action) else parse_action(a) for a in actions) or (DROP,)
    for action in acts:
        if getattr(action, "jumps_to", None) is not None:
            pipeline.check_jump(bridge, table, action.jumps_to)
    return Flow(bridge, table, priority, canon_match(match or {}), acts, cookie)


def dedupe(flows: Iterable[Flow]) -> list[Flow]:
    """One flow per key (table, priority, match): the first one given, in order."""
    seen: dict[tuple, Flow] = {}
    for f in flows:
        seen.setdefault(f.key, f)
    return list(seen.values())


def parse_dump_line(bridge: str, line: str) -> Flow | None:
    """One ``ovs-ofctl dump-flows`` line as a Flow; None for headers and blank lines."""
    line = line.strip()
    if not line or " actions=" not in line and not line.startswith("actions="):
        return None
    head, _, acts = line.rpartition("actions=")
    fields: dict[str, str | None] = {}
    for token in re.split(r"[,\s]+", head.strip().rstrip(",")):
        if not token:
            continue
        key, sep, value = token.partition("=")
        fields[key] = value if sep else None
    table = _int(fields.pop("table", None) or "0")
    priority = _int(fields.pop("priority", None) or "32768")
    cookie = _int(fields.pop("cookie", None) or "0")
    match = {k: v for k, v in fields.items() if k not in _STATS and k not in _IGNORED}
    actions = tuple(parse_action(a) for a in split_top(acts)) or (DROP,)
    return Flow(bridge, table, priority, canon_match(match), actions, cookie)


def parse_dump(bridge: str, text: str) -> list[Flow]:
    return [f for f in (parse_dump_line(bridge, ln) for ln in text.splitlines()) if f]


def diff(desired: Iterable[Flow], actual: Iterable[Flow] | Mapping[tuple, Flow]
         ) -> tuple[list[Flow], list[Flow]]:
    """(to_add, to_delete) turning ``actual`` into ``desired``.

    ``actual`` may be given already keyed (``{flow.key: flow}``).
    ``to_add`` holds missing flows and flows whose actions or cookie differ (``add-flow``
    replaces a flow with the same table, priority and match). ``to_delete`` holds the
    agent's flows (by cookie) that are not desired, to delete with ``--strict``; other
    owners' flows and learned flows are never touched.
    """
    want = {}
    for f in desired:
        want[f.key] = f
    have = actual if isinstance(actual, Mapping) else {f.key: f for f in actual}  # by key
    to_add = [f for k, f in want.items()
              if k not in have or (have[k].actions, have[k].cookie) != (f.actions, f.cookie)]
    to_delete = [f for k, f in have.items()
                 if k not in want and cookies.is_ours(f.cookie)
                 and not cookies.is_learned(f.cookie)]
    return to_add, to_delete
