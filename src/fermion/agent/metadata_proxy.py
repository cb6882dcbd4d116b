"""The metadata proxy: an haproxy in a qdhcp (or qrouter) namespace forwarding instances'
requests to the metadata agent's unix socket.

It listens on 169.254.169.254:80 in a DHCP namespace (isolated networks) or 0.0.0.0:9697 in a
router namespace (behind the iptables REDIRECT), adds ``X-Forwarded-For`` (the instance's
address: ``option forwardfor``) and replaces any ``X-Neutron-Network-ID`` /
``X-Neutron-Router-ID`` the instance sent with the real one, so the metadata agent can find
the instance's port by (network or router, source address). haproxy 2.6 sends header
names in lower case; the metadata agent reads them case-insensitively.

Pure: `ProxyConfig` says what one proxy is, `render_config` is its haproxy.cfg (tested
text), `config_path` where that file goes (next to the pid file). Running it is
``fermion.agent.metadata_apply``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

METADATA_IP = "169.254.169.254"
NETWORK_HEADER = "X-Neutron-Network-ID"
ROUTER_HEADER = "X-Neutron-Router-ID"
DEFAULT_SOCKET = "/var/lib/neutron/metadata_proxy"


@dataclass(frozen=True)
class ProxyConfig:
    """One metadata proxy: who it speaks for and where it listens and forwards."""

    resource_id: str             # network id (DHCP) or router id (L3)
    header: str                  # NETWORK_HEADER or ROUTER_HEADER
    socket_path: str             # the metadata agent's unix socket
    pidfile: str
    bind_address: str = METADATA_IP
    bind_port: int = 80
    user: str | None = None      # drop privileges (the socket must then be reachable)
    group: str | None = None

    @classmethod
    def for_network(cls, network_id: str, socket_path: str, pidfile: str) -> ProxyConfig:
        return cls(network_id, NETWORK_HEADER, socket_path, pidfile)

    @classmethod
    def for_router(cls, router_id: str, socket_path: str, pidfile: str) -> ProxyConfig:
        return cls(router_id, ROUTER_HEADER, socket_path, pidfile, "0.0.0.0", 9697)


def render_config(cfg: ProxyConfig) -> str:
    """haproxy.cfg text for `cfg` (deterministic: same input, same bytes)."""
    user = [f"    user        {cfg.user}"] if cfg.user else []
    group = [f"    group       {cfg.group}"] if cfg.group else []
    lines = [
        "global",
        f"    log-tag     haproxy-metadata-proxy-{cfg.resource_id}",
        *user,
        *group,
        "    maxconn     1024",
        f"    pidfile     {cfg.pidfile}",
        "    daemon",
        "",
        "defaults",
        "    mode                    http",
        "    option                  http-server-close",
        "    option                  forwardfor",
        "    retries                 3",
        "    timeout http-request    30s",
        "    timeout connect         30s",
        "    timeout client          32s",
        "    timeout server          32s",
        "    timeout http-keep-alive 30s",
        "",
        "listen listener",
        f"    bind {cfg.bind_address}:{cfg.bind_port}",
        f"    server metadata {cfg.socket_path}",
        f"    http-request del-header {cfg.header}",
        f"    http-request set-header {cfg.header} {cfg.resource_id}",
        "",
    ]
    return "\n".join(lines)


def config_path(cfg: ProxyConfig) -> Path:
    return Path(cfg.pidfile).with_suffix(".cfg")
