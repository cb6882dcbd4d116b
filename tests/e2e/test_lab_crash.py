"""`fermion lab down` after `kill -9` of `fermion lab up` halfway: the machine is as before."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from fermion.lab.state import LabPaths
from tests.e2e.conftest import lab_tools_missing, new_run, stop_lab
from tests.fixtures.server import venv_bin

pytestmark = pytest.mark.timeout(600)


def test_down_after_kill_9_of_up_halfway(tmp_path):
    reason = lab_tools_missing()
    if reason:
        pytest.skip(reason)
    run = new_run("lab10", tmp_path)
    paths = LabPaths("lab10", run.state_dir, run.log_dir)
    up = subprocess.Popen([venv_bin("fermion"), "lab", "up", "--state-dir", str(run.state_dir),
                           "--log-dir", str(run.log_dir)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        # halfway: the server runs on the controller, agents are being started
        deadline = time.monotonic() + 120
        log = paths.host_logs("controller") / "neutron" / "neutron-server.log"
        while not (log.exists() and log.stat().st_size > 0):
            assert up.poll() is None, up.stdout.read()
            assert time.monotonic() < deadline, "lab up did not get to the API server"
            time.sleep(0.05)
        run.record_namespaces()
        os.kill(up.pid, signal.SIGKILL)
        up.wait()
        assert paths.read()["phase"] == "building"
        assert len(paths.capsules()) == 6
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        down = run.cli("down")
        stop_lab(run)  # releases the machine lock (a second down is harmless)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "lab lab10 is down" in down.stdout
    assert run.leftovers() == []
