"""iptables rule sets as values: the agent's own chains, parsing ``iptables-save``, the diff.

Pure: nothing here runs a command. ``fermion.linux.iptables`` reads ``iptables-save`` of a
namespace, asks :func:`restore_input` what to change, and feeds the answer to
``iptables-restore --noflush`` (one atomic commit per table).

Ownership: an agent owns the chains whose names start with its wrap prefix (the L3 agent's
is ``neutron-l3-agent-``, as in Neutron, so an operator recognises ``neutron-l3-agent-snat``
or ``neutron-l3-agent-float-snat``), the unwrapped chains it declares
(``neutron-postrouting-bottom``) and the jumps from built-in chains to those chains. Nothing
else in a namespace is touched.

Idempotence (the "duplicates trap" of ``iptables-restore --noflush``): re-declaring a user
chain flushes it, but a ``-A PREROUTING -j ours`` line appends a second jump. So the diff
compares what ``iptables-save`` shows with what is wanted, rewrites only the chains whose
rules differ, and fixes the jumps of a built-in chain only when ours there differ (deleting
every jump of ours there, duplicates included, then adding them once). An unchanged rule set
gives empty input: nothing is applied at all.

Rules are written exactly as ``iptables-save`` prints them (``-p tcp -m tcp --dport 80``,
``/32`` on host addresses, ``--set-xmark V/M``), so the diff of a correct namespace is empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

TABLES = ("raw", "mangle", "nat", "filter")
BUILTIN_CHAINS = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}
MAX_CHAIN_NAME = 28  # iptables' limit (XT_EXTENSION_MAXNAMELEN - 1)


@dataclass(frozen=True)
class Jump:
    """``-j target`` from a built-in chain; at the top (``-I chain 1``) or the bottom (``-A``)."""

    table: str
    builtin: str
    target: str
    top: bool = True


@dataclass
class RuleSet:
    """The chains one owner wants in one namespace: ``chains[(table, chain)]`` = rule specs
    in order (each as ``iptables-save`` prints it after ``-A chain``), plus the jumps to them.

    ``wrap`` is the owner's chain prefix; ``extra_owned`` names unwrapped chains it owns.
    """

    wrap: str
    extra_owned: frozenset[str] = frozenset()
    chains: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    jumps: list[Jump] = field(default_factory=list)

    def chain(self, table: str, name: str) -> str:
        """Declare our chain ``wrap + name`` in ``table`` (no-op if declared); its full name."""
        full = name if name in self.extra_owned else self.wrap + name
        if len(full) > MAX_CHAIN_NAME:
            raise ValueError(f"chain name {full!r} is longer than {MAX_CHAIN_NAME} characters")
        self.chains.setdefault((table, full), [])
        return full

    def add(self, table: str, name: str, spec: str) -> None:
        """Append ``spec`` to our chain ``name`` (declared on first use)."""
        self.chains[(table, self.chain(table, name))].append(spec)

    def jump(self, table: str, builtin: str, name: str, *, top: bool = True) -> None:
        self.jumps.append(Jump(table, builtin, self.chain(table, name), top))

    def owns(self, chain: str) -> bool:
        return chain.startswith(self.wrap) or chain in self.extra_owned

    def rules(self, table: str, name: str) -> list[str]:
        """The specs of our chain ``name`` (short or full name); [] if undeclared."""
        full = name if name.startswith(self.wrap) or name in self.extra_owned \
            else self.wrap + name
        return list(self.chains.get((table, full), []))


# ------------------------------------------------------------------------- iptables-save


@dataclass
class SavedTable:
    chains: dict[str, str] = field(default_factory=dict)  # name -> policy ("-" for user chains)
    rules: dict[str, list[str]] = field(default_factory=dict)  # chain -> specs in order


def parse_save(text: str) -> dict[str, SavedTable]:
    """``iptables-save`` output as ``{table: SavedTable}`` (comments and counters dropped)."""
    tables: dict[str, SavedTable] = {}
    current: SavedTable | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:], SavedTable())
        elif line == "COMMIT":
            current = None
        elif current is None:
            continue
        elif line.startswith(":"):
            name, _, rest = line[1:].partition(" ")
            current.chains[name] = rest.split(" ", 1)[0] if rest else "-"
            current.rules.setdefault(name, [])
        elif line.startswith("-A "):
            chain, _, spec = line[3:].partition(" ")
            current.rules.setdefault(chain, []).append(spec)
    return tables


def _jump_target(spec: str) -> str | None:
    """The target of a plain ``-j X`` rule (how we jump from built-in chains), else None."""
    parts = spec.split()
    if len(parts) == 2 and parts[0] == "-j":
        return parts[1]
    return None


# -------------------------------------------------------------------------------- diff


@dataclass
class Plan:
    """What :func:`restore_input` will change, for logs and tests."""

    rewritten: list[tuple[str, str]] = field(default_factory=list)  # chains (re)written
    removed: list[tuple[str, str]] = field(default_factory=list)  # our chains deleted
    jumps_fixed: list[tuple[str, str]] = field(default_factory=list)  # built-in chains fixed

    def __bool__(self) -> bool:
        return bool(self.rewritten or self.removed or self.jumps_fixed)


def diff(desired: RuleSet, saved: dict[str, SavedTable]) -> tuple[Plan, str]:
    """The plan and the ``iptables-restore --noflush`` input that make ``saved`` hold exactly
    ``desired`` for the chains ``desired`` owns; the input is "" when nothing differs."""
    plan = Plan()
    sections: list[str] = []
    for table in TABLES:
        lines = _table_lines(table, desired, saved.get(table, SavedTable()), plan)
        if lines:
            sections.append("\n".join([f"*{table}", *lines, "COMMIT"]))
    return plan, ("\n".join(sections) + "\n") if sections else ""


def _table_lines(table: str, desired: RuleSet, current: SavedTable, plan: Plan) -> list[str]:
    wanted = {chain: rules for (t, chain), rules in desired.chains.items() if t == table}
    ours_now = {chain for chain in current.chains if desired.owns(chain)}
    declare, body, tail = [], [], []
    for chain, rules in wanted.items():
        if chain in ours_now and current.rules.get(chain, []) == rules:
            continue
        declare.append(f":{chain} - [0:0]")  # declares, or flushes when it exists
        body += [f"-A {chain} {spec}" for spec in rules]
        plan.rewritten.append((table, chain))
    stale = sorted(ours_now - set(wanted))
    for chain in BUILTIN_CHAINS.get(table, ()):
        jumps = [j for j in desired.jumps if j.table == table and j.builtin == chain]
        have = [t for t in map(_jump_target, current.rules.get(chain, [])) if t and desired.owns(t)]
        want = [j.target for j in jumps if j.top] + [j.target for j in jumps if not j.top]
        if have == want:
            continue
        body += [f"-D {chain} -j {target}" for target in have]
        body += [f"-I {chain} 1 -j {j.target}" for j in reversed(jumps) if j.top]
        body += [f"-A {chain} -j {j.target}" for j in jumps if not j.top]
        plan.jumps_fixed.append((table, chain))
    for chain in stale:  # other chains of ours may still jump to it: flush them all first
        if current.rules.get(chain):
            declare.append(f":{chain} - [0:0]")
        tail.append(f"-X {chain}")
        plan.removed.append((table, chain))
    return declare + body + tail


def empty(wrap: str, extra_owned: Iterable[str] = ()) -> RuleSet:
    """A rule set owning nothing but the names: applying it removes all of the owner's chains."""
    return RuleSet(wrap=wrap, extra_owned=frozenset(extra_owned))
