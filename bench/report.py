"""What every suite's report shares: the machine, the command, the JSON file and the
suite's own section of ``BENCHMARKS.md`` (between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``; everything outside the markers is left as it is)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

MD_INTRO = """\
# Benchmarks

Numbers measured on one machine by `make bench`, which runs the API benchmark against
Fermion and against upstream OpenStack Neutron on the same machine, one server at a time,
and then the change-feed benchmark against Fermion (upstream has no change feed).
They are a report, not a test: nothing asserts on them. Each section is rewritten by its
own benchmark between its markers; raw numbers are in `bench/results/`.

Run `make bench`, or `.venv/bin/python -m bench.run --help` for the knobs (`--suite
api|feed`, counts, list sizes, the time budget for filling upstream's port table, `--only
fermion|neutron`, the feed's watchers). The first API run installs upstream Neutron into
`bench/.peer/venv` (about a minute).

"""


def machine_info() -> dict[str, Any]:
    mem_kb, cpu = 0, ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu or platform.processor(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def command_line(argv: Sequence[str]) -> str:
    return " ".join(["python -m bench.run", *map(shlex.quote, argv)])


def measured_line(report: dict[str, Any]) -> str:
    """"Measured <date> on <machine>, with `<command>`." — the first line of every section."""
    m = report["machine"]
    return (f"Measured {report['date']} on {m['nproc']} CPUs ({m['cpu']}), "
            f"{m['memory_gib']} GiB RAM, Linux {m['kernel']} ({m['os']}), Python {m['python']}, "
            f"with `{report['command']}`.")


def new_report(benchmark: str, argv: Sequence[str], **fields: Any) -> dict[str, Any]:
    """A suite's report before its numbers: name, date, command and machine."""
    return {"benchmark": benchmark,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command_line(argv), "machine": machine_info(), **fields}


def write_markdown(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the text between the markers (or append the markers and the section)."""
    block = f"{begin}\n{section}{end}"
    text = path.read_text() if path.exists() else MD_INTRO
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def save(report: dict[str, Any], json_file: Path, markdown: Path,
         section: Callable[[dict[str, Any]], str], log: Callable[[str], None]) -> None:
    """Write the report to ``json_file`` and its section, between the markers named
    after ``report["benchmark"]``, into ``markdown``."""
    json_path = json_file.resolve()
    report["json"] = (str(json_path.relative_to(REPO)) if json_path.is_relative_to(REPO)
                      else str(json_path))
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(report, indent=2) + "\n")
    text = section(report)
    name = report["benchmark"]
    write_markdown(markdown, text, f"<!-- {name}:begin -->", f"<!-- {name}:end -->")
    log(text)
    log(f"wrote {json_file} and the {name} section of {markdown}")
