"""The ``fermion lab`` subcommands: up, down, status, exec, logs, openrc."""

from __future__ import annotations

import os
import sys
import time

from rich.console import Console

from fermion.lab import report, state, teardown, topofile
from fermion.lab.build import Builder, preflight
from fermion.lab.client import Api, ApiError
from fermion.lab.live import LabError, LiveLab
from fermion.lab.progress import Progress
from fermion.lab.state import LabPaths, Lock
from fermion.lab.topofile import TopologyError
from fermion.lab.topology import scaled
from fermion.linux.capsule import CapsuleError
from fermion.linux.cmd import CommandError

LOGS = {"server": "neutron/neutron-server.log", "l2": "neutron/neutron-openvswitch-agent.log",
        "dhcp": "neutron/neutron-dhcp-agent.log", "l3": "neutron/neutron-l3-agent.log",
        "ovs-vswitchd": "openvswitch/ovs-vswitchd.log",
        "ovsdb-server": "openvswitch/ovsdb-server.log"}


def _paths(args, name: str) -> LabPaths:
    return LabPaths(name, args.state_dir, args.log_dir)


def _live(args) -> LiveLab:
    name = state.pick(args.lab, args.state_dir)
    paths = _paths(args, name)
    if not paths.state_file.exists():
        raise LabError(f"no lab {name} in {args.state_dir}")
    return LiveLab(paths)


def _console() -> Console:
    """Rich output; 160 columns when not on a terminal (CI logs, files), so the smoke
    table's commands stay on one line."""
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=160 if wide else None)


def up(args) -> int:
    console = _console()
    began = time.monotonic()
    if args.topology and args.topology_arg:
        raise LabError("give the topology once (TOPOLOGY or --topology)")
    source = args.topology or args.topology_arg or "lab10"
    try:
        topo = topofile.load(source)
        if args.computes is not None or args.instances is not None:
            topo = scaled(topo, args.computes, args.instances)
            topofile.revalidate(topo)
    except TopologyError as error:
        print(f"fermion lab up: {error}", file=sys.stderr)
        return 2
    paths = _paths(args, topo.name)
    with Lock(paths):
        previous = paths.read()
        if previous.get("phase") == "up" and all(
                LiveLab(paths).capsule(h.name) for h in topo.hosts):
            console.print(f"lab {topo.name} is up (since {previous.get('up_at', '?')}); "
                          "`fermion lab status` shows it, `fermion lab down` removes it")
            return 0
        if paths.dir.exists():
            console.print(f"a previous `lab up` of {topo.name} did not finish: removing "
                          "what it made first")
            teardown.remove(paths)
        preflight(topo)
        paths.write({"name": topo.name, "phase": "building", "pid": os.getpid(),
                     "topology_source": topo.source, "computes": args.computes,
                     "instances": args.instances, "started_at": time.strftime("%H:%M:%S")})
        paths.topology_file.write_text(_source_text(source))
        console.print(f"lab {topo.name}: {topo.description}")
        progress = Progress(console)
        builder = Builder(paths, topo, progress)
        try:
            rows = builder.build()
        except BaseException:
            paths.update(phase="failed")
            console.print(f"lab {topo.name} is not complete: `fermion lab logs HOST` and "
                          "`fermion lab status` to look, `fermion lab down` to remove it")
            raise
        took = time.monotonic() - began
        paths.update(phase="up", up_at=time.strftime("%H:%M:%S"), up_seconds=round(took, 1))
        report.summary(console, builder.live, builder.api, rows)
        failed = [r for r in rows if not r.ok]
        verdict = "[green]all smoke checks PASS[/]" if not failed else \
            f"[red]{len(failed)} of {len(rows)} smoke checks FAIL[/]"
        console.print(f"lab {topo.name} up in {took:.1f} s: {verdict}")
        return 1 if failed else 0


def _source_text(name_or_path: str) -> str:
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        with open(name_or_path) as f:
            return f.read()
    from importlib import resources

    return (resources.files("fermion.lab") / "topologies" / f"{name_or_path}.yaml").read_text()


def down(args) -> int:
    try:
        name = state.pick(args.lab, args.state_dir)
    except LookupError as error:
        print(error)
        return 0
    paths = _paths(args, name)
    began = time.monotonic()
    with Lock(paths):
        removed = teardown.remove(paths)
    took = time.monotonic() - began
    if removed:
        print(f"lab {name} is down in {took:.1f} s (removed {'; '.join(removed)})")
    else:
        print(f"lab {name} was not up")
    print(f"logs kept in {paths.logs}")
    return 0


def status(args) -> int:
    live = _live(args)
    console = _console()
    phase = live.state.get("phase", "?")
    console.print(f"lab {live.topo.name}: {phase}"
                  + (f" since {live.state['up_at']} (up took {live.state.get('up_seconds')} s)"
                     if phase == "up" else ""))
    report.summary(console, live, Api(live.api_url, timeout=5))
    console.print(f"logs: {live.paths.logs}")
    return 0


def exec_(args) -> int:
    live = _live(args)
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        command = [os.environ.get("SHELL", "/bin/bash")]
    argv = live.target_argv(args.target, command)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 127


def logs(args) -> int:
    live = _live(args)
    target = args.host
    inst = live.instance(target)
    if inst:
        path = live.paths.host_logs(inst["host"]) / "guests" / target / "console.log"
    elif any(h.name == target for h in live.topo.hosts):
        folder = live.paths.host_logs(target)
        if not args.daemon:
            print(f"logs of {target} ({folder}); `fermion lab logs {target} DAEMON`:")
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                print(f"  {str(path.relative_to(folder)):48} {path.stat().st_size:>9} bytes")
            return 0
        path = folder / LOGS.get(args.daemon, args.daemon)
        if not path.is_file():
            matches = sorted(folder.rglob(f"*{args.daemon}*.log"))
            path = matches[0] if len(matches) == 1 else path
    else:
        raise LabError(f"no host or instance {target!r} in lab {live.topo.name}")
    if not path.is_file():
        raise LabError(f"no log {path}; `fermion lab logs {target}` lists them")
    if args.follow:
        os.execvp("tail", ["tail", "-n", "50", "-f", str(path)])
    sys.stdout.write(path.read_text(errors="replace"))
    return 0


def openrc(args) -> int:
    live = _live(args)
    url = live.api_url
    print(f"# lab {live.topo.name}: the Networking API at {url} (noauth: you act as admin)\n"
          "unset OS_CLOUD OS_AUTH_URL OS_TOKEN OS_USERNAME OS_PASSWORD OS_PROJECT_NAME\n"
          "export OS_AUTH_TYPE=none\n"
          f"export OS_ENDPOINT={url}\n"
          f"export NO_PROXY={live.topo.api_address()}${{NO_PROXY:+,$NO_PROXY}}")
    return 0


COMMANDS = {"up": up, "down": down, "status": status, "exec": exec_, "logs": logs,
            "openrc": openrc}


def main(args) -> int:
    try:
        return COMMANDS[args.lab_command](args)
    except (LabError, LookupError, state.LabBusy, TopologyError) as error:
        print(f"fermion lab {args.lab_command}: {error}", file=sys.stderr)
        return 2
    except (TimeoutError, ApiError, CapsuleError, CommandError) as error:
        print(f"fermion lab {args.lab_command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fermion lab {args.lab_command}: interrupted", file=sys.stderr)
        return 130
