import pytest

pytestmark = pytest.mark.convert  # the signature plan lives in the litert-torch route (torch)
pytest.importorskip("torch")

from edgeembed.bundle import Signature
from edgeembed.converters.litert_torch import signature_plan
from edgeembed.runtimes.litert import LiteRTBackend


def test_signature_plan_keeps_a_token_budget():
    plan = signature_plan((16, 32, 64, 128), 32)
    batches = {(bucket, batch) for _, bucket, batch in plan}
    assert batches == {(16, 1), (16, 32), (32, 1), (32, 16), (64, 1), (64, 8), (128, 1), (128, 4)}


def test_runtime_chunks_full_batches_then_pads_or_goes_row_by_row():
    one = Signature("seq_16", 16, 1, {"input_ids": "input_ids"}, "o")
    eight = Signature("seq_16_b8", 16, 8, {"input_ids": "input_ids"}, "o")
    plan = LiteRTBackend._plan(19, {1: one, 8: eight})
    assert [(s.batch_size, n) for s, n in plan] == [(8, 8), (8, 8), (1, 1), (1, 1), (1, 1)]
    plan = LiteRTBackend._plan(14, {1: one, 8: eight})
    assert [(s.batch_size, n) for s, n in plan] == [(8, 8), (8, 6)]  # 6 > 4: pad to 8


def test_static_int8_models_get_batch_one_signatures_only():
    assert {batch for _, _, batch in signature_plan((16, 32), 32, batched=False)} == {1}


def test_packed_plans_batch_only_their_row_length():
    plan = signature_plan((8, 16, 32, 48, 64, 128), 32, packed=True)
    assert {(bucket, batch) for _, bucket, batch in plan} == {(8, 1), (16, 1), (32, 1), (48, 1), (64, 1), (128, 1), (48, 10)}
    plan = signature_plan((8, 16, 32, 64, 128), 32, packed=True)  # rows are always a bucket
    assert (64, 8) in {(bucket, batch) for _, bucket, batch in plan}
