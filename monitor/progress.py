"""One progress display for a poll on a terminal: polling feeds, then understanding entries.

rich draws the bars on standard error and, while they are up, takes over sys.stdout and
sys.stderr so every print and log line (the CLI's log handler writes to whatever sys.stderr
is now) appears on its own line above the bars instead of glued onto them. When standard
error is not a terminal (journald, a pipe, a timer unit) nothing is drawn: the callbacks are
None and output is exactly what it would be without this module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # rich (30 ms to import) loads only when there is a terminal to draw on
    from rich.progress import TaskID

PollCallback = Callable[[int, int, Any], None]  # (done, total, FeedOutcome)
StageCallback = Callable[[str, int, int], None]  # (stage, done, total): "pages", "entries"


@dataclass
class Display:
    """The callbacks to hand to poll_feeds and process_pending (None: draw nothing)."""

    poll: PollCallback | None = None
    understand: StageCallback | None = None


@contextmanager
def progress_display(stream: TextIO | None = None, *, force: bool | None = None) -> Iterator[Display]:
    """A live display on `stream` (standard error) when it is a terminal; silent otherwise."""
    stream = stream if stream is not None else sys.stderr
    on = force if force is not None else bool(getattr(stream, "isatty", lambda: False)())
    if not on:
        yield Display()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=stream, force_terminal=True if force else None, stderr=stream is sys.stderr)
    bars = Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console, transient=True)
    tasks: dict[str, TaskID] = {}

    def task(name: str, total: int) -> TaskID:
        if name not in tasks:
            tasks[name] = bars.add_task(name, total=total, last="")
        return tasks[name]

    def poll(done: int, total: int, outcome: Any) -> None:
        bars.update(task("polling feeds", total), completed=done, total=total,
                    last=f"{outcome.name} ({outcome.status})")

    def understand(stage: str, done: int, total: int) -> None:
        label = "article pages" if stage == "pages" else "understanding"
        bars.update(task(label, total), completed=done, total=total, last="")

    with bars:
        yield Display(poll=poll, understand=understand)
