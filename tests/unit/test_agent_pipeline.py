import re

import pytest

from fermion.agent import pipeline
from fermion.agent.l2_flows import compile_all
from fermion.agent.pipeline import BR_INT, BR_PHYS, BR_TUN, PIPELINE, PipelineError, goto
from tests.unit import agent_fixture as fx

SEED_TABLES = {
    BR_INT: {0, 23, 24, 25, 60, 71, 72, 73, 81, 82, 91, 92, 93, 94},
    BR_TUN: {0, 2, 3, 4, 6, 10, 20, 21, 22},
    BR_PHYS: {0, 2},
}


def test_the_seeds_tables_are_declared_with_names_and_purposes():
    for bridge, numbers in SEED_TABLES.items():
        assert set(PIPELINE[bridge]) == numbers
        for t in PIPELINE[bridge].values():
            assert t.name and t.purpose


def test_next_tables_exist_on_the_same_bridge():
    for bridge, tables in PIPELINE.items():
        for t in tables.values():
            assert t.next_tables <= set(tables), (bridge, t.number)
            assert t.learns_into <= set(tables)


def test_goto_allows_declared_jumps_and_refuses_others():
    assert goto(BR_INT, 0, 60) == "resubmit(,60)"
    assert goto(BR_TUN, 4, 10) == "resubmit(,10)"
    with pytest.raises(PipelineError):
        goto(BR_INT, 0, 94)  # skipping the firewall is not a declared path
    with pytest.raises(PipelineError):
        goto(BR_TUN, 0, 20)
    with pytest.raises(PipelineError):
        goto(BR_INT, 0, 99)  # undeclared table
    with pytest.raises(PipelineError):
        pipeline.check_learn(BR_TUN, 10, 22)


def test_any_other_bridge_follows_the_physnet_pipeline():
    assert pipeline.table("br-ex", 0).name == "LOCAL_SWITCHING"
    assert pipeline.table_by_name("br-ex", "LOCAL_VLAN_TRANSLATION").number == 2
    with pytest.raises(PipelineError):
        pipeline.table("br-ex", 4)


def test_every_compiled_flow_sits_in_a_declared_table_and_jumps_only_where_allowed():
    for bridge, flows in compile_all(fx.model()).items():
        for f in flows:
            pipeline.table(bridge, f.table)
            for action in f.actions:
                if m := re.fullmatch(r"resubmit\(,(\d+)\)", action):
                    pipeline.check_jump(bridge, f.table, int(m.group(1)))
                if m := re.search(r"ct\(table=(\d+)", action):
                    pipeline.check_jump(bridge, f.table, int(m.group(1)))


def test_describe_lists_every_table_with_its_name():
    text = pipeline.describe("br-int")
    assert "24  ARP_SPOOF" in text and "94  NORMAL_PROCESSING" in text
    assert len(text.splitlines()) == 1 + len(SEED_TABLES[BR_INT])


def test_every_jump_of_a_flow_is_checked_ct_table_and_text_included():
    from fermion.agent.actions import Ct
    from fermion.agent.flows import make

    assert make(BR_INT, 71, 1, {"ip": None}, [pipeline.ct_goto(BR_INT, 71, 72)]).actions == (
        "ct(table=72,zone=NXM_NX_REG6[0..15])",)
    with pytest.raises(PipelineError):
        pipeline.ct_goto(BR_INT, 81, 72)
    with pytest.raises(PipelineError):
        make(BR_INT, 81, 1, {"ip": None}, [Ct(table=72)])  # built by hand: still refused
    with pytest.raises(PipelineError):
        make(BR_INT, 0, 1, {}, ["resubmit(,94)"])  # text is read into its typed value


def test_compiled_actions_are_typed_and_read_back_from_their_text_unchanged():
    from fermion.agent.actions import Action, parse_action

    for flows in compile_all(fx.model()).values():
        for f in flows:
            for action in f.actions:
                assert isinstance(action, Action), (f, action)
                again = parse_action(str(action))
                assert again == action and type(again) is type(action)
                assert again.__dict__ == action.__dict__
