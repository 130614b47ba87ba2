"""Tuned run-time settings: what ``edgeembed tune`` chose on this device, read at load time.

The file lives outside the bundle, keyed by the manifest digest; a damaged one is ignored with a
warning (it can only make embedding slower, never different). ``edgeembed.tools.tune`` writes it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from edgeembed.bundle import Bundle

logger = logging.getLogger("edgeembed")
SETTINGS = ("threads", "batch_size")  # positive integers
SWITCHES = ("shared_weights",)  # booleans (LiteRT: CompiledModel with shared weights, or Interpreter)


def settings_path(bundle: Bundle) -> Path:
    """``$XDG_CONFIG_HOME/edgeembed/tuned/<manifest digest>.json`` (default ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "edgeembed" / "tuned" / f"{bundle.manifest.digest[:24]}.json"


def load_tuned(bundle: Bundle) -> dict[str, int | bool]:
    """The tuned ``threads`` / ``batch_size`` (/ ``shared_weights``) for this bundle, or ``{}``. A damaged file is
    ignored with a warning: it can only make embedding slower, never different."""
    path = settings_path(bundle)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chosen = data["chosen"]
        settings = {key: chosen[key] for key in SETTINGS if key in chosen}
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in settings.values()):
            raise ValueError("settings must be positive integers")
        switches = {key: chosen[key] for key in SWITCHES if key in chosen}
        if not all(isinstance(v, bool) for v in switches.values()):
            raise ValueError(f"{', '.join(SWITCHES)} must be true or false")
        settings.update(switches)
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("ignoring tuned settings %s (%s); run `edgeembed tune` again", path, error)
        return {}
    return settings
