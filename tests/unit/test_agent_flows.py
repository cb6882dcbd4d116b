import os
import shutil
import subprocess

import pytest

from fermion.agent import cookies
from fermion.agent.cookies import Kind
from fermion.agent.flows import diff, make, parse_dump, parse_dump_line
from fermion.agent.l2_flows import compile_all
from tests.unit import agent_fixture as fx

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "agent_flows.txt")

# Lines as ovs-ofctl dump-flows prints them (OVS 3.1, OpenFlow 1.0 + NXM).
DUMP = """\
NXST_FLOW reply (xid=0x4):
 cookie=0xfe01000000000000, duration=12.345s, table=0, n_packets=0, n_bytes=0, idle_age=12, priority=65535,vlan_tci=0x0fff/0x1fff actions=drop
 cookie=0xfe01111111111aaa, duration=3.2s, table=0, n_packets=4, n_bytes=392, priority=3,in_port=2,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:1,resubmit(,60)
 cookie=0xfe012aaaaaaaa000, duration=3.2s, table=60, n_packets=0, n_bytes=0, priority=100,in_port=5 actions=load:0x5->NXM_NX_REG5[],set_field:1->reg6,resubmit(,71)
 cookie=0xfe01000000000000, duration=1s, table=10, n_packets=0, n_bytes=0, priority=1 actions=learn(table=20,hard_timeout=300,priority=1,cookie=0xfe01f00000000000,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:1
"""


def test_dump_lines_parse_into_the_canonical_form():
    flows = parse_dump("br-int", DUMP)
    assert len(flows) == 4
    assert flows[0] == make("br-int", 0, 65535, {"vlan_tci": "0x0fff/0x1fff"}, ["drop"],
                            cookies.BASE)
    assert flows[1].actions == ("mod_vlan_vid:1", "resubmit(,60)")
    assert dict(flows[1].match) == {"in_port": "2", "vlan_tci": "0x0000/0x1fff"}
    # set_field on a register and load are the same action
    assert flows[2].actions == ("load:0x5->NXM_NX_REG5[]", "load:0x1->NXM_NX_REG6[]",
                                "resubmit(,71)")
    assert flows[3].actions[-1] == "output:1" and flows[3].actions[0].startswith("learn(")


def test_render_then_parse_is_identity():
    for bridge, flows in compile_all(fx.model()).items():
        for f in flows:
            line = f.render().replace(",actions=", " actions=")
            assert parse_dump_line(bridge, line) == f


def test_protocol_shorthand_value_forms_and_priority_default():
    f = parse_dump_line("br-tun", "cookie=0x0, table=4, tun_id=100 actions=set_tunnel:100")
    assert f.priority == 32768
    assert dict(f.match) == {"tun_id": "0x64"} and f.actions == ("set_tunnel:0x64",)
    g = parse_dump_line("br-int", "table=72, priority=70,ct_state=+trk-est+new,tcp,reg5=0x8 "
                                  "actions=resubmit(,73)")
    assert dict(g.match)["ct_state"] == "+new-est+trk" and g.match[0] == ("tcp", None)


def test_diff_adds_missing_and_changed_deletes_only_our_stale_flows():
    keep = make("br-int", 0, 0, {}, ["resubmit(,60)"], cookies.BASE)
    changed_want = make("br-int", 0, 3, {"in_port": 2, "dl_vlan": 100},
                        ["mod_vlan_vid:2", "resubmit(,60)"], cookies.cookie(Kind.NETWORK, "n"))
    changed_have = make("br-int", 0, 3, {"in_port": 2, "dl_vlan": 100},
                        ["mod_vlan_vid:7", "resubmit(,60)"], cookies.cookie(Kind.NETWORK, "n"))
    missing = make("br-int", 23, 0, {}, ["drop"], cookies.BASE)
    stale = make("br-int", 25, 2, {"in_port": 9, "dl_src": "fa:16:3e:00:00:09"},
                 ["resubmit(,60)"], cookies.cookie(Kind.PORT, fx.PORT_A))
    foreign = make("br-int", 0, 5, {"in_port": 40}, ["NORMAL"], 0x1234)
    learned = make("br-tun", 20, 1, {"dl_vlan": 3}, ["output:2"], cookies.LEARNED)
    to_add, to_delete = diff([keep, changed_want, missing],
                             [keep, changed_have, stale, foreign, learned])
    assert set(to_add) == {changed_want, missing}
    assert to_delete == [stale]
    assert diff([keep], [keep]) == ([], [])


def test_cookies_name_their_owner():
    c = cookies.cookie(Kind.PORT, fx.PORT_D)
    assert cookies.is_ours(c) and not cookies.is_learned(c)
    owner = cookies.decode(c)
    assert owner.kind is Kind.PORT and owner.prefix == fx.PORT_D.replace("-", "")[:11]
    assert str(owner) == "port:" + fx.PORT_D[:8] + fx.PORT_D[9:12]
    assert cookies.resolve(c, [fx.PORT_A, fx.PORT_D]) == fx.PORT_D
    tun = cookies.cookie(Kind.TUNNEL, "192.168.0.12")
    assert cookies.resolve(tun, ["192.168.0.10", "192.168.0.12"]) == "192.168.0.12"
    assert cookies.decode(0x1234) is None
    assert c < 2**64 and cookies.is_learned(cookies.LEARNED)
    assert cookies.agent_cookie_match() == "cookie=0xfe01000000000000/0xffff000000000000"


def test_every_compiled_flow_has_an_agent_cookie_that_names_a_model_object():
    m = fx.model()
    ids = [*m.networks, *(p.id for p in m.ports), *(r.id for r in m.remote_ports),
           *(p.ip for p in m.tunnel_peers),
           *(r.id for rules in m.sg_rules.values() for r in rules), *m.sg_rules,
           *(ip for ips in m.sg_members.values() for ip in ips)]
    for flows in compile_all(m).values():
        for f in flows:
            owner = cookies.decode(f.cookie)
            assert owner is not None, f
            assert owner.kind is Kind.BASE or cookies.resolve(f.cookie, ids), f


def _rendered(model) -> str:
    out = []
    for bridge, flows in sorted(compile_all(model).items()):
        out += [f"{bridge} {f.render()}" for f in sorted(flows, key=lambda f: (
            f.table, -f.priority, f.render()))]
    return "\n".join(out) + "\n"


def test_golden_flow_text():
    text = _rendered(fx.model())
    if os.environ.get("FERMION_REGEN_GOLDEN"):  # regenerate: FERMION_REGEN_GOLDEN=1 pytest
        with open(GOLDEN, "w") as fh:
            fh.write(text)
    with open(GOLDEN) as fh:
        assert text == fh.read()


@pytest.mark.skipif(not shutil.which("ovs-ofctl"), reason="ovs-ofctl not installed")
def test_ovs_ofctl_accepts_every_rendered_flow_and_agrees_on_its_canonical_form(tmp_path):
    for bridge, flows in compile_all(fx.model()).items():
        path = tmp_path / f"{bridge}.txt"
        path.write_text("".join(f.render() + "\n" for f in flows))
        out = subprocess.run(["ovs-ofctl", "parse-flows", str(path)], capture_output=True,
                             text=True, check=True).stdout
        parsed = []
        for line in out.splitlines():
            if " ADD " not in line:
                continue
            body = line.split(" ADD ", 1)[1]
            table = "table=0,"
            if body.startswith("table:"):
                tnum, body = body.split(" ", 1)
                table = f"table={tnum[6:]},"
            head, _, acts = body.rpartition(" actions=")
            cookie = ""
            if " cookie:" in head:
                head, cookie = head.split(" cookie:")
                cookie = f"cookie={cookie},"
            parsed.append(parse_dump_line(bridge, f"{cookie}{table}{head} actions={acts}"))
        assert sorted(parsed, key=str) == sorted(flows, key=str)
