"""Which texts share a packed row: bin packing with as little padding as possible.

A packed row costs its full length however few tokens it holds, so every row but the last should
be full. First-fit decreasing leaves a gap in each row that no remaining text fits (texts of 7-12
tokens in rows of 48: 12+12+12+11 leaves 1). Filling each row with the subset of texts that fits
it best (minimum bin slack) closes most of those gaps; where it needs more rows than the tokens
do, first-fit decreasing is tried too and the better kept, so a batch never gets more rows than
first-fit decreasing would give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Rows = list[list[int]]  # text indices per row, in the order they sit in the row


def fill_rows(lengths: Sequence[int], row_length: int) -> Rows:
    """Texts (by token count) into rows of ``row_length``, every length fitting a row. Minimum
    bin slack alone when it reaches the fewest rows the tokens allow (first-fit decreasing cannot
    beat that, and costs more time); else the better of the two: fewer rows, then the emptiest
    row as empty as possible (a leftover row runs in a smaller bucket)."""
    filled = fullest_subsets(lengths, row_length)
    if len(filled) <= -(-sum(lengths) // row_length):  # as few rows as the tokens allow
        return filled
    return min((filled, first_fit_decreasing(lengths, row_length)), key=lambda rows: _cost_key(rows, lengths))


def first_fit_decreasing(lengths: Sequence[int], row_length: int) -> Rows:
    """Longest text first; each goes into the first row with room for all of it."""
    sizes = np.asarray(lengths, dtype=np.int64)
    room = np.full(max(len(sizes), 1), row_length, dtype=np.int64)  # never more rows than texts
    rows: Rows = []
    for text in np.argsort(-sizes, kind="stable"):
        row = int(np.argmax(room[: len(rows) + 1] >= sizes[text]))  # a fresh row always has room
        if row == len(rows):
            rows.append([])
        rows[row].append(int(text))
        room[row] -= sizes[text]
    return rows


def fullest_subsets(lengths: Sequence[int], row_length: int) -> Rows:
    """Each row takes the longest text left, then the subset of the others that fills the rest of
    the row most; among equally full subsets, the one that uses fewest short texts, which are kept
    to close later rows. Subset sums are bitsets (bit s: some choice sums to s tokens)."""
    waiting: dict[int, list[int]] = {}  # token count -> texts, the lowest index last (popped first)
    empty: list[int] = []  # texts without tokens take no room; they join the first row
    for text in range(len(lengths) - 1, -1, -1):
        if lengths[text]:
            waiting.setdefault(int(lengths[text]), []).append(text)
        else:
            empty.insert(0, text)
    rows: Rows = []
    while waiting:
        longest = max(waiting)
        row = [_take(waiting, longest)]
        room = row_length - longest
        sizes = sorted((size for size in waiting if size <= room), reverse=True)
        within_room = (2 << room) - 1
        reachable = [1]  # reachable[k]: sums made of sizes[:k]
        for size in sizes:
            sums = shifted = reachable[-1]
            for _ in range(min(len(waiting[size]), room // size)):
                shifted = (shifted << size) & within_room
                sums |= shifted
            reachable.append(sums)
        left = reachable[-1].bit_length() - 1  # the fullest fill the room allows
        for stage in range(len(sizes) - 1, -1, -1):  # shortest texts first, as few as will do
            size, count = sizes[stage], 0
            while not (reachable[stage] >> (left - count * size)) & 1:
                count += 1
            row.extend(_take(waiting, size) for _ in range(count))
            left -= count * size
        rows.append(row)
    if empty:
        rows[:1] = [(rows[0] if rows else []) + empty]
    return rows


def _take(waiting: dict[int, list[int]], size: int) -> int:
    texts = waiting[size]
    text = texts.pop()
    if not texts:
        del waiting[size]
    return text


def _cost_key(rows: Rows, lengths: Sequence[int]) -> tuple[int, list[int]]:
    """Fewer rows first; then, row fills from the emptiest up, smaller is better."""
    return len(rows), sorted(sum(lengths[text] for text in row) for row in rows)
