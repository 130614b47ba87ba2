"""The package version (one place; the facade, the server and the converters read it)."""

__version__ = "0.1.0"
