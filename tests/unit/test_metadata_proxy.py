"""haproxy configuration of the metadata proxy (pure rendering)."""

from __future__ import annotations

from fermion.agent.metadata_proxy import ProxyConfig, config_path, render_config


def test_network_proxy_listens_on_the_metadata_address_and_sets_the_network_header():
    cfg = ProxyConfig.for_network("net-1", "/run/md.sock", "/s/net-1/haproxy.pid")
    text = render_config(cfg)
    assert "    bind 169.254.169.254:80\n" in text
    assert "    server metadata /run/md.sock\n" in text
    assert "option                  forwardfor" in text
    assert "    pidfile     /s/net-1/haproxy.pid\n" in text
    assert "    daemon\n" in text
    # an instance cannot pass its own network id: the header is deleted, then set
    assert text.index("http-request del-header X-Neutron-Network-ID") < \
        text.index("http-request set-header X-Neutron-Network-ID net-1")
    assert "user" not in text
    assert str(config_path(cfg)) == "/s/net-1/haproxy.cfg"


def test_router_proxy_listens_on_9697_with_the_router_header():
    cfg = ProxyConfig.for_router("r-1", "/run/md.sock", "/s/r-1.pid")
    text = render_config(cfg)
    assert "    bind 0.0.0.0:9697\n" in text
    assert "http-request set-header X-Neutron-Router-ID r-1" in text
    assert "Network-ID" not in text
    assert render_config(cfg) == text  # deterministic


def test_user_and_group_when_given():
    cfg = ProxyConfig("n", "X-Neutron-Network-ID", "/s", "/p.pid", user="nobody", group="nogroup")
    text = render_config(cfg)
    assert "    user        nobody\n" in text and "    group       nogroup\n" in text
