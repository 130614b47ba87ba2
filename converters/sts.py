"""STS pairs with gold scores, for evaluating a bundle (``sentence1,sentence2,score`` rows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeembed.errors import InputError
from edgeembed.texts import csv_rows


@dataclass(frozen=True)
class StsPairs:
    first: tuple[str, ...]
    second: tuple[str, ...]
    scores: tuple[float, ...]


def read_sts(path: str | Path) -> StsPairs:
    """STS pairs with gold scores from ``sentence1,sentence2,score`` rows."""
    first, second, scores = [], [], []
    for number, row in enumerate(csv_rows(path), start=1):
        if len(row) < 3:
            raise InputError(f"{path}:{number}: expected sentence1,sentence2,score")
        try:
            scores.append(float(row[2]))
        except ValueError:
            raise InputError(f"{path}:{number}: score {row[2]!r} is not a number") from None
        first.append(row[0])
        second.append(row[1])
    if len(scores) < 3:
        raise InputError(f"{path}: need at least 3 scored pairs, found {len(scores)}")
    return StsPairs(tuple(first), tuple(second), tuple(scores))
