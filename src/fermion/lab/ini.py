"""The sample INI files (``etc/neutron/…``) and rendering them with a host's values.

The samples are what an operator copies to a real host; the lab uses the same files and only
changes the values a host must differ in (`render` keeps every comment and line it does not
change, so a lab host's ``/etc/neutron`` reads like the sample). Pure: no system access but
reading the package's own files.
"""

from __future__ import annotations

import re
from importlib import resources

# sample name -> where it goes on a host (Neutron's paths)
SAMPLES = {
    "neutron.conf": "/etc/neutron/neutron.conf",
    "ml2_conf.ini": "/etc/neutron/plugins/ml2/ml2_conf.ini",
    "openvswitch_agent.ini": "/etc/neutron/plugins/ml2/openvswitch_agent.ini",
    "dhcp_agent.ini": "/etc/neutron/dhcp_agent.ini",
    "l3_agent.ini": "/etc/neutron/l3_agent.ini",
}

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_OPTION = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*[=:]")

Overrides = dict[str, dict[str, str]]  # section -> option -> value


def sample_text(name: str) -> str:
    """The text of sample `name` (a key of SAMPLES) as shipped in ``etc/neutron``."""
    relative = SAMPLES[name].removeprefix("/etc/")
    return (resources.files("fermion.lab") / "etc" / relative).read_text()


def render(text: str, overrides: Overrides) -> str:
    """`text` with each overridden option's value replaced where it is set, added at the end
    of its section where it is not, and new sections appended; everything else unchanged."""
    pending = {section: dict(options) for section, options in overrides.items()}
    out: list[str] = []
    section: str | None = None

    def flush(name: str | None) -> None:
        rest = pending.pop(name, {}) if name is not None else {}
        if rest:
            while out and not out[-1].strip():
                out.pop()
            out.extend(f"{k} = {v}" for k, v in rest.items())
            out.append("")

    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            flush(section)
            section = header.group(1).strip()
            out.append(line)
            continue
        option = _OPTION.match(line)
        if option and section in pending and option.group(1) in pending[section]:
            out.append(f"{option.group(1)} = {pending[section].pop(option.group(1))}")
            continue
        out.append(line)
    flush(section)
    for name, options in pending.items():
        if options:
            if out and out[-1].strip():
                out.append("")
            out.append(f"[{name}]")
            out.extend(f"{k} = {v}" for k, v in options.items())
    return "\n".join(out).rstrip("\n") + "\n"


def merged(*layers: dict[str, Overrides]) -> dict[str, Overrides]:
    """Per-file overrides, later layers winning option by option."""
    out: dict[str, Overrides] = {}
    for layer in layers:
        for file, sections in layer.items():
            for section, options in sections.items():
                out.setdefault(file, {}).setdefault(section, {}).update(options)
    return out
