"""Sample programs shipped in device packages (``edgeembed package``)."""
