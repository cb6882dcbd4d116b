"""Configuration loading (config.py): Neutron's files, sections and options."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path

import pytest

from fermion import cli, config
from fermion.config import ConfigError


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_defaults_without_files():
    conf = config.load()
    assert conf.get("DEFAULT", "bind_host") == "127.0.0.1"
    assert conf.get("DEFAULT", "bind_port") == 9696
    assert conf.get("DEFAULT", "auth_strategy") == "noauth"
    assert conf.get("DEFAULT", "global_physnet_mtu") == 1500
    assert conf.get("DEFAULT", "base_mac") == "fa:16:3e:00:00:00"
    assert conf.get("DEFAULT", "allow_overlapping_ips") is True
    assert conf.get("database", "connection").startswith("sqlite:///")
    assert conf.get("ml2", "type_drivers") == ["local", "flat", "vlan", "vxlan", "gre",
                                               "geneve"]
    assert conf.get("ml2", "tenant_network_types") == ["local"]
    assert conf.get("ml2_type_flat", "flat_networks") == ["*"]
    assert conf.get("ml2_type_vlan", "network_vlan_ranges") == []
    assert conf.get("quotas", "quota_network") == 100
    assert conf.get("quotas", "quota_port") == 500
    assert conf.section("keystone_authtoken") == {}
    # Every declared option has a default that is returned as such.
    for opt in config.OPTIONS:
        assert conf.get(opt.section, opt.name) == opt.default


def test_neutron_files(tmp_path):
    neutron = write(tmp_path, "neutron.conf", """\
        [DEFAULT]
        bind_host = 0.0.0.0
        bind_port = 19696
        debug = True
        service_plugins = router, segments
        allow_overlapping_ips = no

        [database]
        connection = postgresql+psycopg://user:p%40ss@db/neutron

        [quotas]
        quota_network = 7

        [keystone_authtoken]
        www_authenticate_uri = http://keystone:5000
        auth_type = password
        """)
    ml2 = write(tmp_path, "ml2_conf.ini", """\
        [ml2]
        type_drivers = flat,vlan,vxlan
        tenant_network_types = vxlan
        mechanism_drivers = openvswitch,l2population
        path_mtu = 1400
        physical_network_mtus = provider:9000

        [ml2_type_flat]
        flat_networks = provider

        [ml2_type_vlan]
        network_vlan_ranges = provider:100:200,other

        [ml2_type_vxlan]
        vni_ranges = 1:1000
        """)
    conf = config.load([neutron, ml2])
    assert conf.get("DEFAULT", "bind_host") == "0.0.0.0"
    assert conf.get("DEFAULT", "bind_port") == 19696
    assert conf.get("DEFAULT", "debug") is True
    assert conf.get("DEFAULT", "service_plugins") == ["router", "segments"]
    assert conf.get("DEFAULT", "allow_overlapping_ips") is False
    # No interpolation: '%' stays as written.
    assert conf.get("database", "connection") == "postgresql+psycopg://user:p%40ss@db/neutron"
    assert conf.get("quotas", "quota_network") == 7
    assert conf.get("quotas", "quota_port") == 500  # untouched default
    assert conf.section("keystone_authtoken") == {
        "www_authenticate_uri": "http://keystone:5000", "auth_type": "password"}
    assert conf.get("ml2", "type_drivers") == ["flat", "vlan", "vxlan"]
    assert conf.get("ml2", "path_mtu") == 1400
    assert conf.get("ml2", "physical_network_mtus") == ["provider:9000"]
    assert conf.get("ml2_type_vlan", "network_vlan_ranges") == ["provider:100:200", "other"]


def test_later_files_win(tmp_path):
    first = write(tmp_path, "a.conf", "[DEFAULT]\nbind_port = 1000\ndebug = true\n")
    second = write(tmp_path, "b.conf", "[DEFAULT]\nbind_port = 2000\n")
    conf = config.load([first, second])
    assert conf.get("DEFAULT", "bind_port") == 2000
    assert conf.get("DEFAULT", "debug") is True
    assert config.load([second, first]).get("DEFAULT", "bind_port") == 1000


def test_set_overrides(tmp_path):
    conf = config.load()
    conf.set("DEFAULT", "bind_port", 1234)
    assert conf.get("DEFAULT", "bind_port") == 1234


@pytest.mark.parametrize("raw,value", [("true", True), ("Yes", True), ("on", True),
                                       ("1", True), ("false", False), ("NO", False),
                                       ("off", False), ("0", False)])
def test_booleans(tmp_path, raw, value):
    path = write(tmp_path, "n.conf", f"[DEFAULT]\ndebug = {raw}\n")
    assert config.load([path]).get("DEFAULT", "debug") is value


def test_unknown_option_and_section_warn(tmp_path, caplog):
    path = write(tmp_path, "neutron.conf", """\
        [DEFAULT]
        bind_port = 9797
        frobnicate = 3

        [nova]
        auth_url = http://keystone:5000

        [ml2]
        made_up = 1
        """)
    with caplog.at_level(logging.WARNING, logger="fermion.config"):
        conf = config.load([path])
    assert conf.get("DEFAULT", "bind_port") == 9797  # the rest still applies
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("[DEFAULT] frobnicate" in m and path in m for m in messages), messages
    assert any("[ml2] made_up" in m for m in messages), messages
    assert any("[nova]" in m for m in messages), messages
    assert len(messages) == 3


@pytest.mark.parametrize("section,option,raw", [
    ("DEFAULT", "bind_port", "ninety"),
    ("DEFAULT", "debug", "perhaps"),
    ("DEFAULT", "global_physnet_mtu", "1500.5"),
    ("quotas", "quota_network", ""),
    ("ml2", "path_mtu", "big"),
])
def test_bad_value_names_file_section_and_option(tmp_path, section, option, raw):
    path = write(tmp_path, "bad.conf", f"[{section}]\n{option} = {raw}\n")
    with pytest.raises(ConfigError) as info:
        config.load([path])
    message = str(info.value)
    assert path in message
    assert f"[{section}]" in message
    assert option in message
    assert repr(raw) in message


@pytest.mark.parametrize("text,fragment", [
    ("[DEFAULT]\nauth_strategy = ldap\n",
     "auth_strategy = 'ldap' is invalid: must be noauth or keystone"),
    ("[DEFAULT]\nbind_port = 70000\n", "bind_port = '70000' is invalid: must be between 1"),
    ("[DEFAULT]\nbind_port = 0\n", "bind_port"),
    ("[DEFAULT]\nagent_down_time = 0\n", "agent_down_time = '0' is invalid: must be at least 1"),
    ("[DEFAULT]\ndhcp_agents_per_network = 0\n", "dhcp_agents_per_network"),
    ("[fermion]\nchange_log_size = 0\n", "change_log_size = '0' is invalid: must be at least 1"),
    ("[fermion]\nchange_poll_interval = soon\n", "change_poll_interval"),
])
def test_bad_settings_fail_at_load(tmp_path, text, fragment):
    path = write(tmp_path, "x.conf", text)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        config.load([path])


def test_fermion_section_is_declared_like_the_others(tmp_path, caplog):
    """[fermion] options are typed and defaulted in OPTIONS; a misspelt one warns."""
    assert config.load().get("fermion", "change_log_size") == 100000
    path = write(tmp_path, "neutron.conf", """\
        [fermion]
        change_log_sise = 5
        change_poll_interval = 0.5
        noauth_project_id = abc
        """)
    with caplog.at_level(logging.WARNING, logger="fermion.config"):
        conf = config.load([path])
    assert conf.get("fermion", "change_poll_interval") == 0.5
    assert conf.get("fermion", "noauth_project_id") == "abc"
    assert conf.get("fermion", "change_log_size") == 100000
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert messages == [f"{path}: option [fermion] change_log_sise is not used by Fermion"]


@pytest.mark.parametrize("text,fragment", [
    ("[ml2_type_vlan]\nnetwork_vlan_ranges = physnet:100\n", "min:max"),
    ("[ml2_type_vlan]\nnetwork_vlan_ranges = physnet:0:10\n", "outside 1..4094"),
    ("[ml2_type_vlan]\nnetwork_vlan_ranges = physnet:200:100\n", "outside"),
    ("[ml2_type_vlan]\nnetwork_vlan_ranges = :100:200\n", "network_vlan_ranges"),
    ("[ml2]\ntype_drivers = vxlan,magic\n", "unknown type driver 'magic'"),
    ("[ml2]\ntype_drivers = flat\ntenant_network_types = vxlan\n", "not in type_drivers"),
    ("[ml2_type_vxlan]\nvni_ranges = 1:99999999\n", "VNI"),
    ("[ml2_type_gre]\ntunnel_id_ranges = 5\n", "tunnel id"),
    ("[ml2]\noverlay_ip_version = 5\n", "overlay_ip_version"),
    ("[ml2]\nphysical_network_mtus = physnet\n", "physical_network_mtus"),
])
def test_bad_ml2_settings_stop_the_server_before_its_database(tmp_path, capsys, text,
                                                               fragment):
    """ML2 settings that do not fit together are checked once, as the server builds its
    plugin: ``fermion server`` exits 2 naming them, and no database is created."""
    database = tmp_path / "fermion.sqlite"
    path = write(tmp_path, "ml2_conf.ini", f"[database]\nconnection = sqlite:///{database}\n"
                                            + text)
    assert cli.main(["server", "--config-file", path]) == 2
    error = capsys.readouterr().err
    assert error.startswith("fermion: configuration error: ") and fragment in error, error
    assert not database.exists()


def test_missing_file_fails_clearly(tmp_path):
    missing = str(tmp_path / "nope.conf")
    with pytest.raises(ConfigError, match="cannot read config file .*nope.conf"):
        config.load([missing])


def test_malformed_file_fails_with_its_name(tmp_path):
    path = write(tmp_path, "broken.conf", "bind_port = 1\n[DEFAULT\n")
    with pytest.raises(ConfigError) as info:
        config.load([path])
    assert path in str(info.value)


def test_option_names_are_case_insensitive(tmp_path):
    path = write(tmp_path, "n.conf", "[DEFAULT]\nBind_Port = 8000\n")
    assert config.load([path]).get("DEFAULT", "bind_port") == 8000
