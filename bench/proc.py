"""Child-process plumbing shared by the benchmarked servers.

Each server runs as a child in its own session (so its pid is also its process-group id),
with stdout/stderr in a log file inside a private temporary directory. It is stopped by
signalling that tracked process group — never by process name — and its directory is
removed afterwards. On Linux the child also gets ``PR_SET_PDEATHSIG`` so that it dies with
the benchmark even if the benchmark itself is killed hard.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

Log = Callable[[str], None]

# The ML2 options both servers get (the brief's common configuration).
ML2_CONF = """\
[ml2]
type_drivers = local,flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers =
extension_drivers = port_security

[ml2_type_flat]
flat_networks = physnet

[ml2_type_vlan]
network_vlan_ranges = physnet:100:200

[ml2_type_vxlan]
vni_ranges = 1:1000
"""

# Both servers' neutron.conf: the benchmark makes 10,000+ ports in one project, past
# Neutron's default quota of 500.
QUOTAS_CONF = """\
[quotas]
quota_network = -1
quota_subnet = -1
quota_port = -1
"""

_PR_SET_PDEATHSIG = 1

BUSY_CORES = 0.25  # CPU used by other processes during a run worth a warning in a report


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Make Ctrl-C, TERM and HUP unwind the stack, so ``finally`` blocks clean up.

    SIGINT gets Python's own handler back even where a non-interactive shell started us
    with it ignored.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_status(host: str, port: int, path: str = "/", timeout: float = 2.0) -> int | None:
    """Status of ``GET path`` on a fresh connection, or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # comm may contain spaces/parentheses: the fields after the last ')' are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if Path(f"/proc/{p}").exists():
            out.append(p)
        todo.extend(children.get(p, []))
    return out


def vm_rss_kb(pid: int) -> int:
    """VmRSS of one process in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process tree (live processes only)."""
    return sum(cpu_seconds(p) for p in process_tree(pid))


def system_busy_s() -> float:
    """CPU seconds all CPUs have spent busy since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def own_cpu_s() -> float:
    """CPU seconds used by this process (all its threads)."""
    t = os.times()
    return t.user + t.system


def tree_rss_kb(pid: int) -> dict[str, object]:
    """Summed VmRSS over a process tree, with the per-process numbers."""
    per = {p: vm_rss_kb(p) for p in process_tree(pid)}
    return {"total_mb": round(sum(per.values()) / 1024, 1),
            "processes": {str(p): round(kb / 1024, 1) for p, kb in per.items()}}


@contextlib.contextmanager
def machine_load(server: ManagedServer) -> Iterator[dict[str, float]]:
    """Who used the CPUs while the ``with`` block ran, in average cores.

    Yields a dict that is filled when the block ends normally: the server's process tree,
    this process (the benchmark client), and everything else on the machine (a CI run, a
    browser...) — all CPUs' busy time less the first two — plus the 1-minute load average
    before and after.
    """
    out: dict[str, float] = {}
    load0 = os.getloadavg()[0]
    sys0, own0, srv0, w0 = system_busy_s(), own_cpu_s(), server.cpu_s(), time.monotonic()
    yield out
    wall = time.monotonic() - w0
    srv, own = server.cpu_s() - srv0, own_cpu_s() - own0
    others = (system_busy_s() - sys0) - own - srv
    out.update({
        "loadavg_1m_before": round(load0, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "server_cores": round(srv / wall, 2),
        "client_cores": round(own / wall, 2),
        "other_processes_cores": round(max(0.0, others) / wall, 2),
    })


class ManagedServer:
    """A server child process: start, wait until ``GET /`` answers 200, measure, stop.

    Subclasses fill ``prepare()`` (write config into ``self.workdir``) and ``command()``.
    """

    name = "server"
    ready_timeout = 120.0

    def __init__(self, log: Log = print, host: str = "127.0.0.1") -> None:
        self.log = log
        self.host = host
        self.port = 0
        self.workdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._logfile = None

    # -- to override ------------------------------------------------------------------
    def prepare(self) -> None:
        raise NotImplementedError

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def version(self) -> str:
        return "unknown"

    # -- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "server.log"

    def start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.port = free_port(self.host)
        self.prepare()
        self._logfile = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        cmd = list(self.command())
        self.log(f"[{self.name}] starting: {' '.join(cmd)}")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=self.workdir, env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=self._logfile, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = t0 + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready; "
                    f"log tail:\n{self.log_tail()}")
            if http_status(self.host, self.port, "/") == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} not ready after {self.ready_timeout:.0f}s; "
                    f"log tail:\n{self.log_tail()}")
            time.sleep(0.1)
        self.startup_s = round(time.monotonic() - t0, 2)
        self.log(f"[{self.name}] ready at {self.url} (pid {self.pid}) after {self.startup_s}s")

    def rss(self) -> dict[str, object]:
        assert self.pid is not None
        return tree_rss_kb(self.pid)

    def cpu_s(self) -> float:
        assert self.pid is not None
        return tree_cpu_s(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the tracked process group (TERM, then KILL) and remove the work dir."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            pgid = proc.pid  # start_new_session=True: the child leads its own group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
            # Anything left in the group (workers that ignored TERM) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.log(f"[{self.name}] stopped (pid {pgid})")
        if self._logfile is not None:
            self._logfile.close()
            self._logfile = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> ManagedServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
