"""The layers of Fermion, read from the source: which package may import which (issue 12).

Every module under ``src/fermion`` is parsed with ``ast``; every ``import`` and
``from ... import`` counts, wherever it stands (inside functions and ``if`` blocks too,
relative ones resolved). Three kinds of rule, all declared as data just below so that a
reader sees the architecture here:

- ``FORBIDDEN``: package A never imports package B (the arrows run one way);
- ``ONLY``: a package imports nothing of Fermion but these (``linux`` only itself);
- ``PURE``: modules that render desired state (flows, iptables rules, dnsmasq and haproxy
  files) import nothing that touches the system, and of Fermion only other pure modules;

and no cycle between packages. A failure names each offending import as
``module:line imports target``. ``KNOWN`` lists imports that break a rule today and are
tolerated with the reason; every entry names the issue that removes it.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# -- the architecture ----------------------------------------------------------------------
#
#   cli ─► api ─► plugin ─► db          model: the request model api and plugin share
#    │      └───────┴─► model            (Context, attribute maps, validators, ListQuery)
#    ├─► agent ─► linux                  config, exceptions, sql: the base; anyone may import
#    ├─► lab ───► linux                  them, they import nothing of Fermion
#    └─► compute_api ─► metadata ─► compute    another service (Nova's role): reaches
#                                              the Networking API over HTTP only
#
# Packages are fermion's top-level names (``fermion.plugin.ml2.types`` is in ``plugin``;
# a module such as ``fermion.config`` is a package of its own; ``fermion`` is the root).

SERVER = {"api", "plugin", "db", "model"}
HOST = {"agent", "lab", "linux"}
COMPUTE = {"compute", "metadata", "compute_api"}

FORBIDDEN: dict[str, tuple[set[str], str]] = {
    "agent": ({"api", "plugin", "db", "model"} | COMPUTE,
              "agents know the servers only over HTTP, so they run on other hosts unchanged"),
    "lab": ({"api", "plugin", "db", "model"} | COMPUTE,
            "the lab starts servers and agents as processes and talks to them over HTTP"),
    "api": (HOST | COMPUTE, "the server never touches the host it runs on"),
    "plugin": (HOST | COMPUTE | {"api"},
               "the plugin is below the HTTP layer; what both need is in model"),
    "db": (HOST | COMPUTE | {"api", "plugin", "model"},
           "the database layer is the bottom of the server"),
    "model": (HOST | COMPUTE | {"api", "plugin", "db"},
              "model is the neutral home api and plugin share: it sits below both"),
    "compute": (SERVER | HOST | {"exceptions", "metadata", "compute_api"},
                "the Compute API is another service: the Networking API only over HTTP"),
    "metadata": (SERVER | HOST | {"exceptions", "compute_api"},
                 "the metadata service reads the compute store, the network over HTTP"),
    "compute_api": (SERVER | HOST | {"exceptions"},
                    "the compute-api process: compute and metadata, nothing of the network"),
}
for _package in SERVER | HOST | COMPUTE | {"config", "exceptions", "sql", "sockets"}:
    # The entry point imports everything; nothing imports it.
    FORBIDDEN.setdefault(_package, (set(), ""))[0].add("cli")

ONLY: dict[str, tuple[set[str], str]] = {
    "linux": ({"linux"}, "thin verbs on the host"),
    "config": (set(), "the base: every layer reads its options from here"),
    "sql": (set(), "the base: database plumbing both stores share (SQLAlchemy only)"),
    "sockets": (set(), "the base: the HTTP services' listening sockets"),
    "exceptions": (set(), "the base: the errors every server layer raises"),
    "fermion": (set(), "the root package holds only the version"),
}

PURE: set[str] = {
    "fermion.agent.pipeline", "fermion.agent.cookies", "fermion.agent.flows",
    "fermion.agent.l2_model", "fermion.agent.l2_flows", "fermion.agent.sg_flows",
    "fermion.agent.walk", "fermion.agent.actions", "fermion.agent.firewall_flows",
    "fermion.agent.tun_flows",
    "fermion.agent.dhcp_model", "fermion.agent.dnsmasq",
    "fermion.agent.l3_model", "fermion.agent.l3_rules", "fermion.agent.iptables_rules",
    "fermion.agent.metadata_proxy",  # haproxy's configuration
    "fermion.agent.l2_plan", "fermion.agent.retry", "fermion.agent.status",
}
# What touches the system: a pure module imports none of these (nor their submodules).
SYSTEM = {"fermion.linux", "subprocess", "socket", "os", "shutil", "signal", "ctypes",
          "multiprocessing", "threading", "asyncio", "httpx", "pyroute2"}

# (importing module, imported module) -> why it is tolerated, and which issue removes it.
KNOWN: dict[tuple[str, str], str] = {}


# -- reading imports -------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. fermion.plugin.ports
    line: int
    target: str  # the imported module, e.g. fermion.db.models (or a library: sqlalchemy)

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, name: str) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import in the file, resolved to the module it names (``from P import x`` is
    ``P.x`` when that is a module of ours, else ``P``)."""
    module = module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [Import(module, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                target = candidate if _is_module(root, candidate) else source
                out.append(Import(module, node.lineno, target))
    return out


def all_imports(root: Path) -> list[Import]:
    return [imp for path in sorted((root / "fermion").rglob("*.py"))
            for imp in imports_of(root, path)]


def package_of(module: str) -> str | None:
    """fermion.plugin.ml2.types -> plugin; fermion -> fermion; sqlalchemy -> None."""
    parts = module.split(".")
    if parts[0] != "fermion":
        return None
    return parts[1] if len(parts) > 1 else "fermion"


def _within(module: str, names: Iterable[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


# -- the checks ------------------------------------------------------------------------------

def violations(root: Path, known: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Every broken rule, one line each naming the import (``KNOWN`` ones left out)."""
    known = KNOWN if known is None else known
    imports = [imp for imp in dict.fromkeys(all_imports(root))  # once per module, line, target
               if (imp.module, imp.target) not in known]
    out = []
    for imp in imports:
        source, target = package_of(imp.module), package_of(imp.target)
        if target is not None and target != source:
            forbidden, why = FORBIDDEN.get(source, (set(), ""))
            if target in forbidden:
                out.append(f"{imp}: {source} never imports {target} ({why or 'entry point'})")
            if source in ONLY and target not in ONLY[source][0]:
                allowed = ", ".join(sorted(ONLY[source][0]))
                but = f" but {allowed}" if allowed else ""
                out.append(f"{imp}: {source} imports nothing of Fermion{but} "
                           f"({ONLY[source][1]})")
        if imp.module in PURE:
            if _within(imp.target, SYSTEM):
                out.append(f"{imp}: a pure renderer touches nothing of the system")
            elif target is not None and imp.target not in PURE and imp.target != "fermion":
                out.append(f"{imp}: a pure renderer imports only pure modules of Fermion")
    return out + cycles(imports)


def cycles(imports: list[Import]) -> list[str]:
    """Package cycles (strongly connected groups of packages), each with the imports that
    make it up."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        source, target = package_of(imp.module), package_of(imp.target)
        if source and target and source != target:
            edges.setdefault(source, {}).setdefault(target, imp)
    out = []
    for group in _strongly_connected(edges):
        if len(group) > 1:
            links = "; ".join(str(edges[a][b]) for a in sorted(group)
                              for b in sorted(edges.get(a, {})) if b in group)
            out.append(f"cycle between packages {', '.join(sorted(group))}: {links}")
    return out


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm over the package graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in edges.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    nodes = set(edges) | {t for targets in edges.values() for t in targets}
    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


# -- the tests -------------------------------------------------------------------------------

def test_the_source_keeps_its_layers():
    found = violations(SRC)
    assert not found, "imports that break the layers:\n  " + "\n  ".join(found)


def test_known_exceptions_still_exist():
    """A KNOWN entry whose import is gone is removed, so the list stays honest."""
    present = {(imp.module, imp.target) for imp in all_imports(SRC)}
    stale = sorted(set(KNOWN) - present)
    assert not stale, f"KNOWN entries without their import: {stale}"


def test_the_rules_name_what_exists():
    """A renamed module or package must not slip out of the rules unnoticed."""
    missing = sorted(name for name in PURE if not _is_module(SRC, name))
    packages = {package_of(module_name(SRC, path)) for path in (SRC / "fermion").rglob("*.py")}
    missing += sorted((set(FORBIDDEN) | set(ONLY)) - packages)
    assert not missing, f"rules name what is not in src/: {missing}"


def test_the_reader_sees_imports_inside_functions_and_relative_ones():
    imports = {(imp.module, imp.target) for imp in all_imports(SRC)}
    assert ("fermion.cli", "fermion.api.app") in imports  # inside _serve()
    assert ("fermion.plugin.ports", "fermion.db.models") in imports  # from fermion.db import models
    assert len(imports) > 200


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


SYNTHETIC = {
    "fermion/__init__.py": "",
    "fermion/exceptions.py": "class NeutronError(Exception): ...\n",
    "fermion/db/__init__.py": "",
    "fermion/db/models.py": "import sqlalchemy\n",
    "fermion/plugin/__init__.py": "",
    "fermion/plugin/ports.py": "from fermion.db import models\nfrom fermion import exceptions\n",
    "fermion/api/__init__.py": "",
    "fermion/api/routes.py": "from ..plugin import ports\n",
    "fermion/linux/__init__.py": "",
    "fermion/linux/ovs.py": "import subprocess\n\nfrom . import cmd\n",
    "fermion/linux/cmd.py": "import subprocess\n",
    "fermion/agent/__init__.py": "",
    "fermion/agent/flows.py": "import re\n\nfrom fermion.agent import cookies\n",
    "fermion/agent/cookies.py": "import hashlib\n",
    "fermion/agent/l2_apply.py": "from fermion.agent import flows\nfrom fermion.linux import ovs\n",
}


def test_a_clean_synthetic_package_passes(tmp_path):
    _write(tmp_path, SYNTHETIC)
    assert violations(tmp_path, known={}) == []


def test_a_forbidden_import_inside_a_function_is_named(tmp_path):
    _write(tmp_path, {**SYNTHETIC, "fermion/linux/ovs.py": """\
        import subprocess


        def bridges():
            from fermion.db import models  # a host helper reading the database

            return models
        """})
    found = violations(tmp_path, known={})
    assert found == [
        "fermion.linux.ovs:5 imports fermion.db.models: linux imports nothing of Fermion "
        "but linux (thin verbs on the host)"], found


def test_an_agent_importing_the_plugin_is_named(tmp_path):
    _write(tmp_path, {**SYNTHETIC, "fermion/agent/l2_apply.py": """\
        from fermion.agent import flows
        from fermion.plugin import ports
        """})
    [found] = violations(tmp_path, known={})
    assert found.startswith("fermion.agent.l2_apply:2 imports fermion.plugin.ports: "
                            "agent never imports plugin"), found


def test_a_cycle_between_packages_is_named(tmp_path):
    _write(tmp_path, {**SYNTHETIC, "fermion/plugin/ports.py": """\
        from fermion.db import models
        from fermion.api.routes import ERRORS
        """})
    found = violations(tmp_path, known={})
    assert "fermion.plugin.ports:2 imports fermion.api.routes: plugin never imports api" \
        in found[0], found
    assert found[-1] == ("cycle between packages api, plugin: fermion.api.routes:1 imports "
                         "fermion.plugin.ports; fermion.plugin.ports:2 imports "
                         "fermion.api.routes"), found


def test_a_pure_renderer_touching_the_system_is_named(tmp_path):
    _write(tmp_path, {**SYNTHETIC, "fermion/agent/flows.py": """\
        import re

        from fermion.agent import cookies


        def dump(bridge):
            import subprocess

            from fermion.linux import ovs
            return subprocess, ovs
        """})
    found = violations(tmp_path, known={})
    assert found == [
        "fermion.agent.flows:7 imports subprocess: a pure renderer touches nothing of "
        "the system",
        "fermion.agent.flows:9 imports fermion.linux.ovs: a pure renderer touches nothing "
        "of the system"], found


def test_known_entries_are_left_out(tmp_path):
    _write(tmp_path, {**SYNTHETIC, "fermion/agent/flows.py": "import os\n"})
    assert len(violations(tmp_path, known={})) == 1
    assert violations(tmp_path, known={("fermion.agent.flows", "os"): "issue 0"}) == []
