"""Security group rules as values: checks, canonical form, identity.

Pure functions (no database) with Neutron's rules and error wording, applied to rules whose
attributes the converters of ``model.attributes_sg`` have already turned into the stored
form:

- ``normalize(rule)`` makes a converted rule canonical and refuses inconsistent ones
  (ports on a protocol without ports, an IPv6 prefix on an IPv4 rule, ...);
- ``rule_key(rule)`` is what makes two rules the same rule (``tcp`` and ``6`` are one
  protocol; ``0.0.0.0/0`` is "anywhere", as no prefix is), for the duplicate check;
- ``default_rules`` / ``new_group_rules`` are the rules a new group starts with.

Protocols are stored as Neutron stores them (see ``model.attributes_sg``). For IPv6 rules
``icmp``/``icmpv6``/``1`` become ``ipv6-icmp``/``58``, and a port range covering every port
(1-65535) becomes no range.
"""

from __future__ import annotations

import ipaddress

from fermion import exceptions as exc
from fermion.model.attributes_sg import ETHERTYPES, PROTOCOLS

# Protocols whose rules may carry a port range (and which words the error uses).
PORT_PROTOCOLS = {"dccp": 33, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136}
PORT_PROTOCOL_NAMES = ", ".join(name.upper() for name in PORT_PROTOCOLS)
ICMP_NUMBERS = (1, 58)
# Protocols that only exist over IPv6: refused on an IPv4 rule.
IPV6_ONLY = {"ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts",
             "ipv6-route", "41", "44", "58", "59", "60", "43"}
ANYWHERE = ("0.0.0.0/0", "::/0")
PORT_MIN, PORT_MAX = 1, 65535


def normalized_cidr(prefix: str | None) -> str | None:
    return None if prefix is None else str(ipaddress.ip_interface(prefix).network)


# -- the rule as a whole -------------------------------------------------------------------


def protocol_number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    return PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)


def agent_protocol_number(rule: dict) -> int | None:
    """The IANA number agents match for a stored rule's protocol (None: every protocol).

    The one place that reads protocol names for the data plane: agents get this number in
    the snapshot (``_protocol_number``) and never interpret names. IPv6 rules written
    with the legacy ICMP names or number (``icmp``, ``icmpv6``, ``1``) mean ICMPv6 (58),
    as Neutron's agents read them.
    """
    protocol = rule.get("protocol")
    if protocol is None:
        return None
    if rule.get("ethertype") == "IPv6" and protocol in ("icmp", "icmpv6", "1"):
        return PROTOCOLS["ipv6-icmp"]
    return protocol_number(protocol)


def normalize(rule: dict) -> dict:
    """The canonical form of a converted rule, or the Neutron error that refuses it.

    ``rule`` holds ``direction``, ``ethertype``, ``protocol``, ``port_range_min``,
    ``port_range_max``, ``remote_ip_prefix`` and ``remote_group_id`` (missing ones count as
    None). Checked in Neutron's order, so the same request gets the same error.
    """
    out = {key: rule.get(key) for key in ("direction", "ethertype", "protocol",
                                          "port_range_min", "port_range_max",
                                          "remote_ip_prefix", "remote_group_id")}
    out = {**rule, **out}
    if out["ethertype"] is None:
        out["ethertype"] = "IPv4"
    if out["ethertype"] == "IPv6":
        if out["protocol"] in ("icmp", "icmpv6"):
            out["protocol"] = "ipv6-icmp"
        elif out["protocol"] == "1":
            out["protocol"] = "58"
    if out["port_range_min"] == PORT_MIN and out["port_range_max"] == PORT_MAX:
        out["port_range_min"] = out["port_range_max"] = None
    _check_ports(out)
    prefix = out["remote_ip_prefix"]
    if prefix is not None and out["ethertype"] != f"IPv{ipaddress.ip_interface(prefix).version}":
        raise exc.SecurityGroupRuleParameterConflict(ethertype=out["ethertype"], cidr=prefix)
    if out["ethertype"] == "IPv4" and out["protocol"] in IPV6_ONLY:
        raise exc.SecurityGroupEthertypeConflictWithProtocol(ethertype=out["ethertype"],
                                                             protocol=out["protocol"])
    if prefix is not None and out["remote_group_id"]:
        raise exc.SecurityGroupMultipleRemoteEntites()
    return out


def _check_ports(rule: dict) -> None:
    low, high = rule["port_range_min"], rule["port_range_max"]
    if low is None and high is None:
        return
    if rule["protocol"] is None:
        raise exc.SecurityGroupProtocolRequiredWithPorts()
    number = protocol_number(rule["protocol"])
    if number in PORT_PROTOCOLS.values():
        if low == 0 or high == 0:
            raise exc.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise exc.SecurityGroupInvalidPortRange()
    elif number in ICMP_NUMBERS:
        for attr, field, value in (("port_range_min", "type", low),
                                   ("port_range_max", "code", high)):
            if value is not None and not 0 <= value <= 255:
                raise exc.SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=value)
        if low is None:
            raise exc.SecurityGroupMissingIcmpType(value=high)
    else:
        raise exc.SecurityGroupInvalidProtocolForPort(
            protocol=number, valid_port_protocols=PORT_PROTOCOL_NAMES)


def rule_key(rule: dict) -> tuple:
    """What identifies a rule within its group: equal keys are duplicates (409)."""
    protocol = rule.get("protocol")
    if protocol is not None:
        if rule.get("ethertype") == "IPv6" and protocol in ("icmp", "icmpv6", "1"):
            protocol = "ipv6-icmp"
        protocol = str(protocol_number(protocol))
    prefix = rule.get("remote_ip_prefix")
    return (rule.get("security_group_id"), rule.get("direction"), rule.get("ethertype"),
            protocol, rule.get("port_range_min"), rule.get("port_range_max"),
            rule.get("remote_group_id"), None if prefix in ANYWHERE else prefix)


# -- the rules a group starts with ----------------------------------------------------------


def new_group_rules(group_id: str, default: bool) -> list[dict]:
    """Egress to anywhere (IPv4, IPv6); the default group also lets its members in."""
    rules = [{"direction": "egress", "ethertype": ethertype, "remote_group_id": None}
             for ethertype in ETHERTYPES]
    if default:
        rules += [{"direction": "ingress", "ethertype": ethertype, "remote_group_id": group_id}
                  for ethertype in ETHERTYPES]
    return [{"security_group_id": group_id, "protocol": None, "port_range_min": None,
             "port_range_max": None, "remote_ip_prefix": None, **rule} for rule in rules]
