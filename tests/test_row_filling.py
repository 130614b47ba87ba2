"""Row filling: which texts share a packed row (pure Python, no model)."""

import numpy as np
import pytest

from edgeembed.embed.row_filling import fill_rows, first_fit_decreasing, fullest_subsets

# Token counts of the first 40 distinct STS-B dev sentences (the emulated-Pi benchmark set).
STS_SHORT = [7] * 5 + [8] * 8 + [9] * 14 + [10] * 5 + [11] * 5 + [12] * 3


def _fills(rows, lengths):
    return sorted((sum(lengths[text] for text in row) for row in rows), reverse=True)


def test_short_texts_fill_every_row_but_the_last():
    rows = fill_rows(STS_SHORT, 48)
    assert _fills(rows, STS_SHORT) == [48] * 7 + [30]  # 366 tokens: 7 full rows, 30 left
    # first-fit decreasing strands gaps no remaining text fits (12+12+12+11 leaves 1)
    assert len(first_fit_decreasing(STS_SHORT, 48)) == 8


@pytest.mark.parametrize("seed", range(200))
def test_every_text_in_one_row_never_more_rows_than_first_fit(seed):
    rng = np.random.default_rng(seed)
    row_length = int(rng.choice([8, 16, 32, 48, 64, 128]))
    lengths = rng.integers(0, int(rng.integers(1, row_length + 1)) + 1, int(rng.integers(0, 80))).tolist()
    rows = fill_rows(lengths, row_length)
    assert sorted(text for row in rows for text in row) == list(range(len(lengths)))
    assert all(sum(lengths[text] for text in row) <= row_length for row in rows)
    assert len(rows) <= len(first_fit_decreasing(lengths, row_length))


def test_fullest_subsets_keeps_short_texts_for_later_gaps():
    rows = fullest_subsets([12, 12, 8, 8, 8, 7, 7, 11, 11, 11], 48)
    assert sorted([12, 12, 8, 8, 8, 7, 7, 11, 11, 11][t] for t in rows[0]) == [8, 8, 8, 12, 12]
    assert _fills(rows, [12, 12, 8, 8, 8, 7, 7, 11, 11, 11]) == [48, 47]


def test_texts_without_tokens_join_the_first_row():
    assert fill_rows([0, 0], 16) == [[0, 1]]
    rows = fill_rows([5, 0, 16], 16)
    assert sorted(map(sorted, rows)) == [[0], [1, 2]]  # the 16-token text's row comes first
    assert fill_rows([], 16) == []
