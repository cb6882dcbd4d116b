"""The metadata proxy: an haproxy in a qdhcp (or qrouter) namespace forwarding instances'
requests to the metadata agent's unix socket.

It listens on 169.254.169.254:80 in a DHCP namespace (isolated networks) or 0.0.0.0:9697 in a
router namespace (behind the iptables REDIRECT), adds ``X-Forwarded-For`` (the instance's
address: ``option forwardfor``) and replaces any ``X-Neutron-Network-ID`` /
``X-Neutron-Router-ID`` the instance sent with the real one, so the metadata agent can find
the instance's port by (network or router, source address). haproxy 2.6 sends header
names in lower case; the metadata agent reads them case-insensitively.

`render_config` is pure (golden-tested); `proxy_daemon` binds it to a pid file under the
given directory and returns a `fermion.linux.process.Daemon`; `ensure_proxy` writes the
config and starts or adopts haproxy (restarting it only when the config changed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fermion.linux.process import Daemon

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


def proxy_daemon(cfg: ProxyConfig, netns: str | None) -> Daemon:
    path = str(config_path(cfg))  # haproxy's argv names its config, not its pid file
    return Daemon(["haproxy", "-f", path], pidfile=cfg.pidfile, netns=netns, identity=path)


def ensure_proxy(cfg: ProxyConfig, netns: str | None) -> tuple[int, str]:
    """Write the config and make haproxy run it: adopt a running one whose config file is
    unchanged, restart it when the config changed. Returns (pid, what was done)."""
    path = config_path(cfg)
    text = render_config(cfg)
    daemon = proxy_daemon(cfg, netns)
    changed = _replace_if_different(path, text)
    if changed and daemon.running_pid():
        daemon.stop()
        return daemon.start(), "restarted"
    return daemon.ensure()


def stop_proxy(pidfile: str, netns: str | None = None) -> bool:
    cfg_path = str(Path(pidfile).with_suffix(".cfg"))
    return Daemon(["haproxy", "-f", cfg_path], pidfile=pidfile, netns=netns,
                  identity=cfg_path).stop()


def _replace_if_different(path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True
