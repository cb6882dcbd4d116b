"""Upstream neutron-server as the benchmark peer.

Installs ``neutron==29.0.0`` and ``uwsgi`` into ``bench/.peer/venv`` (once; a marker file
records the versions), then runs Neutron's WSGI app ``neutron.wsgi.api:application`` under
uWSGI on 127.0.0.1 — ML2, noauth, SQLite, no agents, one process with one thread and
``Connection: close`` (see shared/PEER-NEUTRON.md for why each of those).

The schema is built from Neutron's models (``neutron-db-manage upgrade heads`` does not
run on SQLite) and then stamped with ``neutron-db-manage stamp heads``.

``clone_ports`` fills the port table to a list size without the API (which creates only a
few ports per second here): it copies ports that the API created, row for row in every
table that hangs off a port, with fresh ids, MAC and IP addresses (see its docstring).

``python -m bench.peer_neutron`` installs the peer, starts it, prints its URL and waits
for Ctrl-C — handy for poking at upstream by hand.
"""

from __future__ import annotations

import ipaddress
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid
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

    def clone_ports(self, network_id: str, templates: list[str], names: list[str],
                    device_ids: list[str]) -> list[str]:
        """``clone_ports`` on this server's database (see there)."""
        assert self.workdir is not None
        return clone_ports(self.workdir / "neutron.sqlite", network_id, templates, names,
                           device_ids)

    def log_tail(self, lines: int = 40) -> str:
        out = super().log_tail(lines)
        if self.workdir is not None and (self.workdir / "neutron.log").exists():
            text = (self.workdir / "neutron.log").read_text(errors="replace").splitlines()
            out += "\n--- neutron.log ---\n" + "\n".join(text[-lines:])
        return out


# -- filling the port table by copying rows ----------------------------------------------------

def _port_tables(db: sqlite3.Connection) -> tuple[list[tuple[str, str]], list[str]]:
    """(table, column) pairs that reference ``ports.id``, and the tables other than
    ``ports`` that reference ``standardattributes.id`` (by their ``standard_attr_id``)."""
    by_port, by_std = [], []
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        for fk in db.execute(f"PRAGMA foreign_key_list({table})"):
            target, column, target_column = fk[2], fk[3], fk[4]
            if target == "ports" and target_column == "id":
                by_port.append((table, column))
            elif (target == "standardattributes" and target_column == "id"
                  and table != "ports"):
                by_std.append(table)
    return by_port, by_std


def _rows(db: sqlite3.Connection, table: str, column: str, value: object,
          **also: object) -> list[dict]:
    """Rows of ``table`` where ``column`` = value (and each of ``also``), as dicts."""
    where = " AND ".join(f'"{c}" = ?' for c in (column, *also))
    cur = db.execute(f'SELECT * FROM "{table}" WHERE {where}', (value, *also.values()))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _insert(db: sqlite3.Connection, table: str, row: dict) -> int:
    names = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join("?" for _ in row)
    return db.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                      tuple(row.values())).lastrowid


class _Addresses:
    """Free addresses of a subnet's allocation pools, highest first."""

    def __init__(self, db: sqlite3.Connection, subnet_id: str) -> None:
        self.taken = {r[0] for r in db.execute(
            "SELECT ip_address FROM ipallocations WHERE subnet_id = ?", (subnet_id,))}
        self.pools = [(ipaddress.ip_address(a), ipaddress.ip_address(b)) for a, b in db.execute(
            "SELECT first_ip, last_ip FROM ipallocationpools WHERE subnet_id = ?",
            (subnet_id,))]
        self.pools.sort(reverse=True)
        self._next = self._generate()

    def _generate(self):
        for first, last in self.pools:
            make = type(first)
            for value in range(int(last), int(first) - 1, -1):
                address = str(make(value))
                if address not in self.taken:
                    self.taken.add(address)
                    yield address

    def take(self) -> str:
        try:
            return next(self._next)
        except StopIteration:
            raise RuntimeError("subnet full: no free address to clone a port with") from None


def clone_ports(db_path: Path, network_id: str, templates: list[str], names: list[str],
                device_ids: list[str]) -> list[str]:
    """Add ``len(names)`` ports to Neutron's SQLite database by copying ``templates``
    (ports the API created) in turn; return the new ports' ids.

    Every row that makes up a template port is copied: its ``standardattributes`` and
    ``ports`` rows, the rows of every table with a foreign key to ``ports.id`` (fixed IPs,
    ML2 binding, port security, security groups, and any other extension's table), the
    rows of every other table keyed by its ``standard_attr_id`` (tags, provisioning
    blocks) and the IPAM driver's ``ipamallocations`` entry for each fixed IP, so that
    upstream later frees, updates and allocates around the copies as around its own ports.
    A copy gets a new UUID, the next standard-attribute id, a new MAC address unique in the
    network, a new free address from the same subnet's pools for each fixed IP, and the
    given name and device_id; everything else (status, owner, binding, timestamps,
    revision) is the template's. One transaction; the server may be running (it is idle).
    """
    db = sqlite3.connect(str(db_path), timeout=60, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        by_port, by_std = _port_tables(db)
        macs = {r[0] for r in db.execute("SELECT mac_address FROM ports WHERE network_id = ?",
                                         (network_id,))}
        ipam_subnet = dict(db.execute("SELECT neutron_subnet_id, id FROM ipamsubnets"))
        pools: dict[str, _Addresses] = {}
        rng = random.Random(len(macs))
        sources = [_template(db, t, by_port, by_std) for t in templates]
        new_ids = []
        for k, (name, device_id) in enumerate(zip(names, device_ids, strict=True)):
            src = sources[k % len(sources)]
            std_id = _insert(db, "standardattributes", src.std)
            mac = src.port["mac_address"]
            while mac in macs:
                mac = "fa:16:3e:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
            macs.add(mac)
            new_id = str(uuid.uuid4())
            _insert(db, "ports", {**src.port, "id": new_id, "mac_address": mac,
                                  "standard_attr_id": std_id, "name": name,
                                  "device_id": device_id})
            for table, column, row in src.children:
                row = {**row, column: new_id}
                if table == "ipallocations":
                    subnet = row["subnet_id"]
                    if subnet not in pools:
                        pools[subnet] = _Addresses(db, subnet)
                    old_ip, row["ip_address"] = row["ip_address"], pools[subnet].take()
                    for ipam in _rows(db, "ipamallocations", "ipam_subnet_id",
                                      ipam_subnet.get(subnet), ip_address=old_ip):
                        _insert(db, "ipamallocations", {**ipam, "ip_address": row["ip_address"]})
                _insert(db, table, row)
            for table, row in src.std_children:
                _insert(db, table, {**row, "standard_attr_id": std_id})
            new_ids.append(new_id)
        db.execute("COMMIT")
        return new_ids
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()


class _Template:
    """One template port's rows: its standard attributes (without the id), its ``ports``
    row, the rows that reference it (table, column, row) and those that reference its
    standard attributes (table, row)."""

    def __init__(self, std: dict, port: dict, children: list[tuple[str, str, dict]],
                 std_children: list[tuple[str, dict]]) -> None:
        self.std, self.port = std, port
        self.children, self.std_children = children, std_children


def _template(db: sqlite3.Connection, port_id: str, by_port: list[tuple[str, str]],
              by_std: list[str]) -> _Template:
    ports = _rows(db, "ports", "id", port_id)
    if not ports:
        raise RuntimeError(f"template port {port_id} is not in the database")
    port = ports[0]
    std = _rows(db, "standardattributes", "id", port["standard_attr_id"])[0]
    std.pop("id")
    children = [(table, column, row) for table, column in by_port
                for row in _rows(db, table, column, port_id)]
    std_children = [(table, row) for table in by_std
                    for row in _rows(db, table, "standard_attr_id", port["standard_attr_id"])]
    return _Template(std, port, children, std_children)


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
