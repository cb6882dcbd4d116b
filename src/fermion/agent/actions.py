"""OpenFlow actions as small typed values, each rendered once to its ``ovs-ofctl`` text.

An action is a ``str`` (its canonical ``ovs-ofctl`` text, made when the value is built)
carrying its fields as attributes, so flows compare and print as text while code that needs
the meaning — the walker, the pipeline check — reads the fields and never parses the text
back. ``jumps_to`` names the table an action continues in (``resubmit``, ``ct(table=…)``);
:func:`fermion.agent.flows.make` refuses a jump the pipeline does not declare.

:func:`parse_action` turns an action from ``ovs-ofctl dump-flows`` into the same value
(OVS prints some actions differently from how they are written: ``set_field:0x5->reg5``
for a register load, a load into ``NXM_NX_TUN_ID`` for ``set_tunnel``); an action this
module does not model stays plain text.
"""

from __future__ import annotations

import re

ZONE = "NXM_NX_REG6[0..15]"  # conntrack zone: the local VLAN in reg6 (Neutron's REG_NET)


class Action(str):
    """Base of the typed actions: the text is the rendering, attributes the meaning."""

    jumps_to: int | None = None

    def __new__(cls, text: str, **fields):
        self = super().__new__(cls, text)
        self.__dict__.update(fields)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class Resubmit(Action):
    def __new__(cls, table: int):
        return super().__new__(cls, f"resubmit(,{table})", table=table, jumps_to=table)


class Ct(Action):
    """``ct(commit)`` and/or ``ct(table=N)`` in the zone of the packet's network."""

    def __new__(cls, *, commit: bool = False, table: int | None = None, zone: str = ZONE):
        args = ["commit"] if commit else []
        if table is not None:
            args.append(f"table={table}")
        args.append(f"zone={zone}")
        return super().__new__(cls, f"ct({','.join(args)})", commit=commit, table=table,
                               zone=zone, jumps_to=table)


class CtClear(Action):
    def __new__(cls):
        return super().__new__(cls, "ct_clear")


class Output(Action):
    def __new__(cls, port: int):
        return super().__new__(cls, f"output:{port}", port=port)


class Port(Action):
    """A reserved output port: ``NORMAL``, ``IN_PORT`` (``LOCAL``, ``FLOOD``, ``ALL``)."""

    def __new__(cls, name: str):
        return super().__new__(cls, name.upper(), name=name.upper())


class Drop(Action):
    def __new__(cls):
        return super().__new__(cls, "drop")


class LoadReg(Action):
    def __new__(cls, reg: int, value: int):
        return super().__new__(cls, f"load:{value:#x}->NXM_NX_REG{reg}[]", reg=reg, value=value)


class Load(Action):
    """A load into any other field (ARP responder rewrites)."""

    def __new__(cls, value: int, field: str):
        return super().__new__(cls, f"load:{value:#x}->{field}", value=value, field=field)


class Move(Action):
    def __new__(cls, src: str, dst: str):
        return super().__new__(cls, f"move:{src}->{dst}", src=src, dst=dst)


class SetVlan(Action):
    def __new__(cls, vid: int):
        return super().__new__(cls, f"mod_vlan_vid:{vid}", vid=vid)


class StripVlan(Action):
    def __new__(cls):
        return super().__new__(cls, "strip_vlan")


class SetTunnel(Action):
    def __new__(cls, tun_id: int):
        return super().__new__(cls, f"set_tunnel:{tun_id:#x}", tun_id=tun_id)


class SetDlSrc(Action):
    def __new__(cls, mac: str):
        return super().__new__(cls, f"mod_dl_src:{mac.lower()}", mac=mac.lower())


class Conjunction(Action):
    """Dimension ``k`` of ``n`` of conjunctive match ``id`` (completed by ``conj_id=id``)."""

    def __new__(cls, id: int, k: int, n: int):
        return super().__new__(cls, f"conjunction({id},{k}/{n})", id=id, k=k, n=n)


class Learn(Action):
    def __new__(cls, spec: str):
        return super().__new__(cls, f"learn({spec})", spec=spec)


NORMAL, IN_PORT, DROP = Port("NORMAL"), Port("IN_PORT"), Drop()

_NUM = r"(0x[0-9a-fA-F]+|\d+)"
_PARSERS = (
    (re.compile(rf"^resubmit\(,{_NUM}\)$"), lambda m: Resubmit(int(m[1], 0))),
    (re.compile(rf"^output:{_NUM}$"), lambda m: Output(int(m[1], 0))),
    (re.compile(r"^(?:output:)?(normal|in_port|local|flood|all)$", re.I), lambda m: Port(m[1])),
    (re.compile(r"^drop$"), lambda m: DROP),
    (re.compile(rf"^(?:load:{_NUM}->NXM_NX_REG(\d+)\[\]|set_field:{_NUM}->reg(\d+))$"),
     lambda m: LoadReg(int(m[2] or m[4]), int(m[1] or m[3], 0))),
    (re.compile(rf"^(?:set_tunnel(?:64)?:{_NUM}|load:{_NUM}->NXM_NX_TUN_ID\[\]"
                rf"|set_field:{_NUM}->tun_id)$"),
     lambda m: SetTunnel(int(m[1] or m[2] or m[3], 0))),
    (re.compile(rf"^load:{_NUM}->(\S+)$"), lambda m: Load(int(m[1], 0), m[2])),
    (re.compile(r"^move:(\S+)->(\S+)$"), lambda m: Move(m[1], m[2])),
    (re.compile(rf"^mod_vlan_vid:{_NUM}$"), lambda m: SetVlan(int(m[1], 0))),
    (re.compile(r"^strip_vlan$"), lambda m: StripVlan()),
    (re.compile(r"^mod_dl_src:(\S+)$"), lambda m: SetDlSrc(m[1])),
    (re.compile(r"^ct_clear$"), lambda m: CtClear()),
    (re.compile(rf"^conjunction\({_NUM},\s*(\d+)/(\d+)\)$"),
     lambda m: Conjunction(int(m[1], 0), int(m[2]), int(m[3]))),
    (re.compile(r"^learn\((.*)\)$"), lambda m: Learn(m[1])),
)
_CT = re.compile(r"^ct\((.*)\)$")


def _parse_ct(inner: str) -> Action | None:
    args = [a.strip() for a in inner.split(",") if a.strip()]
    fields: dict = {}
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "commit" and not value:
            fields["commit"] = True
        elif key == "table" and value.isdigit():
            fields["table"] = int(value)
        elif key == "zone" and value:
            fields["zone"] = value
        else:
            return None  # nat, exec, alg...: not ours, keep the text
    return Ct(**fields)


def parse_action(text: str) -> str:
    """The typed value of one action as ``ovs-ofctl`` prints it (plain text if unknown)."""
    text = text.strip()
    for pattern, build in _PARSERS:
        if m := pattern.match(text):
            return build(m)
    if m := _CT.match(text):
        return _parse_ct(m[1]) or text
    return text
