"""Security group rules as values: conversion (model/attributes_sg.py), checks, canonical form
and keys (plugin/sg_rules.py).

The expected errors and their wording are Neutron's (checked against neutron 29).
"""

from __future__ import annotations

import pytest

from fermion import exceptions as exc
from fermion.model import attributes_sg as convert
from fermion.plugin import sg_rules as r


def rule(**kw) -> dict:
    base = {"security_group_id": "g", "direction": "ingress", "ethertype": "IPv4",
            "protocol": None, "port_range_min": None, "port_range_max": None,
            "remote_ip_prefix": None, "remote_group_id": None}
    return {**base, **kw}


def refused(error: type, fn, *args) -> str:
    with pytest.raises(error) as info:
        fn(*args)
    return info.value.message


# -- converters ------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    (None, None), ("any", None), ("ANY", None), ("tcp", "tcp"), ("TCP", "tcp"),
    ("icmpv6", "icmpv6"), ("ipv6-icmp", "ipv6-icmp"), (6, "6"), ("6", "6"), ("06", "6"),
    (0, "0"), ("0", "0"), (255, "255"),
])
def test_protocol_accepted(value, expected):
    assert convert.convert_protocol(value) == expected


@pytest.mark.parametrize("value", ["foo", 256, "256", -1, "-1", True, 1.5, [], {}, "", "6 "])
def test_protocol_refused(value):
    message = refused(exc.SecurityGroupRuleInvalidProtocol, convert.convert_protocol, value)
    assert message.startswith(f"Security group rule protocol {value} not supported. Only "
                              "protocol values (None, 'any', 'ah', 'dccp'")
    assert message.endswith("'vrrp') and integer representations [0 to 255] are supported.")


def test_ethertype():
    assert convert.convert_ethertype("ipv6") == "IPv6"
    assert convert.convert_ethertype("IPV4") == "IPv4"
    for value in ("IPv5", 4, None, ""):
        message = refused(exc.SecurityGroupRuleInvalidEtherType, convert.convert_ethertype, value)
        assert message == (f"Security group rule for ethertype '{value}' not supported. "
                           "Allowed values are ['IPv4', 'IPv6'].")


def test_port():
    assert convert.convert_port(None) is None
    assert convert.convert_port(22) == 22
    assert convert.convert_port("8080") == 8080
    assert convert.convert_port(0) == 0  # refused later, for port protocols only
    for value in (-1, 65536, "x", True, 1.0, "", [1]):
        assert refused(exc.SecurityGroupInvalidPortValue, convert.convert_port, value) == (
            f"Invalid value for port {value}")


@pytest.mark.parametrize("value,expected", [
    (None, None), ("", None), ("10.1.1.1", "10.1.1.1/32"), ("10.0.0.5/24", "10.0.0.5/24"),
    ("0.0.0.0/0", "0.0.0.0/0"), ("10.0.0.0/255.255.255.0", "10.0.0.0/24"),
    ("FD00:0::1/64", "fd00::1/64"), ("::", "::/128"),
])
def test_prefix_accepted(value, expected):
    assert convert.convert_prefix(value) == expected


@pytest.mark.parametrize("value", ["x", "10.0.0.0/33", "10.0.0.256", 5, "fe80::1%eth0", [],
                                   "010.0.0.1"])
def test_prefix_refused(value):
    assert refused(exc.InvalidCIDR, convert.convert_prefix, value) == (
        f"Invalid CIDR {value} given as IP prefix.")


def test_normalized_cidr():
    assert r.normalized_cidr("10.0.0.5/24") == "10.0.0.0/24"
    assert r.normalized_cidr("fd00::1/64") == "fd00::/64"
    assert r.normalized_cidr(None) is None


# -- the rule as a whole ---------------------------------------------------------------------


def test_normalize_plain_rules_pass_unchanged():
    for given in (rule(), rule(protocol="tcp", port_range_min=22, port_range_max=22),
                  rule(protocol="icmp", port_range_min=8, port_range_max=0),
                  rule(protocol="icmp", port_range_min=8),
                  rule(protocol="udp", remote_ip_prefix="10.0.0.0/8"),
                  rule(ethertype="IPv6", remote_group_id="other"),
                  rule(direction="egress", protocol="132", port_range_min=1, port_range_max=9)):
        assert r.normalize(given) == given


def test_normalize_canonical_forms():
    # IPv6 ICMP has one name (and number); the whole port range is no range.
    assert r.normalize(rule(ethertype="IPv6", protocol="icmp"))["protocol"] == "ipv6-icmp"
    assert r.normalize(rule(ethertype="IPv6", protocol="icmpv6"))["protocol"] == "ipv6-icmp"
    assert r.normalize(rule(ethertype="IPv6", protocol="1"))["protocol"] == "58"
    assert r.normalize(rule(ethertype="IPv4", protocol="icmp"))["protocol"] == "icmp"
    whole = r.normalize(rule(protocol="tcp", port_range_min=1, port_range_max=65535))
    assert whole["port_range_min"] is None and whole["port_range_max"] is None
    assert r.normalize({"direction": "egress"})["ethertype"] == "IPv4"


@pytest.mark.parametrize("given,error,message", [
    (rule(port_range_min=3, port_range_max=3), exc.SecurityGroupProtocolRequiredWithPorts,
     "Must also specify protocol if port range is given."),
    (rule(protocol="tcp", port_range_min=80, port_range_max=79),
     exc.SecurityGroupInvalidPortRange,
     "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
    (rule(protocol="udp", port_range_min=5), exc.SecurityGroupInvalidPortRange,
     "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
    (rule(protocol="tcp", port_range_max=5), exc.SecurityGroupInvalidPortRange,
     "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
    (rule(protocol="6", port_range_min=0, port_range_max=3), exc.SecurityGroupInvalidPortValue,
     "Invalid value for port 0"),
    (rule(protocol="icmp", port_range_max=3), exc.SecurityGroupMissingIcmpType,
     "ICMP code (port-range-max) 3 is provided but ICMP type (port-range-min) is missing."),
    (rule(protocol="icmp", port_range_min=300), exc.SecurityGroupInvalidIcmpValue,
     "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."),
    (rule(ethertype="IPv6", protocol="58", port_range_min=1, port_range_max=256),
     exc.SecurityGroupInvalidIcmpValue,
     "Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255."),
    (rule(protocol="gre", port_range_min=3, port_range_max=3),
     exc.SecurityGroupInvalidProtocolForPort,
     "Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, "
     "TCP, UDP, UDPLITE."),
    (rule(protocol="udp", remote_ip_prefix="fd00::/64"), exc.SecurityGroupRuleParameterConflict,
     "Conflicting value ethertype IPv4 for CIDR fd00::/64"),
    (rule(ethertype="IPv6", remote_ip_prefix="10.0.0.1/32"),
     exc.SecurityGroupRuleParameterConflict,
     "Conflicting value ethertype IPv6 for CIDR 10.0.0.1/32"),
    (rule(protocol="icmpv6"), exc.SecurityGroupEthertypeConflictWithProtocol,
     "Invalid ethertype IPv4 for protocol icmpv6."),
    (rule(protocol="58"), exc.SecurityGroupEthertypeConflictWithProtocol,
     "Invalid ethertype IPv4 for protocol 58."),
    (rule(remote_ip_prefix="10.0.0.1/32", remote_group_id="g2"),
     exc.SecurityGroupMultipleRemoteEntites,
     "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be "
     "provided."),
])
def test_normalize_refuses(given, error, message):
    assert refused(error, r.normalize, given) == message
    assert error.status == 400


def test_rule_key_duplicates():
    key = r.rule_key
    # Protocol by name or number; "anywhere" written out or left out.
    assert key(rule(protocol="tcp", port_range_min=22, port_range_max=22)) == key(
        rule(protocol="6", port_range_min=22, port_range_max=22,
             remote_ip_prefix="0.0.0.0/0"))
    assert key(rule(ethertype="IPv6", remote_ip_prefix="::/0")) == key(rule(ethertype="IPv6"))
    assert key(rule(ethertype="IPv6", protocol="ipv6-icmp")) == key(
        rule(ethertype="IPv6", protocol="58"))
    # Anything else that differs makes another rule.
    base = key(rule(protocol="tcp", port_range_min=22, port_range_max=22))
    for other in (rule(protocol="udp", port_range_min=22, port_range_max=22),
                  rule(protocol="tcp", port_range_min=22, port_range_max=23),
                  rule(protocol="tcp", port_range_min=22, port_range_max=22,
                       direction="egress"),
                  rule(protocol="tcp", port_range_min=22, port_range_max=22,
                       remote_ip_prefix="10.0.0.0/8"),
                  rule(protocol="tcp", port_range_min=22, port_range_max=22,
                       remote_group_id="g"),
                  rule(protocol="tcp", port_range_min=22, port_range_max=22,
                       security_group_id="other")):
        assert key(other) != base
    # Host bits count, as in Neutron: 10.0.0.5/24 is not 10.0.0.0/24.
    assert key(rule(remote_ip_prefix="10.0.0.5/24")) != key(rule(remote_ip_prefix="10.0.0.0/24"))


def test_new_group_rules():
    plain = r.new_group_rules("g1", default=False)
    assert [(x["direction"], x["ethertype"], x["remote_group_id"]) for x in plain] == [
        ("egress", "IPv4", None), ("egress", "IPv6", None)]
    default = r.new_group_rules("g1", default=True)
    assert [(x["direction"], x["ethertype"], x["remote_group_id"]) for x in default] == [
        ("egress", "IPv4", None), ("egress", "IPv6", None),
        ("ingress", "IPv4", "g1"), ("ingress", "IPv6", "g1")]
    assert all(x["security_group_id"] == "g1" and x["protocol"] is None
               and x["remote_ip_prefix"] is None for x in default)
    assert all(r.normalize(x) == x for x in default)
