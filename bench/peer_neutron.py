"""Upstream neutron-server as the benchmark peer.

Installs ``neutron==29.0.0`` and ``uwsgi`` into ``bench/.peer/venv`` (once; a marker file
records the versions) and runs ``neutron.wsgi.api:application`` under uWSGI on 127.0.0.1:
ML2, noauth, SQLite, no agents, one process with one thread and ``Connection: close`` (see
shared/PEER-NEUTRON.md for why). The schema is built from Neutron's models
(``neutron-db-manage upgrade heads`` does not run on SQLite), then stamped ``heads``.
``clone_ports`` fills its port table without the API, which makes only a few ports per
second here.
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
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from bench.harness import Log
from bench.procs import ML2_CONF, QUOTAS_CONF, ManagedServer

NEUTRON_VERSION = "29.0.0"
PEER_DIR = Path(__file__).resolve().parent / ".peer"
VENV = PEER_DIR / "venv"
MARKER = PEER_DIR / "installed.txt"
REQUIREMENTS = [f"neutron=={NEUTRON_VERSION}", "uwsgi"]
# The venv is made with the Python that runs the benchmark, unless told otherwise.
BASE_PYTHON = os.environ.get("BENCH_PEER_PYTHON", sys.executable)
NEUTRON_CONF = """\
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
api_paste_config = {venv}/etc/neutron/api-paste.ini
state_path = {wd}/state
log_dir = {wd}
log_file = neutron.log
debug = false

[database]
connection = sqlite:///{wd}/neutron.sqlite

[oslo_concurrency]
lock_path = {wd}/lock

[oslo_messaging_notifications]
driver = noop

"""
UWSGI_INI = """\
[uwsgi]
http-socket = 127.0.0.1:{port}
home = {venv}
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
CREATE_SCHEMA = ("import sys; from sqlalchemy import create_engine; "
                 "from neutron.db.migration.models import head; "
                 "e = create_engine(sys.argv[1]); head.get_metadata().create_all(e); e.dispose()")


def installed() -> bool:
    return (MARKER.exists() and MARKER.read_text().split() == REQUIREMENTS
            and all((VENV / "bin" / x).exists() for x in ("uwsgi", "neutron-db-manage")))


def ensure_installed(log: Log = print) -> float:
    """Install the peer if needed; return the seconds spent (0 when it was there)."""
    if installed():
        log(f"[neutron] peer already installed in {VENV}")
        return 0.0
    t0 = time.monotonic()
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "python").exists():  # from inside a venv, still on the base one
        subprocess.run([BASE_PYTHON, "-m", "venv", str(VENV)], check=True)
    log(f"[neutron] pip install {' '.join(REQUIREMENTS)} (first time: about 1-2 min, "
        "uwsgi compiles from source)")
    lines: list[str] = []  # pip's progress lines are passed on, all of them on failure
    with subprocess.Popen([str(VENV / "bin" / "python"), "-m", "pip", "install",
                           "--disable-pip-version-check", "--progress-bar", "off",
                           *REQUIREMENTS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout or ():
            lines.append(line.rstrip())
            if line.lstrip().startswith(("Collecting", "Building", "Installing",
                                         "Successfully", "ERROR", "error:")):
                log(f"[neutron]   {line.strip()[:150]}")
    if proc.returncode != 0:
        raise RuntimeError(f"pip install failed ({proc.returncode}):\n" + "\n".join(lines[-60:]))
    MARKER.write_text(" ".join(REQUIREMENTS) + "\n")
    log(f"[neutron] installed in {time.monotonic() - t0:.0f}s")
    return time.monotonic() - t0


class NeutronPeer(ManagedServer):
    """Upstream Neutron under uWSGI, with ``clone_ports`` on its database."""

    name = "neutron"

    def prepare(self) -> None:
        ensure_installed(self.log)
        wd = self.workdir
        assert wd is not None
        (wd / "state").mkdir()
        (wd / "lock").mkdir()
        (wd / "neutron.conf").write_text(NEUTRON_CONF.format(port=self.port, venv=VENV, wd=wd)
                                         + QUOTAS_CONF)
        (wd / "ml2_conf.ini").write_text(ML2_CONF)
        (wd / "uwsgi.ini").write_text(UWSGI_INI.format(port=self.port, venv=VENV))
        self.log("[neutron] building the schema from the models, then stamp heads")
        for cmd in ([str(VENV / "bin" / "python"), "-c", CREATE_SCHEMA,
                     f"sqlite:///{wd / 'neutron.sqlite'}"],
                    [str(VENV / "bin" / "neutron-db-manage"), "--config-file",
                     str(wd / "neutron.conf"), "--config-file", str(wd / "ml2_conf.ini"),
                     "stamp", "heads"]):
            res = subprocess.run(cmd, cwd=wd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n"
                                   f"{res.stdout[-3000:]}{res.stderr[-3000:]}")

    def command(self) -> list[str]:
        assert self.workdir is not None
        return [str(VENV / "bin" / "uwsgi"), "--ini", str(self.workdir / "uwsgi.ini")]

    def environment(self) -> dict[str, str]:
        return super().environment() | {"OS_NEUTRON_CONFIG_DIR": str(self.workdir),
                                        "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini"}

    def version(self) -> str:
        return f"neutron {NEUTRON_VERSION} (uWSGI, SQLite, 1 process x 1 thread)"

    def clone_ports(self, network_id: str, templates: list[str], names: list[str],
                    device_ids: list[str]) -> list[str]:
        assert self.workdir is not None
        return clone_ports(self.workdir / "neutron.sqlite", network_id, templates, names,
                           device_ids)

    def log_tail(self, lines: int = 40) -> str:
        log = (self.workdir or Path("/nonexistent")) / "neutron.log"
        extra = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
        return super().log_tail(lines) + "\n--- neutron.log ---\n" + "\n".join(extra)


# -- filling the port table by copying rows ----------------------------------------------------

def _rows(db: sqlite3.Connection, table: str, column: str, value: object,
          **also: object) -> list[dict]:
    """Rows of ``table`` where ``column`` = value (and each of ``also``), as dicts."""
    where = " AND ".join(f'"{c}" = ?' for c in (column, *also))
    cur = db.execute(f'SELECT * FROM "{table}" WHERE {where}', (value, *also.values()))
    return [dict(zip([d[0] for d in cur.description], row, strict=True)) for row in cur]


def _insert(db: sqlite3.Connection, table: str, row: dict) -> int:
    names, marks = ", ".join(f'"{c}"' for c in row), ", ".join("?" * len(row))
    return db.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                      tuple(row.values())).lastrowid


def _free_addresses(db: sqlite3.Connection, subnet_id: str) -> Iterator[str]:
    """Free addresses of a subnet's allocation pools, highest first."""
    taken = {r[0] for r in db.execute(
        "SELECT ip_address FROM ipallocations WHERE subnet_id = ?", (subnet_id,))}
    pools = sorted(((ipaddress.ip_address(a), ipaddress.ip_address(b)) for a, b in db.execute(
        "SELECT first_ip, last_ip FROM ipallocationpools WHERE subnet_id = ?", (subnet_id,))),
        reverse=True)
    for first, last in pools:
        for value in range(int(last), int(first) - 1, -1):
            if (address := str(type(first)(value))) not in taken:
                taken.add(address)
                yield address
    raise RuntimeError("subnet full: no free address to clone a port with")


class _Template(NamedTuple):
    """One template port's rows: its standard attributes (without the id), its ``ports``
    row, the rows that reference it (table, column, row) and those that reference its
    standard attributes (table, row)."""

    std: dict
    port: dict
    children: list[tuple[str, str, dict]]
    std_children: list[tuple[str, dict]]


def _templates(db: sqlite3.Connection, port_ids: list[str]) -> list[_Template]:
    by_port, by_std = [], []  # (table, column) referencing ports.id; tables referencing
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                               "ORDER BY name"):  # standardattributes.id
        for fk in db.execute(f"PRAGMA foreign_key_list({table})"):
            if fk[2] == "ports" and fk[4] == "id":
                by_port.append((table, fk[3]))
            elif fk[2] == "standardattributes" and fk[4] == "id" and table != "ports":
                by_std.append(table)
    out = []
    for port_id in port_ids:
        if not (ports := _rows(db, "ports", "id", port_id)):
            raise RuntimeError(f"template port {port_id} is not in the database")
        std_id = ports[0]["standard_attr_id"]
        std = _rows(db, "standardattributes", "id", std_id)[0]
        std.pop("id")
        out.append(_Template(std, ports[0], [
            (table, column, row) for table, column in by_port
            for row in _rows(db, table, column, port_id)], [
            (table, row) for table in by_std for row in _rows(db, table, "standard_attr_id",
                                                              std_id)]))
    return out


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
        macs = {r[0] for r in db.execute("SELECT mac_address FROM ports WHERE network_id = ?",
                                         (network_id,))}
        ipam_subnet = dict(db.execute("SELECT neutron_subnet_id, id FROM ipamsubnets"))
        pools: dict[str, Iterator[str]] = {}
        rng = random.Random(len(macs))
        sources = _templates(db, templates)
        new_ids = []
        for k, (name, device_id) in enumerate(zip(names, device_ids, strict=True)):
            src = sources[k % len(sources)]
            std_id = _insert(db, "standardattributes", src.std)
            mac = src.port["mac_address"]
            while mac in macs:
                mac = "fa:16:3e:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
            macs.add(mac)
            new_ids.append(new_id := str(uuid.uuid4()))
            _insert(db, "ports", {**src.port, "id": new_id, "mac_address": mac,
                                  "standard_attr_id": std_id, "name": name,
                                  "device_id": device_id})
            for table, column, row in src.children:
                row = {**row, column: new_id}
                if table == "ipallocations":
                    subnet = row["subnet_id"]
                    pools.setdefault(subnet, _free_addresses(db, subnet))
                    old_ip, row["ip_address"] = row["ip_address"], next(pools[subnet])
                    for ipam in _rows(db, "ipamallocations", "ipam_subnet_id",
                                      ipam_subnet.get(subnet), ip_address=old_ip):
                        _insert(db, "ipamallocations", {**ipam, "ip_address": row["ip_address"]})
                _insert(db, table, row)
            for table, row in src.std_children:
                _insert(db, table, {**row, "standard_attr_id": std_id})
        db.execute("COMMIT")
        return new_ids
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
