"""fermion.linux.cmd: a failing system command is reported with its command line and stderr."""

import sys

import pytest

from fermion.linux.cmd import CommandError, netns_argv, run


def test_failure_names_command_status_and_stderr():
    with pytest.raises(CommandError) as err:
        run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert err.value.returncode == 3
    assert err.value.stderr == "boom"
    assert "failed with status 3: boom" in str(err.value)
    assert sys.executable in str(err.value)


def test_missing_program_and_unchecked_runs():
    with pytest.raises(CommandError) as err:
        run(["fermion-no-such-program", "--x"])
    assert err.value.returncode == 127 and "fermion-no-such-program --x" in str(err.value)
    assert run([sys.executable, "-c", "raise SystemExit(2)"], check=False).returncode == 2


def test_netns_argv():
    assert netns_argv(None, ["ip", "a"]) == ["ip", "a"]
    assert netns_argv("ns1", ["ip", "a"]) == ["ip", "netns", "exec", "ns1", "ip", "a"]
