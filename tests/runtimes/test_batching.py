"""Signature lookup and row chunking shared by the ONNX Runtime and OpenVINO backends."""

import numpy as np
import pytest

from edgeembed.errors import BundleError
from edgeembed.runtimes.batching import run_in_chunks, signature_for

SIGNATURES = {16: "seq_16", 32: "seq_32", 128: "seq_128"}


def test_a_bucket_length_finds_its_signature_with_or_without_exact_lengths():
    assert signature_for(SIGNATURES, 32, exact_lengths=False) == "seq_32"
    assert signature_for(SIGNATURES, 32, exact_lengths=True) == "seq_32"


def test_exact_lengths_take_the_smallest_bucket_that_holds_them():
    assert signature_for(SIGNATURES, 17, exact_lengths=True) == "seq_32"
    assert signature_for(SIGNATURES, 1, exact_lengths=True) == "seq_16"


@pytest.mark.parametrize(("length", "exact"), [(17, False), (129, True)])
def test_a_length_without_a_signature_is_a_bundle_error_naming_the_buckets(length, exact):
    with pytest.raises(BundleError, match=rf"no signature for sequence length {length}; have \(16, 32, 128\)"):
        signature_for(SIGNATURES, length, exact_lengths=exact)


def test_static_models_get_full_batches_and_the_padding_rows_are_dropped():
    ids = np.arange(10, dtype=np.int64).reshape(5, 2)
    seen = []
    out = run_in_chunks(ids, ids, 2, True, lambda a, m: seen.append(a.shape) or a.astype(np.float32))
    assert seen == [(2, 2), (2, 2), (2, 2)] and np.array_equal(out, ids.astype(np.float32))
