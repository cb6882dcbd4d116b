"""fermion.linux.process.Daemon with a real dnsmasq (no namespace, no DHCP: DNS on a
high port of 127.0.0.1): start, adopt, SIGHUP, stop by pid, and clear start errors."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from fermion.linux.cmd import CommandError
from fermion.linux.process import Daemon

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="dnsmasq not installed")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dnsmasq_argv(tmp_path, *extra: str) -> list[str]:
    return ["dnsmasq", "--no-hosts", "--no-resolv", "--conf-file=/dev/null",
            f"--pid-file={tmp_path / 'pid'}", "--listen-address=127.0.0.1",
            "--bind-interfaces", f"--port={free_udp_port()}", "--user=" + _user(),
            *extra]


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def test_start_adopt_reload_stop(tmp_path):
    argv = dnsmasq_argv(tmp_path)
    daemon = Daemon(argv, pidfile=tmp_path / "pid")
    try:
        pid, what = daemon.ensure()
        assert what == "started" and pid == daemon.pid()
        again = Daemon(list(argv), pidfile=tmp_path / "pid")  # a restarted agent
        assert again.ensure() == (pid, "adopted")
        assert again.reload() and again.pid() == pid  # SIGHUP does not kill dnsmasq
        changed = Daemon(argv + ["--domain=example.org"], pidfile=tmp_path / "pid")
        assert changed.pid() is None and changed.running_pid() == pid
        new_pid, what = changed.ensure()  # another command line: restart
        assert what == "restarted" and new_pid != pid
        assert not os.path.exists(f"/proc/{pid}") or daemon.pid() is None
        assert changed.stop() and changed.pid() is None
        assert not changed.stop()  # already stopped
    finally:
        Daemon(argv, pidfile=tmp_path / "pid").stop()


def test_failing_start_names_the_command_and_its_stderr(tmp_path):
    daemon = Daemon(dnsmasq_argv(tmp_path, "--no-such-option"), pidfile=tmp_path / "pid")
    with pytest.raises(CommandError) as err:
        daemon.start()
    message = str(err.value)
    assert "dnsmasq --no-hosts" in message and "--no-such-option" in message
    assert "unrecognized option" in message or "bad command line" in message, message


def test_missing_program_is_named(tmp_path):
    daemon = Daemon(["fermion-no-such-dnsmasq", "--x"], pidfile=tmp_path / "pid")
    with pytest.raises(CommandError) as err:
        daemon.start()
    assert "fermion-no-such-dnsmasq" in str(err.value)
    assert err.value.returncode == 127


def test_a_pid_file_naming_another_process_is_not_adopted(tmp_path):
    (tmp_path / "pid").write_text(str(os.getpid()))  # pytest itself: never ours
    daemon = Daemon(dnsmasq_argv(tmp_path), pidfile=tmp_path / "pid")
    assert daemon.pid() is None and daemon.running_pid() is None
    assert not daemon.stop()
