"""Target profiles: one TOML file per device in ``edgeembed/targets``, validated on load."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgeembed import formats
from edgeembed.errors import TargetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (Jetson) path
    import tomli as tomllib

# Views of the one format/runtime table in edgeembed.formats.
FORMATS = tuple(formats.FORMATS)
RUNTIMES = tuple(formats.RUNTIMES)
FORMAT_QUANTIZATIONS = {name: fmt.quantizations for name, fmt in formats.FORMATS.items()}
FORMAT_RUNTIMES = {name: fmt.runtimes for name, fmt in formats.FORMATS.items()}
FORMAT_DEVICES = {name: fmt.devices for name, fmt in formats.FORMATS.items()}
PERFORMANCE_HINTS = ("LATENCY", "THROUGHPUT")


@dataclass(frozen=True)
class DeviceMatch:
    """How ``edgeembed doctor`` recognizes the device (the ``[match]`` table of a profile).

    Every criterion given must hold; the matching profile with the lowest ``priority`` wins.
    ``boards``, ``cpu`` and ``accelerators`` are lower-case substrings of the board name
    (``/proc/device-tree/model``), the CPU name and the accelerators doctor lists.
    """

    priority: int = 100
    boards: tuple[str, ...] = ()
    arch: tuple[str, ...] = ()
    cpu: tuple[str, ...] = ()
    accelerators: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()  # must all be installed

    def reason(self, board: str, arch: str, cpu: str, accelerators: list[str], runtimes: dict[str, str]) -> str | None:
        """Why this device matches, or None."""
        if not (self.boards or self.arch or self.cpu or self.accelerators):
            return None
        found = []
        checks = (
            (self.boards, [board], "board {}"),
            (self.arch, [arch], "{} CPU"),
            (self.cpu, [cpu], "CPU {}"),
            (self.accelerators, accelerators, "{}"),
        )
        for wanted, seen, label in checks:
            if wanted:
                hit = next((s for s in seen if any(w in s.lower() for w in wanted)), None)
                if hit is None:
                    return None
                found.append(label.format(hit))
        missing = [r for r in self.runtimes if runtimes.get(r, "missing") == "missing"]
        if missing:
            return None
        return ", ".join(found + [f"{r} installed" for r in self.runtimes])


@dataclass(frozen=True)
class Gates:
    """What a conversion must reach against the FP32 full model. A profile's own fields gate
    the full model; its ``[pruned]`` table gates ``convert --layers N`` students, which are
    expected to drift further."""

    # A student drifts further per text than a quantized model while similarities between texts
    # survive (the default model's figures: docs/pruning.md).
    min_mean_cosine: float = 0.85
    min_cosine: float = 0.5
    max_sts_drop: float = 2.5


@dataclass(frozen=True)
class TargetProfile:
    """What a device runs and what its conversion must achieve."""

    name: str
    description: str
    arch: str
    python: str
    glibc: str
    format: str
    quantization: str
    runtime: str
    device: str
    threads: int
    max_seq_length: int
    seq_buckets: tuple[int, ...]
    batch_size: int
    token_cache: int = 4096
    embedding_cache: int = 1024
    min_mean_cosine: float = 0.98
    min_cosine: float = 0.9
    max_sts_drop: float = 1.5
    performance_hint: str = "LATENCY"  # OpenVINO: LATENCY (interactive) or THROUGHPUT (bulk)
    static_shapes: bool = False  # one fixed-shape model per bucket (NPU); TFLite is always static
    match: DeviceMatch = DeviceMatch()
    pruned: Gates = Gates()

    @property
    def gates(self) -> Gates:
        """The full model's gates, as one record."""
        return Gates(self.min_mean_cosine, self.min_cosine, self.max_sts_drop)

    def __post_init__(self) -> None:
        where = f"target {self.name!r}"
        _choice(where, "format", self.format, FORMATS)
        _choice(where, "quantization", self.quantization, FORMAT_QUANTIZATIONS[self.format])
        _choice(where, "runtime", self.runtime, FORMAT_RUNTIMES[self.format])
        _choice(where, "device", self.device, FORMAT_DEVICES[self.format])
        _choice(where, "performance_hint", self.performance_hint, PERFORMANCE_HINTS)
        if not isinstance(self.static_shapes, bool):
            raise TargetError(f"{where}: field 'static_shapes' must be true or false")
        if self.device == "NPU" and not self.static_shapes:
            raise TargetError(
                f"{where}: field 'static_shapes' is false but device NPU compiles only static "
                "shapes; set static_shapes = true (one model per sequence bucket)"
            )
        for name in ("threads", "max_seq_length", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TargetError(f"{where}: field {name!r} must be a positive integer, got {value!r}")
        for name in ("token_cache", "embedding_cache"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TargetError(f"{where}: field {name!r} must be an integer >= 0, got {value!r}")
        buckets = self.seq_buckets
        if not buckets or any(isinstance(b, bool) or not isinstance(b, int) or b < 2 for b in buckets):
            raise TargetError(f"{where}: field 'seq_buckets' must be integers >= 2, got {buckets!r}")
        if list(buckets) != sorted(set(buckets)):
            raise TargetError(f"{where}: field 'seq_buckets' must be strictly increasing")
        if buckets[-1] != self.max_seq_length:
            raise TargetError(
                f"{where}: field 'seq_buckets' must end at max_seq_length={self.max_seq_length}, got {list(buckets)}"
            )
        for name in ("min_mean_cosine", "min_cosine"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
                raise TargetError(f"{where}: field {name!r} must be a number in [-1, 1]")

    def replace(self, **changes: Any) -> TargetProfile:
        """A copy with some fields overridden (CLI flags), validated again; a choice that does not
        fit the format is blamed on its flag, not on the target."""
        changes = {k: v for k, v in changes.items() if v is not None}
        _check_flag_choices(changes, changes.get("format", self.format))
        new_format = changes.get("format")
        if new_format in FORMAT_RUNTIMES and new_format != self.format:
            # A format switch brings that format's runtime and, where needed, device and mode.
            changes.setdefault("runtime", FORMAT_RUNTIMES[new_format][0])
            if self.device not in FORMAT_DEVICES[new_format]:
                changes.setdefault("device", "CPU")
            if self.quantization not in FORMAT_QUANTIZATIONS[new_format]:
                modes = FORMAT_QUANTIZATIONS[new_format]
                changes.setdefault("quantization", "int8-full" if "int8-full" in modes else modes[0])
        if changes.get("device") == "NPU":
            changes.setdefault("static_shapes", True)
        if "max_seq_length" in changes and "seq_buckets" not in changes:
            limit = changes["max_seq_length"]
            kept = tuple(b for b in self.seq_buckets if b < limit)
            changes["seq_buckets"] = (*kept, limit)
        if "seq_buckets" in changes:
            changes["seq_buckets"] = tuple(changes["seq_buckets"])
            changes.setdefault("max_seq_length", changes["seq_buckets"][-1])
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> TargetProfile:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TargetError(f"{where}: unknown field(s) {unknown}; known fields: {sorted(known)}")
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise TargetError(f"{where}: missing field(s) {missing}")
        values = dict(data)
        if isinstance(values.get("seq_buckets"), list):
            values["seq_buckets"] = tuple(values["seq_buckets"])
        values["match"] = _device_match(values.get("match", {}), where)
        values["pruned"] = _pruned_gates(values.get("pruned", {}), where)
        try:
            return cls(**values)
        except TargetError as error:
            raise TargetError(f"{where}: {error}") from None


def _check_flag_choices(changes: dict[str, Any], fmt: str) -> None:
    """A TargetError naming the flag when an overridden choice is not one ``fmt`` offers."""
    tables = {"quantization": FORMAT_QUANTIZATIONS, "device": FORMAT_DEVICES, "runtime": FORMAT_RUNTIMES}
    for name, table in tables.items():
        allowed = table.get(fmt, ())
        if name in changes and allowed and changes[name] not in allowed:
            raise TargetError(
                f"--{name} {changes[name]} does not work with format {fmt}; choose one of {list(allowed)}"
            )


def _device_match(table: object, where: str) -> DeviceMatch:
    if not isinstance(table, dict):
        raise TargetError(f"{where}: [match] must be a table")
    unknown = sorted(set(table) - {f.name for f in dataclasses.fields(DeviceMatch)})
    if unknown:
        raise TargetError(f"{where}: unknown [match] field(s) {unknown}")
    values: dict[str, Any] = {}
    for name, value in table.items():
        if name == "priority":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TargetError(f"{where}: [match] priority must be an integer")
            values[name] = value
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TargetError(f"{where}: [match] {name} must be a list of strings")
        else:
            values[name] = tuple(v.lower() if name != "runtimes" else v for v in value)
    return DeviceMatch(**values)


def _pruned_gates(table: object, where: str) -> Gates:
    if not isinstance(table, dict):
        raise TargetError(f"{where}: [pruned] must be a table")
    known = {f.name for f in dataclasses.fields(Gates)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise TargetError(f"{where}: unknown [pruned] field(s) {unknown}; known fields: {sorted(known)}")
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TargetError(f"{where}: [pruned] {name} must be a number, got {value!r}")
        if name != "max_sts_drop" and not -1.0 <= value <= 1.0:
            raise TargetError(f"{where}: [pruned] {name} must be in [-1, 1], got {value!r}")
    return Gates(**{name: float(value) for name, value in table.items()})


def _choice(where: str, name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise TargetError(f"{where}: field {name!r} is {value!r}; expected one of {list(allowed)}")


def _builtin_dir():
    return resources.files("edgeembed.targets")


def builtin_target_names() -> list[str]:
    return sorted(p.name[: -len(".toml")] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def load_target(name_or_path: str | Path) -> TargetProfile:
    """A built-in profile by name (``rpi5``) or a user's own TOML file by path."""
    text_value = str(name_or_path)
    if text_value.endswith(".toml") or Path(text_value).is_file():
        path = Path(text_value)
        if not path.is_file():
            raise TargetError(f"target profile {path} not found")
        source, where = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = _builtin_dir() / f"{text_value}.toml"
        if not resource.is_file():
            raise TargetError(
                f"unknown target {text_value!r}; known targets: {', '.join(builtin_target_names())}"
                " (or pass a path to your own .toml profile)"
            )
        source, where = resource.read_text(encoding="utf-8"), f"{text_value}.toml"
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"{where}: invalid TOML ({error})") from None
    return TargetProfile.from_dict(data, where)


def all_targets() -> list[TargetProfile]:
    return [load_target(name) for name in builtin_target_names()]
