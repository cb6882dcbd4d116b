"""Running a metadata proxy: its haproxy, known by its pid file, in a namespace.

The DHCP agent runs one per isolated network (in ``qdhcp-<network>``), the L3 agent one per
router with interfaces (in ``qrouter-<router>``); what each proxy is and its configuration
are ``fermion.agent.metadata_proxy``'s (pure). Here the configuration is written next to the
pid file (replaced only when its text differs) and haproxy is adopted, started, restarted
(when its configuration changed) or stopped — by the pid in its pid file, verified against
the command line naming that configuration file (``fermion.linux.process.Daemon``).
"""

from __future__ import annotations

from fermion.agent.metadata_proxy import ProxyConfig, config_path, render_config
from fermion.linux import files
from fermion.linux.process import Daemon


def proxy_daemon(cfg: ProxyConfig, netns: str | None) -> Daemon:
    path = str(config_path(cfg))  # haproxy's argv names its config, not its pid file
    return Daemon(["haproxy", "-f", path], pidfile=cfg.pidfile, netns=netns, identity=path)


def ensure_proxy(cfg: ProxyConfig, netns: str | None) -> tuple[int, str]:
    """Write the config and make haproxy run it: adopt a running one whose config file is
    unchanged, restart it when the config changed. Returns (pid, what was done)."""
    daemon = proxy_daemon(cfg, netns)
    changed = files.replace_if_different(config_path(cfg), render_config(cfg))
    if changed and daemon.running_pid():
        daemon.stop()
        return daemon.start(), "restarted"
    return daemon.ensure()


def stop_proxy(cfg: ProxyConfig, netns: str | None = None, *,
               remove_config: bool = False) -> bool:
    """Stop the proxy's haproxy (its pid file goes too); True if one was running."""
    stopped = proxy_daemon(cfg, netns).stop()
    if remove_config:
        config_path(cfg).unlink(missing_ok=True)
    return stopped
