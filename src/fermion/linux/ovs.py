"""Open vSwitch for one host: a private daemon pair and a narrow client bound to it.

`OvsDaemon` runs ovsdb-server and ovs-vswitchd for one (simulated or real) host in its own
run directory — database, sockets, pidfiles, unixctl sockets and logs all under `rundir` —
optionally inside a network namespace (the namespace ovs-vswitchd runs in is the one its
system/internal ports live in and the one userspace tunnels are routed from). Processes are
tracked by the pids in their pidfiles and stopped by pid (after checking the pid still runs
a command line naming our run directory), never by process name.

Layout of `rundir`::

    conf.db  db.sock  ovsdb-server.{pid,ctl,log}  ovs-vswitchd.{pid,ctl,log}  <bridge>.mgmt

(the logs go to `logdir` instead when one is given, e.g. a lab host's /var/log/openvswitch).

`Ovs` is the client: idempotent verbs over `ovs-vsctl --db=unix:<rundir>/db.sock` (which by
default waits until ovs-vswitchd has applied the change), `ofctl()` through the bridge's
management socket `unix:<rundir>/<bridge>.mgmt` and `appctl()` through the unixctl socket.

Datapath: `system` when the openvswitch kernel module is loaded, else `netdev` (userspace).
With `netdev`, veths plugged into OVS need `ethtool -K <other end> tx off` (see netns.py).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from fermion.linux import netns as ns
from fermion.linux.cmd import CommandError, run
from fermion.linux.ovsdb import STATE_QUERY, OvsState
from fermion.linux.proc import cmdline, pid_alive

LOG = logging.getLogger(__name__)

SCHEMA = Path(os.environ.get("FERMION_OVS_SCHEMA", "/usr/share/openvswitch/vswitch.ovsschema"))
BINARIES = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl")


def rundir_of(connection: str) -> str:
    """``unix:/var/run/openvswitch/db.sock`` -> ``/var/run/openvswitch``."""
    kind, _, path = connection.partition(":")
    if kind != "unix" or not path:
        raise ValueError(f"[ovs] ovsdb_connection {connection!r}: only unix:PATH is supported")
    return str(Path(path).parent)


def detect_datapath_type() -> str:
    """`system` if the openvswitch kernel module is loaded, else `netdev` (userspace).

    FERMION_OVS_DATAPATH overrides the detection.
    """
    forced = os.environ.get("FERMION_OVS_DATAPATH")
    if forced:
        return forced
    return "system" if os.path.isdir("/sys/module/openvswitch") else "netdev"


def missing_binaries() -> list[str]:
    """OVS programs (and the schema) this module needs but cannot find."""
    import shutil

    missing = [b for b in BINARIES if shutil.which(b) is None]
    if not SCHEMA.exists():
        missing.append(str(SCHEMA))
    return missing




def stop_pid(pid: int, must_contain: str, timeout: float = 5.0) -> bool:
    """SIGTERM `pid` (SIGKILL after `timeout`) if it is alive and its command line contains
    `must_contain` (guards against pid reuse). True if a process was stopped."""
    if not pid_alive(pid) or must_contain not in cmdline(pid):
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.02)
    LOG.warning("process %d (%s) survived SIGKILL", pid, must_contain)
    return True


def _quote(value: object) -> str:
    """An OVSDB atom for ovs-vsctl: strings are JSON-quoted (MACs contain ':')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _kv(column: str, mapping: Mapping[str, object] | None) -> list[str]:
    return [f"{column}:{k}={_quote(v)}" for k, v in (mapping or {}).items()]


class OvsDaemon:
    """ovsdb-server + ovs-vswitchd with a private run directory, optionally in a netns."""

    DAEMONS = ("ovsdb-server", "ovs-vswitchd")

    def __init__(self, rundir: str | os.PathLike, *, netns: str | None = None,
                 datapath_type: str | None = None, logdir: str | os.PathLike | None = None):
        self.rundir = Path(rundir).absolute()
        self.logdir = Path(logdir).absolute() if logdir else self.rundir
        self.netns = netns
        self.datapath_type = datapath_type or detect_datapath_type()
        self.pids: dict[str, int] = {}

    # paths
    @property
    def db_path(self) -> Path:
        return self.rundir / "conf.db"

    @property
    def db_sock(self) -> Path:
        return self.rundir / "db.sock"

    def pidfile(self, daemon: str) -> Path:
        return self.rundir / f"{daemon}.pid"

    def ctl(self, daemon: str) -> Path:
        return self.rundir / f"{daemon}.ctl"

    def log(self, daemon: str) -> Path:
        return self.logdir / f"{daemon}.log"

    @property
    def env(self) -> dict[str, str]:
        d = str(self.rundir)
        return {"OVS_RUNDIR": d, "OVS_LOGDIR": str(self.logdir), "OVS_DBDIR": d,
                "OVS_SYSCONFDIR": d}

    def client(self) -> Ovs:
        return Ovs(self.rundir, datapath_type=self.datapath_type)

    # lifecycle
    def running(self) -> bool:
        return any(self._live_pid(d) for d in self.DAEMONS)

    def start(self) -> Ovs:
        """Start both daemons (no-op for one already running); returns a client.

        On failure, whatever was started is stopped again before the error propagates."""
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        try:
            if not self.db_path.exists():
                run(["ovsdb-tool", "create", str(self.db_path), str(SCHEMA)])
            if not self._live_pid("ovsdb-server"):
                self._spawn("ovsdb-server", [
                    "ovsdb-server", str(self.db_path), f"--remote=punix:{self.db_sock}",
                ])
                self.client().vsctl("--no-wait", "init")
            if not self._live_pid("ovs-vswitchd"):
                self._spawn("ovs-vswitchd", ["ovs-vswitchd", f"unix:{self.db_sock}"])
        except BaseException:
            self.stop()
            raise
        return self.client()

    def _spawn(self, daemon: str, argv: list[str]) -> None:
        argv = argv + [
            f"--pidfile={self.pidfile(daemon)}", f"--unixctl={self.ctl(daemon)}",
            f"--log-file={self.log(daemon)}", "--detach", "--no-chdir", "-vconsole:off",
        ]
        run(argv, netns=self.netns, env=self.env)  # --detach returns once the daemon is ready
        pid = self._read_pid(daemon)
        if pid is None:
            raise CommandError(argv, 0, "", f"{daemon} left no live pid in {self.pidfile(daemon)}")
        self.pids[daemon] = pid

    def _read_pid(self, daemon: str) -> int | None:
        try:
            pid = int(self.pidfile(daemon).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) and str(self.rundir) in cmdline(pid) else None

    def _live_pid(self, daemon: str) -> int | None:
        pid = self.pids.get(daemon)
        if pid and pid_alive(pid) and str(self.rundir) in cmdline(pid):
            return pid
        return self._read_pid(daemon)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ovs-vswitchd then ovsdb-server by pid, then delete the devices ovs-vswitchd
        may leave behind (bridge and internal-port taps; `ovs-netdev` only inside our
        namespace). Safe to call repeatedly and after a partial start."""
        leftovers: set[str] = set()
        if self._live_pid("ovsdb-server"):
            try:
                leftovers = self.client().device_names()
            except CommandError as exc:
                LOG.warning("could not list OVS devices before stop: %s", exc)
        for daemon in reversed(self.DAEMONS):
            pid = self._live_pid(daemon)
            if pid:
                stop_pid(pid, str(self.rundir), timeout)
            self.pids.pop(daemon, None)
        if self.netns is not None:
            leftovers.add("ovs-netdev")
            if not ns.netns_exists(self.netns):
                return
        for dev in sorted(leftovers):
            try:
                ns.delete_link(dev, netns=self.netns)
            except CommandError as exc:
                LOG.warning("could not delete leftover OVS device %s: %s", dev, exc)


class Ovs:
    """Idempotent verbs on one OVS instance, addressed by its run directory."""

    def __init__(self, rundir: str | os.PathLike, *, datapath_type: str | None = None,
                 timeout: int = 10):
        self.rundir = Path(rundir).absolute()
        self.datapath_type = datapath_type or detect_datapath_type()
        self.timeout = timeout

    @property
    def db(self) -> str:
        return f"unix:{self.rundir / 'db.sock'}"

    def mgmt(self, bridge: str) -> str:
        return f"unix:{self.rundir / (bridge + '.mgmt')}"

    # raw tools
    def vsctl(self, *args: str, check: bool = True) -> str:
        argv = ["ovs-vsctl", f"--db={self.db}", f"--timeout={self.timeout}", *args]
        return run(argv, check=check, timeout=self.timeout + 5).stdout

    def ofctl(self, bridge: str, command: str, *args: str, options: Iterable[str] = (),
              input: str | None = None) -> str:
        """`ovs-ofctl [options] COMMAND unix:<rundir>/<bridge>.mgmt ARGS…`."""
        argv = ["ovs-ofctl", *options, command, self.mgmt(bridge), *args]
        return run(argv, input=input).stdout

    def dump_flows(self, bridge: str, *match: str) -> str:
        """``ovs-ofctl dump-flows`` text of `bridge` (optionally only flows matching)."""
        return self.ofctl(bridge, "dump-flows", *match)

    def apply_flow_bundle(self, bridge: str, lines: Iterable[str]) -> None:
        """``add …`` / ``delete_strict …`` lines in one OpenFlow bundle: all of them are
        applied or none (``CommandError`` naming OVS's complaint)."""
        self.ofctl(bridge, "add-flows", "-", options=["--bundle"],
                   input="\n".join(lines) + "\n")

    def appctl(self, *args: str, daemon: str = "ovs-vswitchd") -> str:
        return run(["ovs-appctl", "-t", str(self.rundir / f"{daemon}.ctl"), *args]).stdout

    # bridges
    def add_bridge(self, name: str, *, datapath_type: str | None = None,
                   fail_mode: str | None = None,
                   external_ids: Mapping[str, object] | None = None) -> None:
        sets = [f"datapath_type={datapath_type or self.datapath_type}"]
        if fail_mode:
            sets.append(f"fail_mode={fail_mode}")
        sets += _kv("external_ids", external_ids)
        self.vsctl("--may-exist", "add-br", name, "--", "set", "Bridge", name, *sets)

    def del_bridge(self, name: str) -> None:
        self.vsctl("--if-exists", "del-br", name)

    def list_bridges(self) -> list[str]:
        return self.vsctl("list-br").split()

    # ports
    def add_port(self, bridge: str, port: str, *, type: str | None = None,
                 options: Mapping[str, object] | None = None,
                 external_ids: Mapping[str, object] | None = None,
                 tag: int | None = None) -> None:
        """Add `port` to `bridge` (no-op if there) and converge the given columns."""
        args = ["--may-exist", "add-port", bridge, port]
        iface = ([f"type={type}"] if type else []) + _kv("options", options)
        iface += _kv("external_ids", external_ids)
        if iface:
            args += ["--", "set", "Interface", port, *iface]
        if tag is not None:
            args += ["--", "set", "Port", port, f"tag={tag}"]
        self.vsctl(*args)

    def add_internal_port(self, bridge: str, port: str, **kwargs) -> None:
        self.add_port(bridge, port, type="internal", **kwargs)

    def add_patch_pair(self, bridge_a: str, port_a: str, bridge_b: str, port_b: str) -> None:
        """Patch ports `port_a` on `bridge_a` ↔ `port_b` on `bridge_b`."""
        self.add_port(bridge_a, port_a, type="patch", options={"peer": port_b})
        self.add_port(bridge_b, port_b, type="patch", options={"peer": port_a})

    def add_tunnel_port(self, bridge: str, port: str, remote_ip: str, *, type: str = "vxlan",
                        key: str = "flow", local_ip: str | None = None,
                        options: Mapping[str, object] | None = None) -> None:
        opts: dict[str, object] = {"remote_ip": remote_ip, "key": key}
        if local_ip:
            opts["local_ip"] = local_ip
        opts.update(options or {})
        self.add_port(bridge, port, type=type, options=opts)

    def del_port(self, port: str, *, bridge: str | None = None) -> None:
        self.vsctl("--if-exists", "del-port", *([bridge] if bridge else []), port)

    def list_ports(self, bridge: str) -> list[str]:
        return self.vsctl("list-ports", bridge).split()

    def set_external_ids(self, iface: str, ids: Mapping[str, object]) -> None:
        if ids:
            self.vsctl("set", "Interface", iface, *_kv("external_ids", ids))

    def external_ids(self, iface: str) -> dict[str, str]:
        return self._map_column("Interface", iface, "external_ids")

    def set_tag(self, port: str, tag: int | None) -> None:
        if tag is None:
            self.vsctl("clear", "Port", port, "tag")
        else:
            self.vsctl("set", "Port", port, f"tag={tag}")

    def state(self) -> OvsState:
        """Bridges, ports and interfaces in one read (one ``ovsdb-client transact``) instead
        of one ovs-vsctl process per question: an agent's pass asks many."""
        out = run(["ovsdb-client", "transact", self.db, STATE_QUERY],
                  timeout=self.timeout + 5).stdout
        return OvsState.parse(out)

    def set_port_tags(self, tags: Mapping[str, tuple[int, str | None]]) -> None:
        """Set each port's ``tag`` and ``other_config:net_uuid`` (the network the tag
        stands for; removed when None) in one transaction. ``--no-wait``: ovs-vswitchd
        applies the tags within its next iteration; waiting for it costs ~0.3 s on a busy
        host and orders nothing the agents rely on."""
        args: list[str] = []
        for name, (tag, net_uuid) in sorted(tags.items()):
            args += ["--", "set", "Port", name, f"tag={tag}"]
            if net_uuid:
                args.append(f"other_config:net_uuid={_quote(net_uuid)}")
            else:
                args += ["--", "remove", "Port", name, "other_config", "net_uuid"]
        if args:
            self.vsctl("--no-wait", *args[1:])

    def ofport(self, iface: str) -> int:
        """The OpenFlow port number of `iface` (-1 if OVS could not open it)."""
        return int(self.vsctl("get", "Interface", iface, "ofport").strip() or -1)

    def device_names(self) -> set[str]:
        """Names of the kernel devices this OVS creates: bridges and internal ports."""
        names = set(self.list_bridges())
        out = self.vsctl("--format=json", "--columns=name", "find", "Interface", "type=internal")
        names.update(row[0] for row in json.loads(out)["data"])
        return names

    def _map_column(self, table: str, record: str, column: str) -> dict[str, str]:
        out = self.vsctl("--format=json", f"--columns={column}", "list", table, record)
        cell = json.loads(out)["data"][0][0]  # ["map", [[k, v], …]]
        return {k: v for k, v in cell[1]}
