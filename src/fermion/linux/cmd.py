"""Running system commands with errors that say what failed."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class CommandError(RuntimeError):
    """A system command failed; carries the command line, exit status, stdout and stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.strip() or stdout.strip() or "(no output)"
        super().__init__(f"`{shlex.join(self.argv)}` failed with status {returncode}: {detail}")


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """`argv` prefixed so that it runs inside `netns` (unchanged when netns is None)."""
    if netns is None:
        return list(argv)
    return ["ip", "netns", "exec", netns, *argv]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` (inside `netns` if given), capture its output as text.

    Raises `CommandError` when the command exits non-zero and `check` is true, or cannot be
    started at all (status 127), or times out (status -1).
    """
    full = netns_argv(netns, argv)
    full_env = None
    if env:
        full_env = {**os.environ, **env}
    LOG.debug("run: %s", shlex.join(full))
    try:
        proc = subprocess.run(
            full,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise CommandError(full, 127, "", str(exc)) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(full, -1, "", f"timed out after {timeout}s") from exc
    if check and proc.returncode != 0:
        raise CommandError(full, proc.returncode, proc.stdout, proc.stderr)
    return proc
