import numpy as np

from edgeembed.converters.similarity import cosine_summary, spearman, sts_spearman
from edgeembed.embed.pooling import l2_normalize, pool


def test_mean_pooling_ignores_padding():
    outputs = np.array([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert pool(outputs, mask, "mean").tolist() == [[2.0, 2.0]]
    assert pool(outputs, mask, "cls").tolist() == [[1.0, 1.0]]
    assert pool(outputs, mask, "last").tolist() == [[3.0, 3.0]]


def test_normalize_keeps_zero_vectors_finite():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_spearman_matches_known_values_with_ties():
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == 1.0
    assert spearman(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == -1.0
    # scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
    assert abs(spearman(np.array([1, 2, 2, 3]), np.array([1, 3, 2, 4])) - 0.9486833) < 1e-6


def test_cosine_summary_and_sts():
    a = np.eye(3, dtype=np.float32)
    assert cosine_summary(a, a)["mean_cosine"] == 1.0
    first = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    second = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert sts_spearman(first, second, np.array([5.0, 3.0, 0.0])) == 100.0
