"""The ``fermion`` command: one entry point for the server and its tools.

  fermion server [--config-file FILE]...   the Networking API on bind_host:bind_port
  fermion db upgrade [--config-file FILE]...   migrate the database to the newest schema
  fermion agent l2 --host NAME [--server URL] [--once] ...   the Open vSwitch L2 agent
  fermion agent dhcp --host NAME [--config-file dhcp_agent.ini] ...   the DHCP agent
  fermion agent l3 --host NAME [--server URL] [--once] ...   the L3 agent (routers)
  fermion agent metadata --host NAME [--config-file metadata_agent.ini] ...   the metadata agent
  fermion compute-api [--config-file nova.conf]...   the Compute, Image and metadata APIs
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

    compute = sub.add_parser(
        "compute-api", help="run the Compute, Image and metadata APIs",
        description="Serve the Compute API (Nova's subset, [DEFAULT] osapi_compute_listen_port "
                    "8774), the Image API (built-in images, [fermion] image_api_listen_port "
                    "9292) and the metadata service ([DEFAULT] metadata_listen_port 8775) "
                    "from nova.conf options. The Networking API is [neutron] "
                    "endpoint_override; the compute store is [database] connection "
                    "(default sqlite:///fermion-compute.sqlite), migrated at start.")
    _config_args(compute)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    _config_args(upgrade)

    agent = sub.add_parser("agent", help="run an agent of this host")
    agent_sub = agent.add_subparsers(dest="agent_kind", required=True, metavar="AGENT")
    _l2_agent_parser(agent_sub)
    _l3_agent_parser(agent_sub)
    _dhcp_agent_parser(agent_sub)
    _metadata_agent_parser(agent_sub)

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
    if args.command == "compute-api":
        from fermion.compute_api import serve as serve_compute

        return serve_compute(conf)
    if args.command == "db":
        from fermion.db.migrate import upgrade as do_upgrade

        do_upgrade(conf.get("database", "connection"))
        print("database is at the newest schema")
        return 0
    return 1


def _agent_args(parser: argparse.ArgumentParser, *, poll_help: str | None = None) -> None:
    """Options every agent takes; agents read their INI options with ``load()`` and
    command-line values win over the files."""
    _config_args(parser)
    parser.add_argument("--host", default=None, help="this host's name, as ports' "
                                                     "binding:host_id name it ([DEFAULT] host)")
    parser.add_argument("--server", default="http://127.0.0.1:9696", metavar="URL",
                        help="the Fermion server (default: %(default)s)")
    parser.add_argument("--os-token", default=None, metavar="TOKEN",
                        help="a Keystone token for an admin/service user (noauth: none)")
    parser.add_argument("--once", action="store_true",
                        help="one pass (report, snapshot, converge, status), then exit")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    parser.add_argument("--report-interval", type=float, default=None, metavar="S",
                        help="seconds between state reports ([agent] report_interval; 30)")
    if poll_help:
        parser.add_argument("--poll-interval", type=float, default=None, metavar="S",
                            help=poll_help)


def _ovs_args(parser: argparse.ArgumentParser, *, kind: str = "") -> None:
    """Where this host's Open vSwitch is; with ``kind`` (qdhcp, qrouter) also the options
    that let simulated hosts share one kernel."""
    parser.add_argument("--ovs-rundir", default=None, metavar="DIR",
                        help="OVS run directory holding db.sock (the OVSDB socket) and the "
                             "bridges' <bridge>.mgmt sockets (default: the directory of [ovs] "
                             "ovsdb_connection, /var/run/openvswitch)")
    parser.add_argument("--datapath-type", default=None, choices=("system", "netdev"),
                        help="bridge datapath ([ovs] datapath_type; default: system if the "
                             "openvswitch kernel module is loaded, else netdev)")
    if kind:
        parser.add_argument("--ovs-netns", default=None, metavar="NS",
                            help="namespace ovs-vswitchd runs in, where the OVS ends of the "
                                 "veths go (default: the agent's own)")
        parser.add_argument("--namespace-prefix", default="", metavar="P",
                            help=f"put before every {kind}- namespace name (simulated hosts "
                                 "sharing one kernel; default: none)")


def _l2_agent_parser(agent_sub) -> None:
    l2 = agent_sub.add_parser(
        "l2", help="the Open vSwitch L2 agent",
        description="Converge this host's Open vSwitch (br-int, br-tun, physnet bridges, "
                    "local VLANs, OpenFlow pipelines) to the server's model, watching its "
                    "change feed; report wired ports ACTIVE. ml2_conf.ini [ovs]/[agent] "
                    "options come from --config-file.")
    _agent_args(l2, poll_help="longest wait on the change feed before a local pass; local "
                              "plugs are seen at once through an OVSDB monitor ([agent] "
                              "polling_interval; 2)")
    _ovs_args(l2)
    l2.add_argument("--bridge-mappings", action="append", default=None, metavar="PHYSNET:BR",
                    help="physnet:bridge, comma-separated or repeated (e.g. physnet:br-phys; "
                         "[ovs] bridge_mappings)")
    l2.add_argument("--local-ip", default=None,
                    help="this host's tunnel endpoint address ([ovs] local_ip)")
    l2.add_argument("--tunnel-types", action="append", default=None, metavar="TYPES",
                    help="tunnel types, comma-separated or repeated (e.g. vxlan; [agent] "
                         "tunnel_types)")
    l2.add_argument("--l2-population", action=argparse.BooleanOptionalAction, default=None,
                    help="unicast/flood entries in br-tun from the model instead of learning "
                         "([agent] l2_population; default: off)")
    l2.add_argument("--arp-responder", action=argparse.BooleanOptionalAction, default=None,
                    help="answer ARP for remote ports in br-tun table 21, with l2 population "
                         "([agent] arp_responder; default: off)")


def _l3_agent_parser(agent_sub) -> None:
    l3 = agent_sub.add_parser(
        "l3", help="the L3 agent (routers)",
        description="Realise the routers scheduled to this host as qrouter-<id> namespaces: "
                    "qr-/qg- ports on br-int, SNAT, floating IPs, extra routes, the metadata "
                    "proxy; watch the change feed. l3_agent.ini options come from "
                    "--config-file.")
    _agent_args(l3)
    _ovs_args(l3, kind="qrouter")
    l3.add_argument("--state-path", default=None, metavar="DIR",
                    help="metadata proxy pid and config files go under DIR/ns-metadata-proxy "
                         "([DEFAULT] state_path)")
    l3.add_argument("--iptables-backend", default="auto", choices=("auto", "nft", "legacy"),
                    help="iptables backend (default: the one `iptables` on this host is)")
    l3.add_argument("--enable-metadata-proxy", action=argparse.BooleanOptionalAction,
                    default=None, help="[DEFAULT] enable_metadata_proxy (default: on)")
    l3.add_argument("--metadata-proxy-socket", default=None, metavar="PATH",
                    help="the metadata agent's unix socket ([DEFAULT] metadata_proxy_socket)")
    l3.add_argument("--periodic-interval", type=float, default=None, metavar="S",
                    help="seconds between full passes without changes ([DEFAULT] "
                         "periodic_interval; 40)")


def _dhcp_agent_parser(agent_sub) -> None:
    dhcp = agent_sub.add_parser(
        "dhcp", help="the DHCP agent (dnsmasq, isolated metadata)",
        description="Serve DHCP and DNS with one dnsmasq per network scheduled to this host, "
                    "in namespace qdhcp-<network>, and the metadata proxy on isolated "
                    "networks. dhcp_agent.ini options ([DEFAULT] dnsmasq_dns_servers, "
                    "enable_isolated_metadata, state_path, ...) come from --config-file.")
    _agent_args(dhcp, poll_help="longest wait on the change feed before checking that "
                                "dnsmasq and haproxy are alive ([agent] polling_interval; 2)")
    _ovs_args(dhcp, kind="qdhcp")
    dhcp.add_argument("--cleanup", action="store_true",
                      help="stop this agent's dnsmasq/haproxy processes, delete its "
                           "namespaces and files, then exit")


def _metadata_agent_parser(agent_sub) -> None:
    md = agent_sub.add_parser(
        "metadata", help="the metadata agent (network nodes)",
        description="Serve the unix socket the routers' and DHCP namespaces' haproxy forward "
                    "instances' metadata requests to; find the instance behind each request "
                    "(router or network id + address, through the Networking API), sign its "
                    "id and forward to the metadata service. metadata_agent.ini options "
                    "(nova_metadata_host, nova_metadata_port, metadata_proxy_shared_secret, "
                    "metadata_proxy_socket, ...) come from --config-file.")
    _agent_args(md)
    md.add_argument("--metadata-proxy-socket", default=None, metavar="PATH",
                    help="the unix socket to serve ([DEFAULT] metadata_proxy_socket)")
    md.add_argument("--nova-metadata-host", default=None, metavar="HOST",
                    help="the metadata service's address ([DEFAULT] nova_metadata_host)")
    md.add_argument("--nova-metadata-port", type=int, default=None, metavar="PORT",
                    help="the metadata service's port ([DEFAULT] nova_metadata_port; 8775)")


AGENT_MAINS = {"l2": "fermion.agent.l2_agent", "l3": "fermion.agent.l3_agent",
               "dhcp": "fermion.agent.dhcp_agent", "metadata": "fermion.agent.metadata_agent"}


def _agent(args) -> int:
    import importlib

    try:
        args.conf = load(args.config_file)
    except ConfigError as error:
        print(f"fermion: configuration error: {error}", file=sys.stderr)
        return 2
    args.host = args.host or args.conf.get("DEFAULT", "host")
    if not args.host:
        print(f"fermion agent {args.agent_kind}: --host (or [DEFAULT] host) is required",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main_of = importlib.import_module(AGENT_MAINS[args.agent_kind]).main
    try:
        return main_of(args)
    except ValueError as error:  # a bad option value, named by the agent
        print(f"fermion agent {args.agent_kind}: {error}", file=sys.stderr)
        return 2


def _serve(conf) -> int:
    import uvicorn

    from fermion.api.app import create_app

    try:
        app = create_app(conf)
    except ConfigError as error:  # settings that do not fit together (ML2 types)
        print(f"fermion: configuration error: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=conf.get("DEFAULT", "bind_host"), port=conf.get("DEFAULT", "bind_port"),
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
