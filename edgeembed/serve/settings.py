"""What the server accepts and how it batches: one frozen, validated settings object."""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from edgeembed.errors import InputError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MiB = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """Batching, limits and auth of ``edgeembed serve`` (every field is a CLI option).

    A batch closes when it holds ``max_batch`` texts or ``max_batch_tokens`` tokens, when its
    oldest request has waited ``max_wait_ms``, or at once when no other request is on its way.
    ``max_queue`` bounds the texts waiting for the model (beyond it: 503 with Retry-After; the
    largest requests go first) and ``max_queue_wait_ms`` how long one may wait; smaller requests
    are served first (``edgeembed/serve/batcher.py``).
    Texts over the model's token limit are truncated and reported (response header, metrics)
    unless the request says ``"truncate": false`` or ``auto_truncate`` is off: then 413. A text
    over ``max_input_chars`` characters (default: ``max(20000, 16 x the token limit)``) is 413
    either way, before it costs any tokenizing.
    """

    max_batch: int = 64
    max_batch_tokens: int = 16384
    max_wait_ms: float = 2.0
    max_queue: int = 2048
    max_queue_wait_ms: float = 10_000.0
    max_inputs: int = 2048
    max_body_bytes: int = 2 * MiB
    auto_truncate: bool = True
    max_input_chars: int | None = None
    api_key: str | None = field(default=None, repr=False)
    model_name: str | None = None
    retry_after_s: int = 1
    # Without an API key, web pages must not reach the server: a request with an Origin header
    # is refused unless its origin is allowed, and so is one whose Host is not an allowed name
    # (DNS rebinding). "*" allows any. `edgeembed serve` on a loopback address allows only
    # loopback names (LOOPBACK_NAMES); an app mounted elsewhere checks no Host by default.
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ("*",)
    # A cache shared by replicas (Redis protocol) behind the in-process LRU: edgeembed/serve/shared_cache.py.
    cache_url: str | None = field(default=None, repr=False)  # may hold a password
    cache_ttl_s: int = 86_400
    cache_timeout_ms: float = 50.0

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_batch_tokens", "max_queue", "max_inputs", "max_body_bytes", "retry_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"serve: {name} ({_flag(name)}) must be a positive integer, got {value!r}")
        if self.max_input_chars is not None and (
            isinstance(self.max_input_chars, bool)
            or not isinstance(self.max_input_chars, int)
            or self.max_input_chars < 1
        ):
            raise InputError(
                f"serve: max_input_chars (--max-input-chars) must be a positive integer, got {self.max_input_chars!r}"
            )
        if isinstance(self.max_queue_wait_ms, bool) or not 1 <= self.max_queue_wait_ms <= 3_600_000:
            raise InputError(
                f"serve: max_queue_wait_ms (--max-queue-wait-ms) must be within 1..3600000, got {self.max_queue_wait_ms!r}"
            )
        if not 0 <= self.max_wait_ms <= 10_000:
            raise InputError(f"serve: max_wait_ms (--max-wait-ms) must be within 0..10000, got {self.max_wait_ms!r}")
        if self.max_inputs > self.max_queue:
            raise InputError(
                f"serve: max_inputs ({self.max_inputs}) exceeds max_queue ({self.max_queue}); "
                "a request that large could never be queued"
            )
        if not 1 <= self.cache_timeout_ms <= 10_000:
            raise InputError(
                f"serve: cache_timeout_ms (--cache-timeout-ms) must be within 1..10000, got {self.cache_timeout_ms!r}"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise InputError("serve: the API key is empty; give a key or none")
        if self.api_key is not None and self.api_key != self.api_key.strip():
            raise InputError(
                "serve: the API key starts or ends with whitespace, which HTTP drops from the header, so no "
                "client could ever match it; remove the spaces (a key file's final newline is dropped already)"
            )
        if self.api_key is not None and not (self.api_key.isascii() and self.api_key.isprintable()):
            raise InputError(
                "serve: the API key must be printable ASCII: it travels in an HTTP header, where "
                "clients cannot send other characters; choose another key (e.g. openssl rand -hex 24)"
            )

    def replace(self, **changes) -> ServeSettings:
        return dataclasses.replace(self, **changes)

    def input_char_limit(self, max_seq_length: int) -> int:
        return self.max_input_chars or max(20_000, 16 * max_seq_length)


def _flag(name: str) -> str:
    """The CLI option that sets a settings field (max_body_bytes is given in MiB)."""
    flags = {"max_body_bytes": "--max-body-mb", "retry_after_s": "Python only"}
    return flags.get(name, "--" + name.replace("_", "-"))


def read_api_key_file(path: str | os.PathLike[str]) -> str:
    """The key in ``path``; refused unless only its owner can read it (mode 0600 or 0400)."""
    key_path = Path(path)
    try:
        mode = key_path.stat().st_mode
        text = key_path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the API key file {key_path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"the API key file {key_path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {key_path}"
        )
    key = text.strip()
    if not key:
        raise InputError(f"the API key file {key_path} is empty")
    return key
