"""What every ``fermion agent …`` command builds from its command line.

The CLI (``fermion.cli``) resolves each flag that stands for an INI option (a flag given
wins over the files, the files over the option's default), so an agent reads ``args`` only;
options without a flag are read from ``args.conf``. This module turns the shared ones into
objects: the server client and the host's Open vSwitch.
"""

from __future__ import annotations

from fermion.agent.server_client import ServerClient
from fermion.linux.ovs import Ovs, detect_datapath_type, rundir_of


def server_client(args, *, timeout: float = 30.0) -> ServerClient:
    """``--server`` with ``--os-token`` (a Keystone token) when given."""
    headers = {"X-Auth-Token": args.os_token} if args.os_token else {}
    return ServerClient(args.server, headers=headers, timeout=timeout)


def host_ovs(args) -> Ovs:
    """``--ovs-rundir`` (else the directory of ``[ovs] ovsdb_connection``) and
    ``--datapath-type`` (else detected: netdev without the openvswitch kernel module)."""
    rundir = args.ovs_rundir or rundir_of(args.conf.get("ovs", "ovsdb_connection"))
    return Ovs(rundir, datapath_type=args.datapath_type or detect_datapath_type())
