"""The ``fermion`` command: one entry point for the server and its tools.

  fermion server [--config-file FILE]...   the Networking API on bind_host:bind_port
  fermion db upgrade [--config-file FILE]...   migrate the database to the newest schema
  fermion agent l2 --host NAME [--server URL] [--once] ...   the Open vSwitch L2 agent
  fermion agent dhcp --host NAME [--config-file dhcp_agent.ini] ...   the DHCP agent
  fermion agent l3 --host NAME [--server URL] [--once] ...   the L3 agent (routers)
  fermion agent metadata --host NAME [--config-file metadata_agent.ini] ...   the metadata agent
  fermion compute-api [--config-file nova.conf]...   the Compute, Image and metadata APIs
  fermion lab up|down|status|exec|logs|openrc ...   the seed's labs as hosts on this machine
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from fermion import __version__
from fermion.config import ConfigError, load


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", action="append", default=[], metavar="FILE",
                        help="INI file with Neutron's option names (neutron.conf, "
                             "ml2_conf.ini, ...); repeatable, later files win")


def build_parser() -> argparse.ArgumentParser:
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
    _lab_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "agent":
        return _agent(args)
    if args.command == "lab":
        from fermion.lab.commands import main as lab_main

        return lab_main(args)
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


def _from_ini(parser: argparse.ArgumentParser, *flags: str, ini: tuple[str, str],
              help: str, **kwargs) -> None:
    """A flag standing for an INI option: when it is not given, ``_agent`` sets its value
    from the files (or the option's default). The help names the option and its default."""
    section, name = ini
    shown = _shown(load().get(section, name))
    suffix = f"[{section}] {name}" + (f"; default: {shown}" if shown else "")
    action = parser.add_argument(*flags, default=None, help=f"{help} ({suffix})", **kwargs)
    sources = dict(parser.get_default("ini_sources") or {})
    sources[action.dest] = ini
    parser.set_defaults(ini_sources=sources)


def _shown(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value or "")


def _agent_args(parser: argparse.ArgumentParser, *, poll_help: str | None = None) -> None:
    """Options every agent takes; agents read their INI options with ``load()`` and
    command-line values win over the files."""
    _config_args(parser)
    _from_ini(parser, "--host", ini=("DEFAULT", "host"),
              help="this host's name, as ports' binding:host_id name it (default: the "
                   "hostname, as in Neutron)")
    parser.add_argument("--server", default="http://127.0.0.1:9696", metavar="URL",
                        help="the Fermion server (default: %(default)s)")
    parser.add_argument("--os-token", default=None, metavar="TOKEN",
                        help="a Keystone token for an admin/service user (noauth: none)")
    parser.add_argument("--once", action="store_true",
                        help="one pass (report, snapshot, converge, status), print what it "
                             "did as JSON, then exit (status 1 when an object failed)")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    _from_ini(parser, "--report-interval", ini=("agent", "report_interval"), type=float,
              metavar="S", help="seconds between state reports")
    if poll_help:
        _from_ini(parser, "--poll-interval", ini=("agent", "polling_interval"), type=float,
                  metavar="S", help=poll_help)


def _ovs_args(parser: argparse.ArgumentParser, *, kind: str = "") -> None:
    """Where this host's Open vSwitch is; with ``kind`` (qdhcp, qrouter) also the options
    that let simulated hosts share one kernel."""
    parser.add_argument("--ovs-rundir", default=None, metavar="DIR",
                        help="OVS run directory holding db.sock (the OVSDB socket) and the "
                             "bridges' <bridge>.mgmt sockets (default: the directory of [ovs] "
                             "ovsdb_connection, /var/run/openvswitch)")
    _from_ini(parser, "--datapath-type", ini=("ovs", "datapath_type"),
              choices=("system", "netdev"),
              help="bridge datapath (default: system if the openvswitch kernel module is "
                   "loaded, else netdev)")
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
                    "change feed; report wired ports ACTIVE (ERROR while one cannot be "
                    "wired). ml2_conf.ini [ovs]/[agent] options come from --config-file; "
                    "a flag wins over its option.")
    _agent_args(l2, poll_help="longest wait on the change feed before a local pass; local "
                              "plugs are seen at once through an OVSDB monitor")
    _ovs_args(l2)
    _from_ini(l2, "--bridge-mappings", ini=("ovs", "bridge_mappings"), action="append",
              metavar="PHYSNET:BR",
              help="physnet:bridge, comma-separated or repeated (e.g. physnet:br-phys)")
    _from_ini(l2, "--local-ip", ini=("ovs", "local_ip"),
              help="this host's tunnel endpoint address")
    _from_ini(l2, "--tunnel-types", ini=("agent", "tunnel_types"), action="append",
              metavar="TYPES", help="tunnel types, comma-separated or repeated (e.g. vxlan)")
    _from_ini(l2, "--l2-population", ini=("agent", "l2_population"),
              action=argparse.BooleanOptionalAction,
              help="unicast/flood entries in br-tun from the model instead of learning")
    _from_ini(l2, "--arp-responder", ini=("agent", "arp_responder"),
              action=argparse.BooleanOptionalAction,
              help="answer ARP for remote ports in br-tun table 21, with l2 population")


def _l3_agent_parser(agent_sub) -> None:
    l3 = agent_sub.add_parser(
        "l3", help="the L3 agent (routers)",
        description="Realise the routers scheduled to this host as qrouter-<id> namespaces: "
                    "qr-/qg- ports on br-int, SNAT, floating IPs, extra routes, the metadata "
                    "proxy; watch the change feed. l3_agent.ini options come from "
                    "--config-file; a flag wins over its option.")
    _agent_args(l3)
    _ovs_args(l3, kind="qrouter")
    _from_ini(l3, "--state-path", ini=("DEFAULT", "state_path"), metavar="DIR",
              help="metadata proxy pid and config files go under DIR/ns-metadata-proxy")
    l3.add_argument("--iptables-backend", default="auto", choices=("auto", "nft", "legacy"),
                    help="iptables backend (default: the one `iptables` on this host is)")
    _from_ini(l3, "--enable-metadata-proxy", ini=("DEFAULT", "enable_metadata_proxy"),
              action=argparse.BooleanOptionalAction, help="the metadata proxy of routers")
    _from_ini(l3, "--metadata-proxy-socket", ini=("DEFAULT", "metadata_proxy_socket"),
              metavar="PATH", help="the metadata agent's unix socket")
    _from_ini(l3, "--periodic-interval", ini=("DEFAULT", "periodic_interval"), type=float,
              metavar="S", help="seconds between full passes without changes")


def _dhcp_agent_parser(agent_sub) -> None:
    dhcp = agent_sub.add_parser(
        "dhcp", help="the DHCP agent (dnsmasq, isolated metadata)",
        description="Serve DHCP and DNS with one dnsmasq per network scheduled to this host, "
                    "in namespace qdhcp-<network>, and the metadata proxy on isolated "
                    "networks. dhcp_agent.ini options ([DEFAULT] dnsmasq_dns_servers, "
                    "enable_isolated_metadata, state_path, ...) come from --config-file.")
    _agent_args(dhcp, poll_help="longest wait on the change feed before checking that "
                                "dnsmasq and haproxy are alive")
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
    _from_ini(md, "--metadata-proxy-socket", ini=("DEFAULT", "metadata_proxy_socket"),
              metavar="PATH", help="the unix socket to serve")
    _from_ini(md, "--nova-metadata-host", ini=("DEFAULT", "nova_metadata_host"),
              metavar="HOST", help="the metadata service's address")
    _from_ini(md, "--nova-metadata-port", ini=("DEFAULT", "nova_metadata_port"), type=int,
              metavar="PORT", help="the metadata service's port")


def _lab_parser(sub) -> None:
    from fermion.lab.state import LOG_ROOT, STATE_ROOT

    lab = sub.add_parser(
        "lab", help="the seed's multi-node labs on this machine (needs root)",
        description="Hosts made of namespaces (network, mount, PID, UTS) with their own "
                    "Open vSwitch, joined by a management network, a VXLAN underlay and an "
                    "external physical network; the server and agents run inside them with "
                    "the command lines and INI files of real hosts. The lab is closed: only "
                    "the management network is reachable from this machine.")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="ACTION")

    def common(p):
        p.add_argument("--lab", default=None, metavar="NAME",
                       help="which lab (default: the only one that is up)")
        p.add_argument("--state-dir", type=Path, default=STATE_ROOT, metavar="DIR",
                       help="where labs keep their state (default: %(default)s; "
                            "FERMION_LAB_STATE_DIR)")
        p.add_argument("--log-dir", type=Path, default=LOG_ROOT, metavar="DIR",
                       help="where labs keep their hosts' logs, also after down (default: "
                            "%(default)s; FERMION_LAB_LOG_DIR)")
        return p

    up = common(lab_sub.add_parser(
        "up", help="build a lab, create the seed's demo, run the smoke checks",
        description="Build the topology's hosts and networks, start the server and agents "
                    "inside them, create the demo through the API and plug its instances, "
                    "then print a summary and the smoke table (exit status 1 if a check "
                    "fails). Harmless when the lab is up already."))
    up.add_argument("topology_arg", nargs="?", default=None, metavar="TOPOLOGY",
                    help="same as --topology")
    up.add_argument("--topology", default=None, metavar="NAME|FILE",
                    help="a shipped topology (lab10, lab8) or a YAML file (default: lab10)")
    up.add_argument("--computes", type=_positive, default=None, metavar="N",
                    help="N compute hosts, cloned from the topology's first")
    up.add_argument("--instances", type=_positive, default=None, metavar="M",
                    help="M instances spread over the compute hosts")
    common(lab_sub.add_parser("down", help="remove everything the lab made (logs are kept)",
                              description="Stop every process and remove every namespace, "
                                          "link and file the lab made, also after a failed "
                                          "or killed `lab up`. The logs stay; the last line "
                                          "says where."))
    common(lab_sub.add_parser("status", help="hosts, daemons, agents, instances, resources"))
    ex = common(lab_sub.add_parser(
        "exec", help="run a command inside a lab host or instance",
        description="Run CMD inside HOST (its network, mount, PID and UTS namespaces: its "
                    "own `ip netns`, `ovs-vsctl`, `ps`) or INSTANCE (a guest inside its "
                    "compute host). Without CMD: a shell.",
        usage="fermion lab exec [-h] [--lab NAME] HOST|INSTANCE [-- CMD ...]"))
    ex.add_argument("target", metavar="HOST|INSTANCE")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    lg = common(lab_sub.add_parser(
        "logs", help="a host's logs (or an instance's console)",
        description="Without DAEMON: list HOST's log files. DAEMON is a file name or one "
                    "of server, l2, dhcp, l3, ovs-vswitchd, ovsdb-server. An INSTANCE "
                    "shows its console."))
    lg.add_argument("host", metavar="HOST|INSTANCE")
    lg.add_argument("daemon", nargs="?", default=None, metavar="DAEMON")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing (tail -f)")
    common(lab_sub.add_parser("openrc", help="environment for the openstack CLI: "
                                             'eval "$(fermion lab openrc)"'))


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


AGENT_MODULES = {"l2": "fermion.agent.l2_agent", "l3": "fermion.agent.l3_agent",
                 "dhcp": "fermion.agent.dhcp_agent", "metadata": "fermion.agent.metadata_agent"}


def resolve_ini(args) -> None:
    """Give every flag standing for an INI option that was not given the files' value (or
    the option's default): the command line wins over the files."""
    for dest, (section, name) in (args.ini_sources or {}).items():
        if getattr(args, dest) is None:
            setattr(args, dest, args.conf.get(section, name))


def _agent(args) -> int:
    """Build the agent (a bad option value ends it here, status 2, named), then run it:
    from then on no failure ends it (see fermion.agent.loop)."""
    import importlib

    try:
        args.conf = load(args.config_file)
    except ConfigError as error:
        print(f"fermion: configuration error: {error}", file=sys.stderr)
        return 2
    resolve_ini(args)
    args.host = args.host or socket.gethostname()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        agent = importlib.import_module(AGENT_MODULES[args.agent_kind]).build(args)
    except ValueError as error:  # a bad option value, named by the agent
        print(f"fermion agent {args.agent_kind}: {error}", file=sys.stderr)
        return 2
    if getattr(args, "cleanup", False):
        return agent.cleanup()
    return agent.serve(args.once)


def _serve(conf) -> int:
    import uvicorn

    from fermion.api.app import create_app
    from fermion.sockets import tcp_listener

    try:
        app = create_app(conf)
    except ConfigError as error:  # settings that do not fit together (ML2 types)
        print(f"fermion: configuration error: {error}", file=sys.stderr)
        return 2
    host, port = conf.get("DEFAULT", "bind_host"), conf.get("DEFAULT", "bind_port")
    try:
        sock = tcp_listener(host, port)
    except OSError as error:
        print(f"fermion server: cannot listen on {host}:{port}: {error.strerror}",
              file=sys.stderr)
        return 1
    logging.getLogger("fermion.server").info("listening on http://%s:%d", host, port)
    # log_config=None: uvicorn's loggers go through ours (one INFO line per request from
    # uvicorn.access). SIGTERM: long-polling watchers get 1 s, then the server is gone.
    config = uvicorn.Config(app, log_config=None, log_level=logging.getLogger().level,
                            access_log=True, timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])
    return 0



if __name__ == "__main__":
    sys.exit(main())
