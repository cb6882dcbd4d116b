"""The ``fermion`` command: one entry point for the server and its tools.

  fermion server [--config-file FILE]...   the Networking API on bind_host:bind_port
  fermion db upgrade [--config-file FILE]...   migrate the database to the newest schema
  fermion agent l2 --host NAME [--server URL] [--once] ...   the Open vSwitch L2 agent
"""

from __future__ import annotations

import argparse
import logging
import sys

from fermion import __version__
from fermion.config import ConfigError, load


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", action="append", default=[], metavar="FILE",
                        help="INI file with Neutron's option names (neutron.conf, "
                             "ml2_conf.ini, ...); repeatable, later files win")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fermion", description="Fermion: a Neutron-compatible networking service.")
    parser.add_argument("--version", action="version", version=f"fermion {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = sub.add_parser("server", help="run the Networking API server",
                            description="Serve the OpenStack Networking API v2.0 on "
                                        "[DEFAULT] bind_host:bind_port (127.0.0.1:9696). The "
                                        "database ([database] connection, SQLite by default) "
                                        "is migrated to the newest schema at start.")
    _config_args(server)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    _config_args(upgrade)

    agent = sub.add_parser("agent", help="run an agent of this host")
    agent_sub = agent.add_subparsers(dest="agent_kind", required=True, metavar="AGENT")
    l2 = agent_sub.add_parser(
        "l2", help="the Open vSwitch L2 agent",
        description="Converge this host's Open vSwitch (br-int, br-tun, physnet bridges, "
                    "local VLANs, OpenFlow pipelines) to the server's model, watching its "
                    "change feed; report wired ports ACTIVE.")
    _agent_args(l2)
    l2.add_argument("--ovs-rundir", default="/var/run/openvswitch", metavar="DIR",
                    help="OVS run directory holding db.sock (the OVSDB socket) and the "
                         "bridges' <bridge>.mgmt sockets (default: %(default)s)")
    l2.add_argument("--datapath-type", default=None, choices=("system", "netdev"),
                    help="bridge datapath (default: system if the openvswitch kernel module "
                         "is loaded, else netdev)")
    l2.add_argument("--bridge-mappings", action="append", default=[], metavar="PHYSNET:BR",
                    help="physnet:bridge, comma-separated or repeated (e.g. physnet:br-phys)")
    l2.add_argument("--local-ip", default=None, help="this host's tunnel endpoint address")
    l2.add_argument("--tunnel-types", action="append", default=[], metavar="TYPES",
                    help="tunnel types, comma-separated or repeated (e.g. vxlan)")
    l2.add_argument("--report-interval", type=float, default=30.0, metavar="S",
                    help="seconds between state reports (default: %(default)s)")
    l2.add_argument("--poll-interval", type=float, default=2.0, metavar="S",
                    help="longest wait on the change feed before a local pass "
                         "(default: %(default)s)")

    args = parser.parse_args(argv)
    if args.command == "agent":
        return _agent(args)
    try:
        conf = load(args.config_file)
    except ConfigError as error:
        print(f"fermion: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if conf.get("DEFAULT", "debug") else logging.INFO,
        filename=conf.get("DEFAULT", "log_file") or None,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "server":
        return _serve(conf)
    if args.command == "db":
        from fermion.db.migrate import upgrade as do_upgrade

        do_upgrade(conf.get("database", "connection"))
        print("database is at the newest schema")
        return 0
    return 1


def _agent_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="this host's name, as ports' "
                                                      "binding:host_id name it")
    parser.add_argument("--server", default="http://127.0.0.1:9696", metavar="URL",
                        help="the Fermion server (default: %(default)s)")
    parser.add_argument("--os-token", default=None, metavar="TOKEN",
                        help="a Keystone token for an admin/service user (noauth: none)")
    parser.add_argument("--once", action="store_true",
                        help="one pass (report, snapshot, converge, port status), then exit")
    parser.add_argument("--debug", action="store_true", help="debug logging")


def _agent(args) -> int:
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.agent_kind == "l2":
        from fermion.agent.l2_agent import main as l2_main

        try:
            return l2_main(args)
        except ValueError as error:
            print(f"fermion agent l2: {error}", file=sys.stderr)
            return 2
    return 1


def _serve(conf) -> int:
    import uvicorn

    from fermion.api.app import create_app

    app = create_app(conf)
    uvicorn.run(app, host=conf.get("DEFAULT", "bind_host"), port=conf.get("DEFAULT", "bind_port"),
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
