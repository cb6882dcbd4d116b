"""Security group rules enforced on a live bridge, for every protocol the API accepts.

One host and one server for the module (``sg_lab.SgHost``): vm1's port carries the rules
under test, vm2's port has no port security. Rules are made through the API (so it is the
API that accepts each protocol and the server that hands the agent its number), applied by
the L2 agent's applier, and judged with ``ofproto/trace`` on the live br-int; real TCP, UDP,
ICMP and SCTP traffic confirms the traces; a property test compares traces (and the offline
walker) with a small reference evaluator of Neutron's rule semantics on random rule sets.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fermion.lab.host import HostGroup
from fermion.model import attributes_sg
from fermion.plugin import sg_rules
from tests.fixtures.hosts import host_tools_missing
from tests.fixtures.server import module_server
from tests.functional.sg_lab import NET_CIDR, Probe, SgHost, probe
from tests.functional.test_hosts import ping
from tests.functional.test_l2_agent import CONNECT, ECHO_ONCE, no_reply

pytestmark = pytest.mark.root

UNLIMITED = {("neutron.conf", "quotas"): {"quota_security_group": -1,
                                          "quota_security_group_rule": -1, "quota_port": -1}}
srv, _server_log_on_failure = module_server("fermion-sg", UNLIMITED)

INSIDE = {"IPv4": ("10.0.9.0/24", "10.0.9.5", "10.0.10.5"),
          "IPv6": ("2001:db8:9::/64", "2001:db8:9::5", "2001:db8:a::5")}  # prefix, in, out
PORTS = (5000, 5009)
ECHO = {"IPv4": (1, 8), "IPv6": (58, 128)}  # ICMP protocol and echo request type
PORT_NUMBERS = (6, 17, 132)  # OVS matches their destination port
PORTLESS = (33, 136)  # DCCP, UDP-Lite: OVS parses no ports, the range cannot be enforced


@pytest.fixture(scope="module")
def lab(srv):
    reason = host_tools_missing()
    if reason:
        pytest.skip(reason)
    group = HostGroup.create()
    try:
        yield SgHost(srv.client(), group.add_host("h1"))
    finally:
        group.destroy()


def api_protocols() -> list[str]:
    """What the API takes as a protocol (its own list: names and ``any``), plus numbers."""
    return [p for p in attributes_sg.SUPPORTED if p is not None] + ["33", "132", "200"]


def number_of(protocol: str, ethertype: str) -> int | None:
    """The protocol a rule means, as Neutron reads it: IANA numbers for the names, legacy
    ICMP names and 1 on an IPv6 rule mean ICMPv6; any/0 (``ip``, ``hopopt``) no protocol."""
    if protocol == "any":
        return None
    number = attributes_sg.PROTOCOLS[protocol] if protocol in attributes_sg.PROTOCOLS else int(protocol)
    if ethertype == "IPv6" and number == 1:
        number = 58
    return number or None


def l4(number: int | None, ethertype: str, port: int = PORTS[0], icmp=None) -> dict:
    """Fields of a packet of protocol ``number`` (ports, or ICMP type/code)."""
    if number in PORT_NUMBERS:
        return {"tp_src": 40000, "tp_dst": port}
    if number in (1, 58):
        return dict(zip(("icmp_type", "icmp_code"), icmp or (ECHO[ethertype][1], 0),
                        strict=True))
    return {}


Case = tuple[dict, list[tuple[Probe, bool, str]]]  # (rule, [(probe, allowed?, why)])


def cases() -> list[Case]:
    """Every protocol, ethertype and direction, for a rule without and one with a remote
    prefix and a port range (or ICMP type and code)."""
    return [case for protocol in api_protocols() for ethertype in ("IPv4", "IPv6")
            if ethertype == "IPv6" or protocol not in sg_rules.IPV6_ONLY  # refused on IPv4
            for direction in ("ingress", "egress")
            for case in protocol_cases(protocol, ethertype, direction)]


def protocol_cases(protocol: str, ethertype: str, direction: str) -> list[Case]:
    number = number_of(protocol, ethertype)
    proto = number if number is not None else 6
    other = 17 if proto == 6 else 6
    other_family = "IPv6" if ethertype == "IPv4" else "IPv4"
    prefix, inside, outside = INSIDE[ethertype]

    def p(peer, n=proto, **kw):
        return probe(direction, ethertype, n, peer, **(l4(n, ethertype) | kw))

    rule = {"direction": direction, "ethertype": ethertype, "protocol": protocol}
    plain = [(p(outside), True, "its protocol"),
             (p(outside, n=other), number is None, f"protocol {other}")]
    if number is None:
        plain += [(p(outside, n=47), True, "protocol 47"),
                  (probe(direction, other_family, 6, INSIDE[other_family][1],
                         **l4(6, other_family)), False, "other ethertype")]
    narrow = dict(rule, remote_ip_prefix=prefix)
    checks = [(p(inside), True, "inside the prefix"),
              (p(outside), False, "outside the prefix"),
              (p(inside, n=other), number is None, f"protocol {other}")]
    if number in PORT_NUMBERS + PORTLESS:
        narrow.update(port_range_min=PORTS[0], port_range_max=PORTS[1])
        checks.append((p(inside, **l4(number, ethertype, PORTS[1])), True, "port"))
    if number in PORT_NUMBERS:
        checks += [(p(inside, **l4(number, ethertype, PORTS[1] + 1)), False, "port above"),
                   (p(inside, **l4(number, ethertype, PORTS[0] - 1)), False, "port below")]
    if number in (1, 58):
        echo = ECHO[ethertype][1]
        narrow.update(port_range_min=echo, port_range_max=0)
        checks += [(p(inside, icmp_type=echo + 1, icmp_code=0), False, "ICMP type"),
                   (p(inside, icmp_type=echo, icmp_code=1), False, "ICMP code")]
    return [(rule, plain), (narrow, checks)]


def test_every_protocol_the_api_accepts_is_enforced_on_the_live_bridge(lab):
    table = cases()
    groups = lab.groups([[rule] for rule, _ in table])
    snapshot = lab.snapshot()
    numbers = {r["protocol"]: r["_protocol_number"] for g in snapshot["security_groups"]
               for r in g["security_group_rules"]}
    wrong = []
    for (rule, checks), group in zip(table, groups, strict=True):
        lab.apply(snapshot, vm1_groups=[group])
        for p, allowed, why in checks:
            if lab.trace(p) != allowed:
                wrong.append(f"{rule} (number {numbers.get(rule['protocol'])}): {why}: "
                             f"{p} {'dropped' if allowed else 'passed'}")
    assert not wrong, f"{len(wrong)} of {sum(len(c) for _, c in table)} verdicts wrong:\n" + \
        "\n".join(wrong)
    assert len(table) > 150  # every name, both ethertypes and directions, two variants


# ------------------------------------------------------------------ real traffic

UDP_RECV = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3])); print("READY", flush=True)
try:
    print("GOT" if s.recvfrom(64)[0] == b"probe" else "BAD")
except OSError:
    print("NONE")
"""
UDP_SEND = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    s.sendto(b"probe", (sys.argv[1], int(sys.argv[2]))); time.sleep(0.1)
"""
# No SCTP in this kernel (socket(..., IPPROTO_SCTP) fails): SCTP INIT packets are sent and
# received on raw IP sockets (protocol 132), which the kernel delivers without an SCTP stack.
SCTP_RECV = """
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132); s.settimeout(0.2)
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
print("READY", flush=True)
while time.monotonic() < deadline:
    try:
        pkt = s.recv(2048)
    except socket.timeout:
        continue
    ihl = (pkt[0] & 15) * 4
    if struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0] == port:
        print("GOT"); break
else:
    print("NONE")
"""
SCTP_SEND = """
import socket, struct, sys, time
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
init = struct.pack("!BBHIIHHI", 1, 0, 20, 0x1234, 65535, 1, 1, 1)  # INIT chunk
head = struct.pack("!HHII", 40000, int(sys.argv[2]), 0, 0)
pkt = head[:8] + struct.pack("<I", crc32c(head + init)) + init
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
for _ in range(5):
    s.sendto(pkt, (sys.argv[1], 0)); time.sleep(0.1)
"""
WAIT = 1.5  # seconds a blocked packet is given to show up anyway


def _receiver(vm, script: str, *args: str) -> subprocess.Popen:
    proc = vm.popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
    return proc


def _received(proc: subprocess.Popen) -> bool:
    try:
        out, err = proc.communicate(timeout=WAIT + 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.strip() in ("GOT", "NONE"), out + err
    return out.strip() == "GOT"


def real_traffic(lab, proto: str, direction: str, port: int) -> bool:
    """Does a real packet of ``proto`` reach the other end (vm2 -> vm1 for ingress)?"""
    src, dst = (lab.vm2, lab.vm1) if direction == "ingress" else (lab.vm1, lab.vm2)
    if proto == "icmp":
        if no_reply(src, dst):
            return False
        ping(src, dst)
        return True
    if proto == "tcp":
        server = _receiver(dst, ECHO_ONCE, dst.ip, str(port))
        try:
            out = src.exec([sys.executable, "-c", CONNECT.replace("timeout=2", f"timeout={WAIT}"),
                            dst.ip, str(port)], timeout=20)
            return out.stdout.strip() == "OK"
        finally:
            server.kill()
            server.wait()
    if proto == "udp":
        receiver = _receiver(dst, UDP_RECV, dst.ip, str(port), str(WAIT))
        src.exec([sys.executable, "-c", UDP_SEND, dst.ip, str(port)], timeout=20)
        return _received(receiver)
    receiver = _receiver(dst, SCTP_RECV, str(port), str(WAIT))
    src.exec([sys.executable, "-c", SCTP_SEND, dst.ip, str(port)], timeout=20)
    return _received(receiver)


def test_real_tcp_udp_icmp_and_sctp_traffic_confirms_the_traces(lab):
    numbers = {"tcp": 6, "udp": 17, "sctp": 132}
    rules = [{"direction": d, "ethertype": "IPv4", "protocol": proto,
              "remote_ip_prefix": NET_CIDR, "port_range_min": lo, "port_range_max": lo + 9}
             for d, lo in (("ingress", 5000), ("egress", 6000)) for proto in numbers]
    rules.append({"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp",
                  "port_range_min": 8, "port_range_max": 0})
    [group] = lab.groups([rules])
    lab.apply(vm1_groups=[group])
    vm2_ip = lab.vm2.ip
    expected = {("tcp", "ingress", 5005): True, ("tcp", "ingress", 5010): False,
                ("tcp", "egress", 6009): True, ("tcp", "egress", 5005): False,
                ("udp", "ingress", 5000): True, ("udp", "ingress", 6000): False,
                ("udp", "egress", 6000): True, ("udp", "egress", 6010): False,
                ("sctp", "ingress", 5009): True, ("sctp", "ingress", 4999): False,
                ("sctp", "egress", 6001): True, ("sctp", "egress", 7000): False,
                ("icmp", "ingress", 0): True, ("icmp", "egress", 0): False}
    wrong = []
    for (proto, direction, port), allowed in expected.items():
        # each check is a new connection, as the trace's: OVS 3.1's userspace conntrack keys
        # SCTP (every protocol but TCP, UDP, ICMP) by addresses only (sport=0,dport=0), so
        # an earlier SCTP exchange between the two would make this one "established"
        lab.host.ovs.appctl("dpctl/flush-conntrack")
        if proto == "icmp":
            p = probe(direction, "IPv4", 1, vm2_ip, icmp_type=8, icmp_code=0)
        else:
            p = probe(direction, "IPv4", numbers[proto], vm2_ip, tp_src=40000, tp_dst=port)
        traced, real = lab.trace(p), real_traffic(lab, proto, direction, port)
        if not traced == real == allowed:
            wrong.append(f"{proto} {direction} {port}: expected {allowed}, trace {traced}, "
                         f"real traffic {real}")
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------ property test

MEMBERS = {"ga": ("10.0.9.5", "10.0.7.200", "2001:db8:9::5"),
           "gb": ("10.0.10.5", "10.0.9.5", "2001:db8:a::5")}
PEERS = {"IPv4": ("10.0.9.5", "10.0.10.5", "10.0.7.200", "10.0.9.77", "192.0.2.1"),
         "IPv6": ("2001:db8:9::5", "2001:db8:a::5", "2001:db8:9::77", "fd00::1")}
PREFIXES = {"IPv4": ("10.0.9.0/24", "10.0.0.0/8", "10.0.10.5/32", "0.0.0.0/0"),
            "IPv6": ("2001:db8:9::/64", "2001:db8::/32", "::/0")}
L4_PORTS = (22, 80, 5000, 5001, 5009, 5010, 65535)


def neutron_admits(rules: list[dict], stateful: bool, p: Probe) -> bool:
    """Reference: does Neutron's security group model let ``p`` through vm1's firewall?

    A stateful port passes established traffic; otherwise one rule must match: same
    direction and ethertype, protocol (none/any/0 is every protocol; names by their IANA
    number; legacy ICMP names on IPv6 mean ICMPv6), destination port range for TCP, UDP and
    SCTP (DCCP/UDP-Lite ranges are not enforceable in OVS, as in Neutron's OVS firewall),
    ICMP type/code, and the peer inside the remote prefix or among the remote group's
    member addresses."""
    if stateful and p.established:
        return True
    fields = dict(p.fields)
    peer = ipaddress.ip_address(p.peer)
    for r in rules:
        if (r["direction"], r["ethertype"]) != (p.direction, p.ethertype):
            continue
        number = None if r["protocol"] is None else number_of(r["protocol"], r["ethertype"])
        lo, hi = r.get("port_range_min"), r.get("port_range_max")
        if number is not None and number != p.proto:
            continue
        if number in PORT_NUMBERS and lo is not None and not lo <= fields["tp_dst"] <= hi:
            continue
        if number in (1, 58) and (lo is not None and fields["icmp_type"] != lo
                                  or hi is not None and fields["icmp_code"] != hi):
            continue
        prefix = r.get("remote_ip_prefix")
        if prefix and peer not in ipaddress.ip_network(prefix, strict=False):
            continue
        group = r.get("remote_group_id")
        if group and p.peer not in MEMBERS[group]:
            continue
        return True
    return False


@st.composite
def rule_sets(draw) -> list[dict]:
    rules = []
    for _ in range(draw(st.integers(0, 4))):
        ethertype = draw(st.sampled_from(["IPv4", "IPv6"]))
        names = [p for p in api_protocols()
                 if ethertype == "IPv6" or p not in sg_rules.IPV6_ONLY]
        protocol = draw(st.one_of(st.sampled_from(["tcp", "udp", "icmp", "sctp", "any"]),
                                  st.sampled_from(names)))  # the common ones half the time
        rule = {"direction": draw(st.sampled_from(["ingress", "egress"])),
                "ethertype": ethertype, "protocol": attributes_sg.convert_protocol(protocol)}
        number = number_of(protocol, ethertype)
        if number in PORT_NUMBERS + PORTLESS and draw(st.integers(0, 3)):
            lo = draw(st.sampled_from(L4_PORTS))
            rule.update(port_range_min=lo, port_range_max=draw(st.sampled_from(
                [p for p in L4_PORTS if p >= lo])))
        elif number in (1, 58) and draw(st.integers(0, 3)):
            rule["port_range_min"] = draw(st.sampled_from([0, 8, 128, 129]))
            rule["port_range_max"] = draw(st.sampled_from([None, 0, 1]))
        remote = draw(st.sampled_from(["none", "prefix", "group"]))
        if remote == "prefix":
            rule["remote_ip_prefix"] = draw(st.sampled_from(PREFIXES[ethertype]))
        elif remote == "group":
            rule["remote_group_id"] = draw(st.sampled_from(sorted(MEMBERS)))
        rules.append(sg_rules.normalize(rule))
    return rules


@st.composite
def probes(draw, rule: dict | None = None) -> Probe:
    """A packet: at random, or (``rule``) one the rule admits with maybe one field changed,
    so that the edges of each rule (ports, ICMP type/code, prefix, members) are tried."""
    ethertype = rule["ethertype"] if rule else draw(st.sampled_from(["IPv4", "IPv6"]))
    direction = rule["direction"] if rule else draw(st.sampled_from(["ingress", "egress"]))
    icmp = ECHO[ethertype][0]
    number = number_of(rule["protocol"], ethertype) if rule and rule["protocol"] else None
    proto = number or draw(st.sampled_from([6, 17, 132, 33, 136, icmp, 47, 112]))
    peers = PEERS[ethertype]
    if rule and rule.get("remote_ip_prefix"):
        net = ipaddress.ip_network(rule["remote_ip_prefix"], strict=False)
        peers = [a for a in peers if ipaddress.ip_address(a) in net] or peers
    elif rule and rule.get("remote_group_id"):
        peers = [a for a in peers if a in MEMBERS[rule["remote_group_id"]]] or peers
    lo, hi = (rule.get("port_range_min"), rule.get("port_range_max")) if rule else (None, None)
    fields: dict = {}
    if proto in PORT_NUMBERS:
        port = draw(st.sampled_from([lo, hi])) if lo is not None else None
        fields = {"tp_src": 40000, "tp_dst": port or draw(st.sampled_from(L4_PORTS))}
    elif proto == icmp:  # echo request/reply, unreachable: never an ND/MLD type
        fields = {"icmp_type": lo if lo is not None else draw(st.sampled_from([0, 8, 128, 129, 1])),
                  "icmp_code": hi if hi is not None else draw(st.sampled_from([0, 1]))}
    p = probe(direction, ethertype, proto, draw(st.sampled_from(list(peers))),
              established=draw(st.booleans()), **fields)
    change = draw(st.sampled_from(["none", "peer", "port", "type", "code", "proto", "way"]))
    if change == "peer":
        p = p.with_(peer=draw(st.sampled_from(PEERS[ethertype])))
    elif change == "port" and "tp_dst" in fields:
        p = p.with_(fields={"tp_dst": draw(st.sampled_from(L4_PORTS))})
    elif change in ("type", "code") and "icmp_type" in fields:
        p = p.with_(fields={f"icmp_{change}": draw(st.sampled_from([0, 1, 8, 128, 129]))})
    elif change == "proto" and proto not in (icmp, *PORT_NUMBERS):
        p = p.with_(proto=draw(st.sampled_from([33, 136, 47, 112, 50])))
    elif change == "way":
        p = p.with_(direction="egress" if direction == "ingress" else "ingress")
    return p


@st.composite
def scenarios(draw) -> tuple[list[dict], list[Probe]]:
    rules = draw(rule_sets())
    packets = [draw(probes(draw(st.sampled_from(rules)) if rules and draw(st.booleans())
                           else None)) for _ in range(draw(st.integers(6, 10)))]
    return rules, packets


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios(), stateful=st.booleans())
def test_the_live_pipeline_and_the_walker_agree_with_neutrons_semantics(lab, scenario,
                                                                        stateful):
    rules, packets = scenario
    snap = dict(lab.base)
    for i, rule in enumerate(rules):
        rule.update(id=f"rule-{i}", _protocol_number=sg_rules.agent_protocol_number(rule))
    snap["security_groups"] = [{"id": "case", "stateful": stateful,
                                "security_group_rules": rules}]
    snap["security_group_members"] = {g: list(ips) for g, ips in MEMBERS.items()}
    lab.apply(snap, vm1_groups=["case"])
    model = lab.model()
    for p in packets:
        want = neutron_admits(rules, stateful, p)
        traced, walked = lab.trace(p), lab.walk(p, model)
        assert traced == walked == want, (f"{p}: reference {want}, trace {traced}, walker "
                                          f"{walked}; stateful={stateful} rules={rules}")


def test_trace_probes_cover_vm1s_own_addresses(lab):
    """The helpers' packets leave from / reach vm1's real addresses (else the anti-spoofing
    table, not the rules, would decide): with no group, only established traffic passes."""
    lab.apply(vm1_groups=[])
    new = probe("egress", "IPv4", 6, lab.vm2.ip, tp_src=40000, tp_dst=80)
    assert not lab.trace(new)
    assert lab.trace(new.with_(established=True))
    assert lab.trace(probe("ingress", "IPv6", 6, "fd00::1", established=True, tp_src=1,
                           tp_dst=2))
