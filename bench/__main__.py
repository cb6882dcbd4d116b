"""``python -m bench`` — Fermion's benchmarks on this machine (what ``make bench`` runs).

The command line is made from the suites' config dataclasses: every field is one option
``--<suite>-<field>`` whose default, help and environment variable (``BENCH_<SUITE>_<FIELD>``)
come from the field, so nothing is written twice. Each selected suite runs, then its result
goes to ``<results>/<suite>.json`` and its section of ``BENCHMARKS.md``; ``--render`` runs
nothing and rewrites the sections from the JSON files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import api, dhcp, feed, l2, l3, sg
from bench.harness import REPO, Reporter, Suite, install_signal_handlers, new_report, save

SUITES: dict[str, Suite] = {s.name: s for s in (api.SUITE, feed.SUITE, l2.SUITE, l3.SUITE,
                                               dhcp.SUITE, sg.SUITE)}
_TRUE = ("1", "true", "yes", "on")


def _parser_for(typ: Any, choices: Sequence[str] | None) -> Any:
    """argparse ``type=`` for a field type: tuples are comma-separated."""
    def one(text: str, kind: Any = typ) -> Any:
        value = kind(text)
        if choices is not None and value not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    if typing.get_origin(typ) is tuple:
        kind = typing.get_args(typ)[0]
        return lambda text: tuple(one(x.strip(), kind) for x in text.split(",") if x.strip())
    return one


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def add_options(ap: argparse.ArgumentParser, suite: Suite) -> None:
    """One option per field of the suite's config, in a group of its own."""
    doc = (suite.config.__doc__ or "").strip().splitlines()[0]
    group = ap.add_argument_group(f"{suite.name} suite ({doc})")
    hints = typing.get_type_hints(suite.config)
    for f in dataclasses.fields(suite.config):
        typ, env = hints[f.name], f"BENCH_{suite.name}_{f.name}".upper()
        kw: dict[str, Any] = {"dest": f"{suite.name}__{f.name}",
                              "help": f"{f.metadata['help']} (default {_shown(f.default)}) "
                                      f"[{env}]"}
        if typ is bool:
            kw["action"] = argparse.BooleanOptionalAction
            kw["default"] = os.environ[env].lower() in _TRUE if env in os.environ else f.default
        else:
            kw["type"] = _parser_for(typ, f.metadata.get("choices"))
            kw["default"] = kw["type"](os.environ[env]) if env in os.environ else f.default
            kw["metavar"] = "A,B,…" if typing.get_origin(typ) is tuple else \
                "|".join(f.metadata["choices"]) if "choices" in f.metadata else \
                typ.__name__.upper()
        group.add_argument(f"--{suite.name}-{f.name.replace('_', '-')}", **kw)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m bench",
        description="Fermion's benchmarks on this machine: its Neutron API against upstream "
                    "neutron-server, its change feed under load, and the L2, L3 and DHCP "
                    "agents and security groups on simulated hosts (those need root). Each "
                    "suite writes <results>/<suite>.json and its section of BENCHMARKS.md.",
        epilog="Every option's default can also come from the environment variable shown "
               "in brackets, e.g. BENCH_L2_PORTS=50 make bench.")
    ap.add_argument("--suite", default=os.environ.get("BENCH_SUITE", "all"),
                    help=f"comma-separated suites to run: {', '.join(SUITES)}, or all "
                         "(default %(default)s, in that order) [BENCH_SUITE]")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: redo the selected suites' ratios, notes and "
                         "BENCHMARKS.md sections from their JSON files")
    ap.add_argument("--markdown", type=Path,
                    default=Path(os.environ.get("BENCH_MARKDOWN", REPO / "BENCHMARKS.md")),
                    help="report to rewrite between each suite's markers (default "
                         "BENCHMARKS.md) [BENCH_MARKDOWN]")
    ap.add_argument("--results", type=Path,
                    default=Path(os.environ.get("BENCH_RESULTS", REPO / "bench" / "results")),
                    help="directory of the suites' JSON files (default bench/results) "
                         "[BENCH_RESULTS]")
    for suite in SUITES.values():
        add_options(ap, suite)
    return ap


def config_of(suite: Suite, args: argparse.Namespace) -> Any:
    return suite.config(**{f.name: getattr(args, f"{suite.name}__{f.name}")
                           for f in dataclasses.fields(suite.config)})


def failed(report: dict[str, Any]) -> bool:
    return any("error" in entry for key in ("servers", "runs", "phases")
               for entry in report.get(key, {}).values())


def write(suite: Suite, report: dict[str, Any], args: argparse.Namespace, rep: Reporter) -> int:
    suite.finish(report)
    path = args.results / f"{suite.name}.json"
    rep.log(save(report, suite, path, args.markdown))
    rep.log(f"wrote {path} and the {suite.name} section of {args.markdown}")
    return 1 if failed(report) else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    names = list(SUITES) if args.suite == "all" else [s.strip() for s in args.suite.split(",")]
    if unknown := [n for n in names if n not in SUITES]:
        parser().error(f"unknown suite {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    install_signal_handlers()
    rep, codes = Reporter(), [0]
    for suite in (SUITES[n] for n in names):
        if args.render:
            path = args.results / f"{suite.name}.json"
            if not path.exists():
                rep.log(f"no {path}: the {suite.name} section is left as it is")
                codes.append(1)
                continue
            codes.append(write(suite, json.loads(path.read_text()), args, rep))
            continue
        if suite.root and os.geteuid() != 0:
            rep.log(f"{suite.name} suite skipped: it needs root (namespaces, Open vSwitch)")
            codes.append(1)
            continue
        cfg = config_of(suite, args)
        report = new_report(suite.name, " ".join(["python -m bench", *map(shlex.quote, argv)]),
                            config=dataclasses.asdict(cfg))
        try:
            report.update(suite.run(cfg, rep))
        except KeyboardInterrupt:
            rep.log(f"{suite.name}: interrupted; what it made is removed, nothing written")
            return 130
        codes.append(write(suite, report, args, rep))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
