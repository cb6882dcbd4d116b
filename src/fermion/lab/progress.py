"""Live progress of `fermion lab up`: one line per step with its elapsed time (rich)."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console


class Step:
    def __init__(self, title: str):
        self.title = title
        self.detail = ""


class Progress:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self.start = time.monotonic()
        self.times: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @contextmanager
    def step(self, title: str):
        step = Step(title)
        began = time.monotonic()
        try:
            with self.console.status(f"{title} …"):
                yield step
        except BaseException as exc:
            took = time.monotonic() - began
            reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
            self.console.print(f"[red]✗[/] {title} [dim]({took:.1f} s)[/]: {reason}")
            raise
        took = time.monotonic() - began
        self.times[title] = took
        detail = f" [dim]—[/] {step.detail}" if step.detail else ""
        self.console.print(f"[green]✓[/] {title}{detail} [dim]({took:.1f} s)[/]")

    def say(self, text: str) -> None:
        self.console.print(text)
