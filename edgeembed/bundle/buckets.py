"""Sequence buckets: the lengths a bundle's signatures take. One rule picks a length's bucket."""

from __future__ import annotations

from collections.abc import Sequence


def smallest_bucket(buckets: Sequence[int], length: int) -> int:
    """The smallest bucket that holds ``length`` tokens; the largest when none does (the text is
    then truncated to it). ``buckets`` must be sorted ascending."""
    for bucket in buckets:
        if bucket >= length:
            return bucket
    return buckets[-1]
