"""One small exception hierarchy; every message says what was wrong, where, and what to do."""

from __future__ import annotations


class EdgeEmbedError(Exception):
    """Base class of every error edgeembed raises on purpose."""


class BundleError(EdgeEmbedError, ValueError):
    """A bundle is missing, incomplete, damaged, tampered with or of an unknown version."""


class ConversionError(EdgeEmbedError, RuntimeError):
    """A model could not be loaded, exported, quantized or verified."""


class TargetError(EdgeEmbedError, ValueError):
    """A target profile is unknown or invalid."""


class InputError(EdgeEmbedError, ValueError):
    """Input data (texts, files, options) is unusable."""


class MissingDependencyError(EdgeEmbedError, ImportError):
    """An optional package is needed; the message names the extra to install."""
