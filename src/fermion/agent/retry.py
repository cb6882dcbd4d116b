"""Failure containment for agents: which objects failed, why, and when to try them again.

An agent converges many objects per pass (L2: ports, DHCP: networks, L3: routers). One that
fails must not stop the others: the applier catches the failure, records it here under the
object's id and carries on. :class:`Failures` then says

- whether to try the object in this pass (:meth:`Failures.due`): at once when its desired
  state differs from the one that failed (someone fixed the model), else after a backoff
  that doubles per attempt (1, 2, 4 … ``most`` seconds);
- when the earliest retry is due (:meth:`Failures.next_retry`), so the agent's loop wakes
  for it without waiting for its timer;
- the failing objects and their reasons (status reports: port ``ERROR``, floating IP
  ``ERROR``; ``--once`` summaries).

It logs what an operator needs: one ERROR line per attempt, naming the object and the reason
(with the traceback when the exception is not one the system is expected to raise, such as a
failed command), and an INFO line when the object recovers. An object observed to be failing
again before its retry is due is not logged again.

Pure: no system access; time comes from ``clock`` (tests pass their own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

LOG = logging.getLogger(__name__)

_NO_STATE = object()


@dataclass
class Failure:
    reason: str
    attempts: int
    retry_at: float
    desired: object = _NO_STATE  # the desired state that failed


def reason_of(exc: BaseException, expected: tuple[type[BaseException], ...] = ()) -> str:
    """A one-line reason: the message of an ``expected`` error (a failed command names
    itself), the exception's type and message otherwise."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if isinstance(exc, expected):
        return text or name
    return f"{name}: {text}" if text else name


class Failures:
    """The failing objects of one kind (``what``: "port", "network", "router")."""

    def __init__(self, what: str, *, first: float = 1.0, most: float = 30.0,
                 expected: tuple[type[BaseException], ...] = (OSError,),
                 clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.first = first
        self.most = most
        self.expected = expected  # exceptions logged without a traceback
        self.clock = clock
        self._failed: dict[str, Failure] = {}

    def __contains__(self, obj_id: str) -> bool:
        return obj_id in self._failed

    def __len__(self) -> int:
        return len(self._failed)

    def backoff(self, attempts: int) -> float:
        return min(self.first * 2 ** max(0, attempts - 1), self.most)

    def due(self, obj_id: str, desired: object = _NO_STATE) -> bool:
        """Should ``obj_id`` be tried now? Yes unless it failed, its retry is not due yet
        and its desired state is the one that failed."""
        failure = self._failed.get(obj_id)
        if failure is None:
            return True
        if desired is not _NO_STATE and desired != failure.desired:
            return True
        return self.clock() >= failure.retry_at

    def failed(self, obj_id: str, error: BaseException | str,
               desired: object = _NO_STATE) -> Failure:
        """Record a failure of ``obj_id`` (an exception or a reason) and log it, unless the
        same reason is seen again before its retry was due."""
        reason = error if isinstance(error, str) else reason_of(error, self.expected)
        now = self.clock()
        old = self._failed.get(obj_id)
        if old is not None and old.reason == reason and now < old.retry_at \
                and desired == old.desired:
            return old
        attempts = old.attempts + 1 if old is not None else 1
        failure = Failure(reason, attempts, now + self.backoff(attempts), desired)
        self._failed[obj_id] = failure
        traceback = isinstance(error, BaseException) and not isinstance(error, self.expected)
        LOG.error("%s %s failed (attempt %d, next try in %.0fs): %s", self.what, obj_id,
                  attempts, self.backoff(attempts), reason,
                  exc_info=error if traceback else None)
        return failure

    def succeeded(self, obj_id: str) -> None:
        failure = self._failed.pop(obj_id, None)
        if failure is not None:
            LOG.info("%s %s recovered after %d failed attempt(s)", self.what, obj_id,
                     failure.attempts)

    def keep_only(self, ids: Iterable[str]) -> None:
        """Forget the failures of objects no longer wanted (their removal is tracked apart)."""
        wanted = set(ids)
        for obj_id in [i for i in self._failed if i not in wanted]:
            del self._failed[obj_id]

    def reason(self, obj_id: str) -> str | None:
        failure = self._failed.get(obj_id)
        return failure.reason if failure else None

    def reasons(self) -> Mapping[str, str]:
        return {obj_id: f.reason for obj_id, f in sorted(self._failed.items())}

    def next_retry(self) -> float | None:
        """The clock time of the earliest retry due, or None when nothing failed."""
        return min((f.retry_at for f in self._failed.values()), default=None)


def earliest(*kinds: Failures) -> float | None:
    """The earliest retry due among several kinds of failures (None: nothing failed)."""
    return min((t for t in (k.next_retry() for k in kinds) if t is not None), default=None)
