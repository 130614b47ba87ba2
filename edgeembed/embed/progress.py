"""The optional progress bar of ``Embedder.encode(show_progress_bar=True)``."""

from __future__ import annotations


class EmbeddingProgress:
    """A rich progress bar when asked for, else a no-op; rich is imported only when shown."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled, self._progress = total, enabled, None

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.start()
        task = self._progress.add_task("Embedding", total=self.total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
