"""Reading topology files: YAML in, a validated `Topology` out, or an error naming the line.

Every problem is reported before anything is created, as ``FILE:LINE: key.path: what is
wrong`` (the line of the offending key), e.g.::

    my.yaml:14: hosts.compute3.interfaces.enp0s8.address: 198.18.0.300 is not an IPv4 address

`load(name_or_path)` takes a shipped topology's name (``lab10``, ``lab8``) or a file path;
`loads(text)` a string. Cross-references (interfaces to networks, instances to hosts and
networks, routers to subnets) and addresses (inside their network, unique) are checked here;
what depends on this machine (free management range, link names) is the builder's
preflight.
"""

from __future__ import annotations

import ipaddress
import re
from importlib import resources
from pathlib import Path

import yaml

from fermion.lab import topology as t
from fermion.lab.topology_check import check

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
IFNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")


class TopologyError(ValueError):
    """A topology file that cannot be used; the message names the file, line and key."""


class _Map(dict):
    line = 0
    lines: dict


class _Seq(list):
    line = 0
    lines: list


class _Loader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key and sequence item."""

    def construct_mapping(self, node, deep=False):
        out = _Map(super().construct_mapping(node, deep=True))
        out.line = node.start_mark.line + 1
        out.lines = {self.construct_object(k, deep=True): k.start_mark.line + 1
                     for k, _ in node.value}
        return out

    def construct_sequence(self, node, deep=False):
        out = _Seq(super().construct_sequence(node, deep=True))
        out.line = node.start_mark.line + 1
        out.lines = [item.start_mark.line + 1 for item in node.value]
        return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                        _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
                        _Loader.construct_sequence)


class Ctx:
    """Where a value sits: file, key path and line, for error messages."""

    def __init__(self, file: str, path: str = "", line: int = 1):
        self.file, self.path, self.line = file, path, line

    def at(self, container, key) -> Ctx:
        lines = getattr(container, "lines", None)
        if isinstance(lines, dict):
            line = lines.get(key, self.line)
        elif isinstance(lines, list) and isinstance(key, int) and key < len(lines):
            line = lines[key]
        else:
            line = self.line
        path = f"{self.path}[{key}]" if isinstance(key, int) else \
            (f"{self.path}.{key}" if self.path else str(key))
        return Ctx(self.file, path, line)

    def fail(self, message: str):
        where = f"{self.file}:{self.line}: " + (f"{self.path}: " if self.path else "")
        raise TopologyError(where + message)


def shipped() -> list[str]:
    """Names of the topologies that ship with Fermion."""
    folder = resources.files("fermion.lab") / "topologies"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str) -> t.Topology:
    """A shipped topology by name, or a topology file by path."""
    if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")):
        folder = resources.files("fermion.lab") / "topologies"
        candidate = folder / f"{name_or_path}.yaml"
        if not candidate.is_file():
            raise TopologyError(f"no topology {name_or_path!r}: the shipped ones are "
                                f"{', '.join(shipped())}; or give a file path")
        return loads(candidate.read_text(), f"{name_or_path}.yaml")
    path = Path(name_or_path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TopologyError(f"cannot read topology file {path}: {exc.strerror}") from None
    return loads(text, str(path))


def loads(text: str, file: str = "<topology>") -> t.Topology:
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise TopologyError(f"{file}:{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise TopologyError(f"{file}: not valid YAML: {exc}") from None
    ctx = Ctx(file)
    raw = _mapping(raw, ctx, required=("name", "networks", "hosts"),
                   optional=("description", "demo", "config"))
    name = _name(raw["name"], ctx.at(raw, "name"), longest=12)
    nctx, hctx = ctx.at(raw, "networks"), ctx.at(raw, "hosts")
    networks = tuple(_network(k, v, nctx.at(raw["networks"], k))
                     for k, v in _mapping(raw["networks"], nctx).items())
    hosts = tuple(_host(k, v, hctx.at(raw["hosts"], k), networks)
                  for k, v in _mapping(raw["hosts"], hctx).items())
    demo_raw = raw.get("demo") or _Map()
    from fermion.lab.topofile_demo import demo as parse_demo

    demo = parse_demo(demo_raw, ctx.at(raw, "demo"))
    config = _config(raw.get("config") or {}, ctx.at(raw, "config"))
    topo = t.Topology(name=name, hosts=hosts, networks=networks, demo=demo,
                      description=str(raw.get("description", "")), config=config, source=file)
    check(topo, lambda path, message: _locate(raw, ctx, path).fail(message))
    return topo


def revalidate(topo: t.Topology) -> None:
    """Check a derived topology (``--computes``/``--instances``) with the same rules."""
    def fail(path: str, message: str):
        raise TopologyError(f"{topo.source} (scaled): {path}: {message}")
    check(topo, fail)


def _locate(raw, ctx: Ctx, path: str) -> Ctx:
    """The context of a dotted key path in the raw file (as deep as the file has it)."""
    node, here = raw, ctx
    for part in path.split("."):
        key: object = int(part) if part.isdigit() and isinstance(node, list) else part
        if isinstance(node, dict) and key in node or \
                isinstance(node, list) and isinstance(key, int) and key < len(node):
            here, node = here.at(node, key), node[key]
        else:
            here = Ctx(here.file, f"{here.path}.{part}" if here.path else part, here.line)
            node = None
    return here


# --- pieces ----------------------------------------------------------------------------


def _mapping(value, ctx: Ctx, required=(), optional=()) -> dict:
    if not isinstance(value, dict):
        ctx.fail(f"expected a mapping, got {type(value).__name__} {value!r}")
    allowed = set(required) | set(optional)
    if allowed:
        for key in value:
            if key not in allowed:
                ctx.at(value, key).fail(f"unknown key; expected one of "
                                        f"{', '.join(sorted(allowed))}")
        for key in required:
            if key not in value:
                ctx.fail(f"missing key {key!r}")
    return value


def _name(value, ctx: Ctx, longest: int = 15) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value) or len(value) > longest:
        ctx.fail(f"{value!r} is not a valid name (lower-case letters, digits and '-', "
                 f"starting with a letter, at most {longest} characters)")
    return value


def _cidr(value, ctx: Ctx) -> str:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        ctx.fail(f"{value!r} is not a network address with prefix ({exc})")
    if net.version != 4:
        ctx.fail(f"{value} is not IPv4 (lab networks are IPv4)")
    return str(net)


def address_in(value, cidr: str | None, ctx: Ctx) -> str:
    """An interface address (prefix taken from `cidr`), checked to be a host of `cidr`."""
    text = str(value)
    try:
        ip = ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        ctx.fail(f"{text} is not an IPv4 address")
    if cidr is None:
        ctx.fail("its network has no cidr, so it cannot have an address")
    net = ipaddress.ip_network(cidr)
    if ip not in net or ip in (net.network_address, net.broadcast_address):
        ctx.fail(f"{ip} is not a host address of {cidr}")
    return t.with_prefix(str(ip), cidr)


def _network(name, raw, ctx: Ctx) -> t.LabNetwork:
    _name(name, ctx)
    raw = _mapping(raw, ctx, required=("kind",),
                   optional=("cidr", "this_machine", "bridge", "gateway"))
    kind = raw["kind"]
    if kind not in t.KINDS:
        ctx.at(raw, "kind").fail(f"{kind!r} is not one of {', '.join(t.KINDS)}")
    cidr = _cidr(raw["cidr"], ctx.at(raw, "cidr")) if "cidr" in raw else None
    if cidr is None and kind != "provider":
        ctx.fail(f"a {kind} network needs a cidr")
    for key, only in (("this_machine", "management"), ("bridge", "provider"),
                      ("gateway", "provider")):
        if key in raw and kind != only:
            ctx.at(raw, key).fail(f"only a {only} network has {key}")
    this_machine = address_in(raw["this_machine"], cidr, ctx.at(raw, "this_machine")) \
        if "this_machine" in raw else None
    if kind == "management" and this_machine is None:
        ctx.fail("the management network needs this_machine (this machine's address on it)")
    bridge = str(raw.get("bridge", "br-ex"))
    if not IFNAME_RE.match(bridge):
        ctx.at(raw, "bridge").fail(f"{bridge!r} is not a valid bridge name")
    gateway = None
    if "gateway" in raw:
        gctx = ctx.at(raw, "gateway")
        graw = _mapping(raw["gateway"], gctx, required=("host", "address"))
        gateway = t.Gateway(str(graw["host"]),
                            address_in(graw["address"], cidr, gctx.at(graw, "address")))
    return t.LabNetwork(name=name, kind=kind, cidr=cidr, this_machine=this_machine,
                        bridge=bridge, gateway=gateway)


def _host(name, raw, ctx: Ctx, networks: tuple[t.LabNetwork, ...]) -> t.Host:
    _name(name, ctx, longest=15)
    raw = _mapping(raw, ctx, required=("roles", "interfaces"))
    roles = raw["roles"]
    rctx = ctx.at(raw, "roles")
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not roles:
        rctx.fail("expected a list of roles")
    for role in roles:
        if role not in t.ROLES:
            rctx.fail(f"{role!r} is not one of {', '.join(t.ROLES)}")
    if "labhost" in roles and len(roles) > 1:
        rctx.fail("labhost is the outside world: it has no other role")
    by_name = {n.name: n for n in networks}
    interfaces = []
    ictx = ctx.at(raw, "interfaces")
    for ifname, iraw in _mapping(raw["interfaces"], ictx).items():
        c = ictx.at(raw["interfaces"], ifname)
        if not isinstance(ifname, str) or not IFNAME_RE.match(ifname) or ifname == "lo":
            c.fail(f"{ifname!r} is not a valid interface name (at most 15 characters)")
        iraw = _mapping(iraw, c, required=("network",), optional=("address",))
        net = by_name.get(iraw["network"])
        if net is None:
            c.at(iraw, "network").fail(f"no network {iraw['network']!r}; the topology has "
                                       f"{', '.join(by_name)}")
        address = address_in(iraw["address"], net.cidr, c.at(iraw, "address")) \
            if "address" in iraw else None
        interfaces.append(t.Interface(ifname, net.name, address))
    return t.Host(name=name, roles=tuple(dict.fromkeys(roles)), interfaces=tuple(interfaces))


def _config(raw, ctx: Ctx) -> dict:
    """``config: {file.ini: {section: {option: value}}}``, overrides on the sample files."""
    from fermion.lab.ini import SAMPLES

    out: dict = {}
    for file, sections in _mapping(raw, ctx).items():
        fctx = ctx.at(raw, file)
        if file not in SAMPLES:
            fctx.fail(f"unknown file; expected one of {', '.join(sorted(SAMPLES))}")
        out[file] = {}
        for section, options in _mapping(sections, fctx).items():
            sctx = fctx.at(sections, section)
            out[file][str(section)] = {str(k): _ini_value(v, sctx.at(options, k))
                                       for k, v in _mapping(options, sctx).items()}
    return out


def _ini_value(value, ctx: Ctx) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, (str, int, float)):
        return str(value)
    ctx.fail(f"expected a value, got {value!r}")
