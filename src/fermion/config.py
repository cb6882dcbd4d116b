"""Neutron-style INI configuration: the same file names, sections and option names.

Every option Fermion understands, its own ``[fermion]`` ones included, is declared once in
``OPTIONS`` with its type, its limits and its default, so a missing file just means
defaults. Unknown options in known sections warn; a bad value fails at start with the file,
section and option named. Free-form sections (the options of keystonemiddleware) are kept
as raw strings.

Checks that need more than one option's value belong to whoever reads them: the ML2 type
settings are checked by ``plugin.ml2.types.TypeConfig`` when the server builds its plugin,
raising ``ConfigError`` before the database is touched.

Data flow: INI files -> ``load()`` -> ``Config`` -> read by the server's layers and by the
agents (``conf.get(section, name)``). Imports nothing else of Fermion: every layer may read
its configuration from here.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger(__name__)


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names where it came from."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _int(value: str) -> int:
    return int(value.strip())


def _float(value: str) -> float:
    return float(value.strip())


def _str(value: str) -> str:
    return value.strip()


def _at_least(parse: Callable[[str], Any], low: float,
              high: float | None = None) -> Callable[[str], Any]:
    """``parse``, then refuse values below ``low`` (or above ``high``)."""
    def check(value: str) -> Any:
        number = parse(value)
        if number < low or (high is not None and number > high):
            raise ValueError(f"must be at least {low}" if high is None
                             else f"must be between {low} and {high}")
        return number

    return check


def _one_of(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = value.strip()
        if value not in choices:
            raise ValueError(f"must be {' or '.join(choices)}")
        return value

    return check


@dataclass(frozen=True)
class Opt:
    section: str
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str = ""


OPTIONS: list[Opt] = [
    # neutron.conf [DEFAULT]
    Opt("DEFAULT", "bind_host", _str, "127.0.0.1", "Address the API listens on"),
    Opt("DEFAULT", "bind_port", _at_least(_int, 1, 65535), 9696, "Port the API listens on"),
    Opt("DEFAULT", "auth_strategy", _one_of("noauth", "keystone"), "noauth",
        "noauth or keystone"),
    Opt("DEFAULT", "base_mac", _str, "fa:16:3e:00:00:00", "Base MAC; 00 octets are randomised"),
    Opt("DEFAULT", "global_physnet_mtu", _int, 1500, "MTU of the underlying physical networks"),
    Opt("DEFAULT", "max_allowed_address_pair", _int, 10, "Allowed address pairs per port"),
    Opt("DEFAULT", "max_dns_nameservers", _int, 5, "DNS nameservers per subnet"),
    Opt("DEFAULT", "max_subnet_host_routes", _int, 20, "Host routes per subnet"),
    Opt("DEFAULT", "allow_overlapping_ips", _bool, True, "Overlapping subnets across networks"),
    Opt("DEFAULT", "pagination_max_limit", _int, -1, "Largest page; -1 means no limit"),
    Opt("DEFAULT", "dns_domain", _str, "openstacklocal", "Domain for hostnames"),
    Opt("DEFAULT", "enable_snat_by_default", _bool, True, "SNAT on new router gateways"),
    Opt("DEFAULT", "max_routes", _int, 30, "Extra routes per router"),
    Opt("DEFAULT", "agent_down_time", _at_least(_int, 1), 75,
        "Seconds without heartbeat before an agent is dead"),
    Opt("DEFAULT", "dhcp_agents_per_network", _at_least(_int, 1), 1,
        "DHCP agents scheduled per network"),
    Opt("DEFAULT", "network_auto_schedule", _bool, True, "Schedule networks to DHCP agents"),
    Opt("DEFAULT", "router_auto_schedule", _bool, True, "Schedule routers to L3 agents"),
    Opt("DEFAULT", "allow_automatic_dhcp_failover", _bool, True,
        "Move networks off DHCP agents dead for 2 x agent_down_time"),
    Opt("DEFAULT", "allow_automatic_l3agent_failover", _bool, True,
        "Move routers off L3 agents dead for 2 x agent_down_time (Neutron's default: false)"),
    Opt("DEFAULT", "enable_new_agents", _bool, True, "New agents start admin_state_up"),
    Opt("DEFAULT", "api_workers", _int, 1, "Accepted for compatibility; one process serves"),
    Opt("DEFAULT", "debug", _bool, False, "Debug logging"),
    Opt("DEFAULT", "core_plugin", _str, "ml2", "Accepted for compatibility (always ML2)"),
    Opt("DEFAULT", "service_plugins", _list, [], "Accepted for compatibility"),
    Opt("DEFAULT", "state_path", _str, "/var/lib/neutron", "Accepted for compatibility"),
    Opt("DEFAULT", "transport_url", _str, "", "Accepted for compatibility (no message bus)"),
    Opt("DEFAULT", "rpc_workers", _int, 0, "Accepted for compatibility"),
    Opt("DEFAULT", "rpc_state_report_workers", _int, 0, "Accepted for compatibility"),
    Opt("DEFAULT", "notify_nova_on_port_status_changes", _bool, False, "Accepted"),
    Opt("DEFAULT", "notify_nova_on_port_data_changes", _bool, False, "Accepted"),
    Opt("DEFAULT", "dhcp_agent_notification", _bool, False, "Accepted"),
    # dhcp_agent.ini [DEFAULT] (dns_domain and state_path above are shared with it)
    Opt("DEFAULT", "dnsmasq_dns_servers", _list, [], "Upstream DNS servers dnsmasq forwards to"),
    Opt("DEFAULT", "dnsmasq_local_resolv", _bool, False,
        "Let dnsmasq use the host's resolv.conf (no --no-resolv)"),
    Opt("DEFAULT", "dnsmasq_lease_max", _int, 2 ** 24, "dnsmasq --dhcp-lease-max"),
    Opt("DEFAULT", "dhcp_lease_duration", _int, 86400, "DHCP lease seconds; -1 = infinite"),
    Opt("DEFAULT", "enable_isolated_metadata", _bool, False,
        "Serve metadata from the DHCP namespace on networks without a router"),
    Opt("DEFAULT", "force_metadata", _bool, False,
        "Serve metadata from the DHCP namespace on every network"),
    Opt("DEFAULT", "metadata_proxy_socket", _str, "/var/lib/neutron/metadata_proxy",
        "The metadata agent's unix socket"),
    Opt("DEFAULT", "num_sync_threads", _int, 4, "Networks the DHCP agent converges at once"),
    Opt("DEFAULT", "interface_driver", _str, "openvswitch", "Accepted (always Open vSwitch)"),
    Opt("DEFAULT", "dhcp_driver", _str, "", "Accepted (always dnsmasq)"),
    Opt("DEFAULT", "log_file", _str, "", "Log file (default: stderr)"),
    Opt("database", "connection", _str, "sqlite:///fermion.sqlite", "SQLAlchemy database URL"),
    Opt("oslo_middleware", "max_request_body_size", _int, 114688, "Largest request body (bytes)"),
    Opt("oslo_concurrency", "lock_path", _str, "", "Accepted for compatibility"),
    # neutron.conf [fermion]: Fermion's own options
    Opt("fermion", "noauth_project_id", _str, "00000000000000000000000000000000",
        "auth_strategy noauth: the project of requests without identity headers"),
    Opt("fermion", "change_log_size", _at_least(_int, 1), 100000,
        "Changes kept for watchers (docs/change-feed.md)"),
    Opt("fermion", "change_poll_interval", _at_least(_float, 0.05), 2.0,
        "Seconds between a server's safety polls of the change log"),
    Opt("quotas", "default_quota", _int, -1, "Default for resources without their own quota"),
    Opt("quotas", "quota_network", _int, 100, "Networks per project"),
    Opt("quotas", "quota_subnet", _int, 100, "Subnets per project"),
    Opt("quotas", "quota_port", _int, 500, "Ports per project"),
    Opt("quotas", "quota_subnetpool", _int, -1, "Subnet pools per project"),
    Opt("quotas", "quota_router", _int, 10, "Routers per project"),
    Opt("quotas", "quota_floatingip", _int, 50, "Floating IPs per project"),
    Opt("quotas", "quota_security_group", _int, 10, "Security groups per project"),
    Opt("quotas", "quota_security_group_rule", _int, 100, "Security group rules per project"),
    # ml2_conf.ini
    Opt("ml2", "type_drivers", _list, ["local", "flat", "vlan", "vxlan", "gre", "geneve"], ""),
    Opt("ml2", "tenant_network_types", _list, ["local"], "Tried in order for tenant networks"),
    Opt("ml2", "mechanism_drivers", _list, ["openvswitch"], "Accepted (Open vSwitch is built in)"),
    Opt("ml2", "extension_drivers", _list, ["port_security"], "Accepted (built in)"),
    Opt("ml2", "path_mtu", _int, 0, "MTU of the underlay path for tunnels; 0 = global"),
    Opt("ml2", "physical_network_mtus", _list, [], "physnet:mtu pairs"),
    Opt("ml2", "overlay_ip_version", _int, 4, "IP version of tunnel endpoints"),
    Opt("ml2_type_flat", "flat_networks", _list, ["*"], "Physnets usable by flat networks"),
    Opt("ml2_type_vlan", "network_vlan_ranges", _list, [], "physnet or physnet:min:max"),
    Opt("ml2_type_vxlan", "vni_ranges", _list, [], "min:max VNI ranges for tenants"),
    Opt("ml2_type_vxlan", "vxlan_group", _str, "", "Accepted (multicast is not used)"),
    Opt("ml2_type_gre", "tunnel_id_ranges", _list, [], "min:max tunnel id ranges"),
    Opt("ml2_type_geneve", "vni_ranges", _list, [], "min:max VNI ranges"),
    Opt("ml2_type_geneve", "max_header_size", _int, 30, "Geneve encapsulation header size"),
    Opt("securitygroup", "firewall_driver", _str, "openvswitch", "Accepted"),
    Opt("securitygroup", "enable_security_group", _bool, True, ""),
    # agents: [DEFAULT] host, [agent] in neutron.conf / ml2_conf.ini, [ovs] in ml2_conf.ini
    Opt("DEFAULT", "host", _str, "", "This host's name as ports' binding:host_id names it "
        "(agents; --host overrides)"),
    Opt("agent", "report_interval", _float, 30.0, "Seconds between agent state reports"),
    Opt("agent", "polling_interval", _float, 2.0,
        "L2 agent: longest wait on the change feed before a local pass"),
    Opt("agent", "tunnel_types", _list, [], "L2 agent: tunnel types (vxlan, gre, geneve)"),
    Opt("agent", "l2_population", _bool, False,
        "L2 agent: unicast and flooding entries from the model instead of learning"),
    Opt("agent", "arp_responder", _bool, False,
        "L2 agent: answer ARP for remote ports in br-tun (with l2_population)"),
    Opt("ovs", "integration_bridge", _str, "br-int", "Integration bridge (only br-int)"),
    Opt("ovs", "tunnel_bridge", _str, "br-tun", "Tunnel bridge (only br-tun)"),
    Opt("ovs", "local_ip", _str, "", "This host's tunnel endpoint address"),
    Opt("ovs", "bridge_mappings", _list, [], "physnet:bridge pairs"),
    Opt("ovs", "datapath_type", _str, "", "system or netdev (default: detected)"),
    Opt("ovs", "ovsdb_connection", _str, "unix:/var/run/openvswitch/db.sock",
        "OVSDB socket (unix:PATH; the OVS run directory is PATH's directory)"),
    # l3_agent.ini [DEFAULT] (state_path and metadata_proxy_socket above are shared with it)
    Opt("DEFAULT", "enable_metadata_proxy", _bool, True,
        "L3 agent: redirect 169.254.169.254:80 to an haproxy in each router namespace"),
    Opt("DEFAULT", "metadata_port", _int, 9697, "L3 agent: port of the routers' metadata proxy"),
    Opt("DEFAULT", "handle_internal_only_routers", _bool, True,
        "L3 agent: also realise routers without an external gateway"),
    Opt("DEFAULT", "send_arp_for_ha", _int, 3,
        "L3 agent: gratuitous ARPs sent for a new gateway or floating IP address (0: none)"),
    Opt("DEFAULT", "periodic_interval", _float, 40.0,
        "L3 agent: seconds between full passes when nothing changes"),
    # metadata_agent.ini [DEFAULT] (metadata_proxy_socket above is shared with the L3/DHCP
    # agents; [agent] report_interval too)
    Opt("DEFAULT", "nova_metadata_host", _str, "127.0.0.1",
        "Metadata agent: where the metadata service (Nova's, or fermion compute-api) listens"),
    Opt("DEFAULT", "nova_metadata_port", _at_least(_int, 1, 65535), 8775,
        "Metadata agent: the metadata service's port"),
    Opt("DEFAULT", "nova_metadata_protocol", _one_of("http", "https"), "http",
        "Metadata agent: http or https to the metadata service"),
    Opt("DEFAULT", "nova_metadata_insecure", _bool, False,
        "Metadata agent: skip the metadata service's certificate check (https)"),
    Opt("DEFAULT", "auth_ca_cert", _str, "", "Metadata agent: CA bundle for https"),
    Opt("DEFAULT", "nova_client_cert", _str, "", "Metadata agent: client certificate (https)"),
    Opt("DEFAULT", "nova_client_priv_key", _str, "", "Metadata agent: its private key"),
    Opt("DEFAULT", "metadata_proxy_shared_secret", _str, "",
        "Metadata agent: the HMAC secret signing X-Instance-ID (the same as nova.conf's "
        "[neutron] metadata_proxy_shared_secret)"),
    Opt("DEFAULT", "metadata_proxy_socket_mode", _one_of("deduce", "user", "group", "all"),
        "deduce", "Metadata agent: who may connect to its socket (deduce: user)"),
    Opt("DEFAULT", "metadata_workers", _int, 0, "Accepted (one process serves)"),
    Opt("DEFAULT", "metadata_backlog", _at_least(_int, 1), 4096,
        "Metadata agent: listen backlog of its socket"),
    Opt("cache", "expiration_time", _at_least(_float, 0), 5.0,
        "Metadata agent: seconds a (router or network, address) -> instance lookup is "
        "kept; any change on the change feed clears the cache sooner"),
    Opt("cache", "enabled", _bool, True, "Metadata agent: cache lookups"),
    # nova.conf (fermion compute-api: the Compute, Image and metadata APIs)
    Opt("DEFAULT", "osapi_compute_listen", _str, "127.0.0.1",
        "Compute API address (Nova's default is 0.0.0.0; noauth wants loopback)"),
    Opt("DEFAULT", "osapi_compute_listen_port", _at_least(_int, 1, 65535), 8774,
        "Compute API port"),
    Opt("DEFAULT", "metadata_listen", _str, "127.0.0.1", "Metadata service address"),
    Opt("DEFAULT", "metadata_listen_port", _at_least(_int, 1, 65535), 8775,
        "Metadata service port"),
    Opt("DEFAULT", "default_availability_zone", _str, "nova",
        "Availability zone of compute hosts that name none"),
    Opt("DEFAULT", "default_schedule_zone", _str, "",
        "Zone of servers created without one (empty: any host)"),
    Opt("DEFAULT", "service_down_time", _at_least(_float, 1), 60.0,
        "Seconds without a report before a compute host gets no new servers"),
    Opt("neutron", "endpoint_override", _str, "http://127.0.0.1:9696",
        "The Networking API the Compute API uses"),
    Opt("neutron", "metadata_proxy_shared_secret", _str, "",
        "Secret checking X-Instance-ID-Signature (the metadata agent's secret)"),
    Opt("neutron", "service_metadata_proxy", _bool, True,
        "Metadata requests come through the metadata agent (the only mode served)"),
    Opt("api", "dhcp_domain", _str, "novalocal",
        "Domain of instances' hostnames in metadata (empty: none)"),
    Opt("api", "metadata_cache_expiration", _at_least(_float, 0), 15.0,
        "Seconds an instance's metadata is kept before it is read again"),
    Opt("quota", "instances", _int, 10, "Servers per project (-1: unlimited)"),
    Opt("quota", "key_pairs", _int, 100, "Key pairs per user (-1: unlimited)"),
    Opt("quota", "metadata_items", _int, 128, "Metadata items per server (-1: unlimited)"),
    Opt("fermion", "image_api_listen", _str, "127.0.0.1", "Image API address"),
    Opt("fermion", "image_api_listen_port", _at_least(_int, 1, 65535), 9292,
        "Image API port"),
]

# Sections taken as free-form key/value strings (handed to a library as they are).
FREE_FORM_SECTIONS = {"keystone_authtoken"}

_BY_KEY = {(opt.section, opt.name): opt for opt in OPTIONS}


class Config:
    """Parsed options: ``conf.get(section, name)``; free-form ``conf.section(name)``."""

    def __init__(self, values: dict[tuple[str, str], Any], free: dict[str, dict[str, str]]):
        self._values = values
        self._free = free

    def get(self, section: str, name: str) -> Any:
        key = (section, name)
        if key in self._values:
            return self._values[key]
        return _BY_KEY[key].default

    def given(self, section: str, name: str) -> bool:
        """Whether a file set the option (a default does not count)."""
        return (section, name) in self._values

    def section(self, name: str) -> dict[str, str]:
        return dict(self._free.get(name, {}))

    def set(self, section: str, name: str, value: Any) -> None:
        self._values[(section, name)] = value


def load(files: Iterable[str] = ()) -> Config:
    """Read the INI files in order (later files win), check each value, return a Config."""
    values: dict[tuple[str, str], Any] = {}
    free: dict[str, dict[str, str]] = {}
    known_sections = {opt.section for opt in OPTIONS}
    for path in files:
        parser = configparser.ConfigParser(
            default_section="\x00none", interpolation=None, strict=False
        )
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except configparser.Error as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for section in parser.sections():
            if section in FREE_FORM_SECTIONS:
                free.setdefault(section, {}).update(dict(parser.items(section)))
                continue
            if section not in known_sections:
                LOG.warning("%s: section [%s] is not used by Fermion", path, section)
                continue
            for name, raw in parser.items(section):
                opt = _BY_KEY.get((section, name))
                if opt is None:
                    LOG.warning("%s: option [%s] %s is not used by Fermion", path, section, name)
                    continue
                try:
                    values[(section, name)] = opt.parse(raw)
                except ValueError as exc:
                    raise ConfigError(
                        f"{path}: [{section}] {name} = {raw!r} is invalid: {exc}"
                    ) from exc
    return Config(values, free)
