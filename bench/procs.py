"""Servers as child processes, and the HTTP client every suite speaks Neutron's API with.

A server runs as a child in its own session (its pid is its process-group id) with its
output in a log file in a private temporary directory; it is stopped by signalling that
tracked group — never by process name — and gets ``PR_SET_PDEATHSIG``, so it dies with the
benchmark even if the benchmark is killed hard. ``FermionServer`` runs ``fermion server``
with the ML2 options the upstream peer (``bench.peer_neutron``) gets too.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import REPO, Log, tree_cpu_s, tree_rss_mb

ML2_CONF = ("[ml2]\ntype_drivers = local,flat,vlan,vxlan\ntenant_network_types = vxlan\n"
            "mechanism_drivers =\nextension_drivers = port_security\n\n[ml2_type_flat]\n"
            "flat_networks = physnet\n\n[ml2_type_vlan]\nnetwork_vlan_ranges = physnet:100:200"
            "\n\n[ml2_type_vxlan]\nvni_ranges = 1:1000\n")  # both servers' ML2 options
# Both servers: the api suite makes 10,000+ ports in one project, past the default quota;
# Fermion also gets the agents' suites' hundreds of routers, floating IPs and groups.
QUOTAS_CONF = "[quotas]\nquota_network = -1\nquota_subnet = -1\nquota_port = -1\n"
AGENT_QUOTAS = "quota_router = -1\nquota_floatingip = -1\nquota_security_group = -1\n"


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGTERM when the benchmark dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def start_child(argv: Sequence[str], out: Any = subprocess.DEVNULL, **kw: Any
                ) -> subprocess.Popen:
    """A child in its own session (its pid is its group) that dies with us."""
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT if out is not subprocess.DEVNULL else out,
                            start_new_session=True, preexec_fn=die_with_parent, **kw)


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """TERM, then KILL, a tracked child and whatever is left in the group it leads."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class ApiError(RuntimeError):
    pass


@dataclass
class Response:
    status: int
    body: bytes
    elapsed: float  # from sending the request to the last byte of the answer

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Api:
    """Neutron v2.0 over HTTP/1.1 with the stdlib: one kept-alive connection (reopened once
    when the server closed it), or with ``fresh`` a new TCP connection per request
    (``Connection: close``: what the api suite measures, as upstream's uWSGI needs it)."""

    def __init__(self, url: str, timeout: float = 120.0, fresh: bool = False) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout, self.fresh = timeout, fresh
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> Response:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"} | (
            {"Content-Type": "application/json"} if data else {}) | (
            {"Connection": "close"} if self.fresh else {})
        for attempt in range(2):
            conn = self.conn or http.client.HTTPConnection(self.host, self.port,
                                                           timeout=self.timeout)
            self.conn = None if self.fresh else conn  # a fresh one is this thread's alone
            try:
                t0 = time.perf_counter()
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                return Response(resp.status, resp.read(), time.perf_counter() - t0)
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt or self.fresh:
                    raise
            finally:
                if self.fresh:
                    conn.close()
        raise AssertionError("unreachable")

    def expect(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded answer of a request that must succeed (ApiError otherwise)."""
        r = self.request(method, path, body)
        if r.status >= 300:
            raise ApiError(f"{method} {path} -> {r.status}: {r.body[:300]!r}")
        return r.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """What a POST made: ``{"port": {...}}`` -> ``{...}`` (or the list of a bulk)."""
        return next(iter(self.expect("POST", path, body).values()))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class ManagedServer:
    """A server child process: start, wait until ``GET /`` answers 200, measure, stop.
    Subclasses write their config in ``prepare()`` and name their ``command()``."""

    name = "server"
    ready_timeout = 120.0

    def __init__(self, log: Log = print, host: str = "127.0.0.1") -> None:
        self.log, self.host, self.port = log, host, 0
        self.workdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    def prepare(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items()
                if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        with socket.socket() as s:  # a free port
            s.bind((self.host, 0))
            self.port = s.getsockname()[1]
        self.prepare()
        self.log(f"[{self.name}] starting: {' '.join(self.command())}")
        t0 = time.monotonic()
        with open(self.workdir / "server.log", "wb") as out:
            self.proc = start_child(self.command(), out, cwd=self.workdir,
                                    env=self.environment())
        probe = Api(self.url, timeout=2.0, fresh=True)
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if probe.request("GET", "/").status == 200:
                    break
            if self.proc.poll() is not None or time.monotonic() > t0 + self.ready_timeout:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) or was not "
                                   f"ready in {self.ready_timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.1)
        self.startup_s = round(time.monotonic() - t0, 2)
        self.log(f"[{self.name}] ready at {self.url} (pid {self.pid}) after {self.startup_s}s")

    def rss(self) -> dict[str, Any]:
        return tree_rss_mb(self.pid or 0)

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid or 0)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError, TypeError):
            return "\n".join((self.workdir / "server.log").read_text(errors="replace")
                             .splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        """Stop the tracked process group and remove the work directory."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_group(proc, timeout=15)
            self.log(f"[{self.name}] stopped (pid {proc.pid})")
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


def fermion_executable() -> Path:
    """``fermion`` next to the running Python (the repo's .venv), else the repo's .venv."""
    here = Path(sys.executable).parent / "fermion"
    return here if here.exists() else REPO / ".venv" / "bin" / "fermion"


class FermionServer(ManagedServer):
    """``fermion server`` with a private SQLite file on a free loopback port."""

    name = "fermion"
    ready_timeout = 60.0

    def prepare(self) -> None:
        wd = self.workdir
        assert wd is not None
        (wd / "neutron.conf").write_text(
            f"[DEFAULT]\nbind_host = {self.host}\nbind_port = {self.port}\n"
            "auth_strategy = noauth\ncore_plugin = ml2\nservice_plugins = router\n"
            f"debug = false\n\n[database]\nconnection = sqlite:///{wd / 'fermion.sqlite'}\n\n"
            + QUOTAS_CONF + AGENT_QUOTAS)
        (wd / "ml2_conf.ini").write_text(ML2_CONF)

    def command(self) -> list[str]:
        assert self.workdir is not None
        return [str(fermion_executable()), "server", "--config-file",
                str(self.workdir / "neutron.conf"), "--config-file",
                str(self.workdir / "ml2_conf.ini")]

    def version(self) -> str:
        def git(*args: str) -> str:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                                      text=True, timeout=10).stdout.strip()
            return ""

        dirty = "+dirty" if git("status", "--porcelain", "src") else ""
        return f"fermion {git('rev-parse', '--short', 'HEAD') or 'unknown'}{dirty} (SQLite)"
