"""``python -m bench`` — Fermion's benchmarks on this machine (what ``make bench`` runs).

The command line is made from the suites' config dataclasses: every field is one option
``--<suite>-<field>`` whose type, default, help and environment variable
(``BENCH_<SUITE>_<FIELD>``) come from the field, so nothing is written twice. Each selected
suite runs, then writes ``<results>/<suite>.json`` and its section of BENCHMARKS.md;
``--render`` runs nothing and rewrites the sections from the JSON files.
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

from bench import api, dhcp, feed, l2, l3, labup, sg
from bench.harness import REPO, Reporter, Suite, install_signal_handlers, new_report, save

SUITES: dict[str, Suite] = {s.name: s for s in (api.SUITE, feed.SUITE, l2.SUITE, l3.SUITE,
                                               dhcp.SUITE, sg.SUITE, labup.SUITE)}


def _type(typ: Any, choices: Sequence[str] | None) -> Any:
    """argparse ``type=`` for a field's type; a tuple's items are comma-separated."""
    kind = typing.get_args(typ)[0] if typing.get_origin(typ) is tuple else typ

    def one(text: str) -> Any:
        if choices is not None and text not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return kind(text)

    if kind is not typ:
        return lambda text: tuple(one(x.strip()) for x in text.split(",") if x.strip())
    return one


def add_options(ap: argparse.ArgumentParser, suite: Suite) -> None:
    """One option per field of the suite's config, in a group of its own."""
    group = ap.add_argument_group(f"{suite.name} suite ({suite.config.__doc__})")
    hints = typing.get_type_hints(suite.config)
    for f in dataclasses.fields(suite.config):
        env, typ = f"BENCH_{suite.name}_{f.name}".upper(), hints[f.name]
        shown = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else \
            f"{f.default:g}" if isinstance(f.default, float) else f.default
        kw: dict[str, Any] = {"dest": f"{suite.name}__{f.name}", "default": f.default,
                              "help": f"{f.metadata['help']} (default {shown}) [{env}]"}
        if typ is bool:
            kw["action"] = argparse.BooleanOptionalAction
            if env in os.environ:
                kw["default"] = os.environ[env].lower() in ("1", "true", "yes", "on")
        else:
            kw["type"] = _type(typ, f.metadata.get("choices"))
            kw["metavar"] = "A,B,…" if typing.get_origin(typ) is tuple else "|".join(
                f.metadata.get("choices", ())) or typ.__name__.upper()
            if env in os.environ:
                kw["default"] = kw["type"](os.environ[env])
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


def produce(suite: Suite, args: argparse.Namespace, argv: Sequence[str], rep: Reporter
            ) -> dict[str, Any] | None:
    """The suite's report: read back (``--render``) or measured now; None if neither."""
    path = args.results / f"{suite.name}.json"
    if args.render:
        if path.exists():
            return json.loads(path.read_text())
        rep.log(f"no {path}: the {suite.name} section is left as it is")
    elif suite.root and os.geteuid() != 0:
        rep.log(f"{suite.name} suite skipped: it needs root (namespaces, Open vSwitch)")
    else:
        cfg = config_of(suite, args)
        return new_report(suite.name, shlex.join(["python", "-m", "bench", *argv]),
                          config=dataclasses.asdict(cfg)) | suite.run(cfg, rep)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = parser()
    args = ap.parse_args(argv)
    names = list(SUITES) if args.suite == "all" else [s.strip() for s in args.suite.split(",")]
    if unknown := [n for n in names if n not in SUITES]:
        ap.error(f"unknown suite {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    if not args.render:
        install_signal_handlers()
    rep, codes = Reporter(), [0]
    for suite in (SUITES[n] for n in names):
        try:
            report = produce(suite, args, argv, rep)
        except KeyboardInterrupt:
            rep.log(f"{suite.name}: interrupted; what it made is removed, nothing written")
            return 130
        if report is None:
            codes.append(1)
            continue
        suite.finish(report)
        path = args.results / f"{suite.name}.json"
        rep.log(save(report, suite, path, args.markdown))
        rep.log(f"wrote {path} and the {suite.name} section of {args.markdown}")
        codes.append(int(any("error" in entry for key in ("servers", "runs", "phases")
                             for entry in report.get(key, {}).values())))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
