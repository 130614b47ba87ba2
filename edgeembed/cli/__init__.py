"""The ``edgeembed`` command: a thin typer app (``app``) and one module per command group."""
