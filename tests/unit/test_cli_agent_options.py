"""Agent flags stand for INI options, declared once in the CLI: a flag wins over the files,
the files over the option's default (fermion.cli.resolve_ini)."""

from __future__ import annotations

from fermion.cli import build_parser, resolve_ini
from fermion.config import load


def agent_args(tmp_path, ini: str, *argv: str):
    path = tmp_path / "agent.ini"
    path.write_text(ini)
    args = build_parser().parse_args(["agent", *argv, "--config-file", str(path)])
    args.conf = load(args.config_file)
    resolve_ini(args)
    return args


def test_flag_over_file_over_default(tmp_path):
    ini = ("[DEFAULT]\nhost = from-file\n[ovs]\nlocal_ip = 10.0.0.1\n"
           "bridge_mappings = physnet:br-ex\n[agent]\ntunnel_types = vxlan\n"
           "l2_population = true\n")
    args = agent_args(tmp_path, ini, "l2", "--local-ip", "10.9.9.9", "--no-l2-population")
    assert args.host == "from-file"
    assert args.local_ip == "10.9.9.9"  # the flag wins
    assert args.l2_population is False  # even when it turns an option off
    assert args.bridge_mappings == ["physnet:br-ex"] and args.tunnel_types == ["vxlan"]
    assert args.report_interval == 30.0 and args.poll_interval == 2.0  # defaults
    assert args.arp_responder is False and args.datapath_type == ""


def test_l3_flags_and_options(tmp_path):
    ini = "[DEFAULT]\nperiodic_interval = 7\nenable_metadata_proxy = false\n"
    args = agent_args(tmp_path, ini, "l3", "--host", "n1", "--state-path", "/s")
    assert (args.host, args.state_path, args.periodic_interval) == ("n1", "/s", 7.0)
    assert args.enable_metadata_proxy is False
    assert args.metadata_proxy_socket == "/var/lib/neutron/metadata_proxy"


def test_help_names_the_option_and_its_default(capsys):
    try:
        build_parser().parse_args(["agent", "dhcp", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "([agent] polling_interval; default: 2)" in text
    assert "([agent] report_interval; default: 30)" in text
