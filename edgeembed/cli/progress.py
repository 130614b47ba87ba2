"""The conversion's progress on stderr: a rich display at a terminal, plain lines elsewhere."""

from __future__ import annotations

from rich.console import Console


class ConversionSteps:
    """A rich progress display showing the current conversion step and elapsed time; when
    stderr is not a terminal (logs, CI), one plain line per step and no spinner."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self):
        self._progress = self._task = None
        if not self.console.is_terminal:
            return self._plain_step
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = None

        def step(message: str, total: int | None = None):
            if self._task is not None:
                self._progress.update(self._task, completed=self._progress.tasks[-1].total)
            self._task = self._progress.add_task(message, total=total or 1)
            task = self._task
            return lambda n: self._progress.advance(task, n)

        return step

    def __exit__(self, *exc) -> None:
        if self._progress is None:
            return
        if self._task is not None and exc[0] is None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
        self._progress.stop()

    def _plain_step(self, message: str, total: int | None = None):
        self.console.print(f"- {message}", markup=False, highlight=False)
        return lambda n: None
