"""Upstream neutron-server as the benchmark peer.

Installs ``neutron==29.0.0`` and ``uwsgi`` into ``bench/.peer/venv`` (once; a marker file
records the versions), then runs Neutron's WSGI app ``neutron.wsgi.api:application`` under
uWSGI on 127.0.0.1 — ML2, noauth, SQLite, no agents, one process with one thread and
``Connection: close`` (see shared/PEER-NEUTRON.md for why each of those).

The schema is built from Neutron's models (``neutron-db-manage upgrade heads`` does not
run on SQLite) and then stamped with ``neutron-db-manage stamp heads``.

``python -m bench.peer_neutron`` installs the peer, starts it, prints its URL and waits
for Ctrl-C — handy for poking at upstream by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.proc import ML2_CONF, QUOTAS_CONF, Log, ManagedServer, install_signal_handlers

NEUTRON_VERSION = "29.0.0"
PEER_DIR = Path(__file__).resolve().parent / ".peer"
VENV = PEER_DIR / "venv"
MARKER = PEER_DIR / "installed.txt"
REQUIREMENTS = [f"neutron=={NEUTRON_VERSION}", "uwsgi"]
# The venv is made with the Python that runs the benchmark, unless told otherwise.
BASE_PYTHON = os.environ.get("BENCH_PEER_PYTHON", sys.executable)


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def installed() -> bool:
    return (MARKER.exists() and MARKER.read_text().split() == REQUIREMENTS
            and (VENV / "bin" / "uwsgi").exists()
            and (VENV / "bin" / "neutron-db-manage").exists())


def ensure_installed(log: Log = print) -> float:
    """Install the peer if needed; return the seconds spent (0 when it was there)."""
    if installed():
        log(f"[neutron] peer already installed in {VENV}")
        return 0.0
    t0 = time.monotonic()
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    if not _venv_python().exists():
        log(f"[neutron] creating venv {VENV} with {BASE_PYTHON}")
        # Run from inside a venv, this still makes a venv on the base interpreter.
        subprocess.run([BASE_PYTHON, "-m", "venv", str(VENV)], check=True)
    pip = [str(_venv_python()), "-m", "pip", "--disable-pip-version-check"]
    log(f"[neutron] pip install {' '.join(REQUIREMENTS)} (first time: about 1-2 min, "
        "uwsgi compiles from source)")
    _pip_install([*pip, "install", "--progress-bar", "off", *REQUIREMENTS], log)
    MARKER.write_text(" ".join(REQUIREMENTS) + "\n")
    spent = time.monotonic() - t0
    log(f"[neutron] installed in {spent:.0f}s")
    return spent


_PIP_PROGRESS = ("Collecting", "Building", "Installing", "Successfully", "ERROR", "error:")


def _pip_install(cmd: list[str], log: Log) -> None:
    """Run pip, passing on only its progress lines (the whole output on failure)."""
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.lstrip().startswith(_PIP_PROGRESS):
                log(f"[neutron]   {line.strip()[:150]}")
    if proc.returncode != 0:
        tail = "\n".join(lines[-60:])
        raise RuntimeError(f"pip install failed ({proc.returncode}):\n{tail}")


def _neutron_conf(workdir: Path, port: int) -> str:
    paste = VENV / "etc" / "neutron" / "api-paste.ini"
    return f"""\
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = noauth
bind_host = 127.0.0.1
bind_port = {port}
transport_url = fake://
rpc_workers = 0
rpc_state_report_workers = 0
api_workers = 1
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
api_paste_config = {paste}
state_path = {workdir / "state"}
log_dir = {workdir}
log_file = neutron.log
debug = false

[database]
connection = sqlite:///{workdir / "neutron.sqlite"}

[oslo_concurrency]
lock_path = {workdir / "lock"}

[oslo_messaging_notifications]
driver = noop

""" + QUOTAS_CONF


def _uwsgi_ini(port: int) -> str:
    return f"""\
[uwsgi]
http-socket = 127.0.0.1:{port}
home = {VENV}
module = neutron.wsgi.api:application
need-app = true
master = true
processes = 1
threads = 1
lazy-apps = true
die-on-term = true
add-header = Connection: close
buffer-size = 65535
listen = 128
disable-logging = true
"""

_CREATE_SCHEMA = """\
import sys
from sqlalchemy import create_engine
from neutron.db.migration.models import head
engine = create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
engine.dispose()
"""


def _run_quiet(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n"
                           f"{res.stdout[-3000:]}{res.stderr[-3000:]}")


class NeutronPeer(ManagedServer):
    """Upstream Neutron under uWSGI; ``url``, ``pid``, ``stop()`` as every ManagedServer."""

    name = "neutron"

    def __init__(self, log: Log = print, host: str = "127.0.0.1") -> None:
        super().__init__(log, host)
        self.install_s = 0.0

    def prepare(self) -> None:
        if not installed():
            self.install_s = ensure_installed(self.log)
        wd = self.workdir
        assert wd is not None
        (wd / "state").mkdir()
        (wd / "lock").mkdir()
        (wd / "neutron.conf").write_text(_neutron_conf(wd, self.port))
        (wd / "ml2_conf.ini").write_text(ML2_CONF)
        (wd / "uwsgi.ini").write_text(_uwsgi_ini(self.port))
        url = f"sqlite:///{wd / 'neutron.sqlite'}"
        self.log("[neutron] building the schema from the models, then stamp heads")
        _run_quiet([str(_venv_python()), "-c", _CREATE_SCHEMA, url], cwd=wd)
        _run_quiet([str(VENV / "bin" / "neutron-db-manage"),
                    "--config-file", str(wd / "neutron.conf"),
                    "--config-file", str(wd / "ml2_conf.ini"), "stamp", "heads"], cwd=wd)

    def command(self) -> list[str]:
        assert self.workdir is not None
        return [str(VENV / "bin" / "uwsgi"), "--ini", str(self.workdir / "uwsgi.ini")]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            env.pop(var, None)
        env["OS_NEUTRON_CONFIG_DIR"] = str(self.workdir)
        env["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf;ml2_conf.ini"
        return env

    def version(self) -> str:
        return f"neutron {NEUTRON_VERSION} (uWSGI, SQLite, 1 process x 1 thread)"

    def log_tail(self, lines: int = 40) -> str:
        out = super().log_tail(lines)
        if self.workdir is not None and (self.workdir / "neutron.log").exists():
            text = (self.workdir / "neutron.log").read_text(errors="replace").splitlines()
            out += "\n--- neutron.log ---\n" + "\n".join(text[-lines:])
        return out


def main() -> None:
    install_signal_handlers()
    with NeutronPeer() as peer:
        print(f"neutron peer at {peer.url} (pid {peer.pid}); Ctrl-C stops it")
        try:
            while peer.proc is not None and peer.proc.poll() is None:
                time.sleep(1)
        except (KeyboardInterrupt, SystemExit):
            pass


if __name__ == "__main__":
    main()
