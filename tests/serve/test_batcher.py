"""The dynamic batcher with a numpy stand-in for the model: batching, limits, draining."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from edgeembed.serve.batcher import AbandonedError, DynamicBatcher, QueueFullError, ShuttingDownError


class FakeModel:
    """Rows = [text length, batch number]; records each batch's texts."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.delay_s, self.fail = delay_s, fail
        self.threads: set[int] = set()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.threads.add(threading.get_ident())
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("model exploded")
        self.batches.append(list(texts))
        return np.array([[len(text), len(self.batches)] for text in texts], dtype=np.float32)


def batcher_for(model: FakeModel, **limits) -> DynamicBatcher:
    options = {"max_batch": 8, "max_batch_tokens": 1000, "max_wait_s": 0.05, "max_queue": 64, **limits}
    return DynamicBatcher(model, **options)


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_batches_and_keep_their_rows():
    model = FakeModel(delay_s=0.02)

    async def main():
        batcher = batcher_for(model)
        requests = [[f"text {i}" + "x" * i, f"second {i}"] for i in range(12)]
        results = await asyncio.gather(*(batcher.submit(texts, 4) for texts in requests))
        await batcher.close()
        return requests, results

    requests, results = run(main())
    for texts, rows in zip(requests, results):
        assert rows[:, 0].tolist() == [len(t) for t in texts]  # own rows, own order
        assert len(set(rows[:, 1].tolist())) == 1  # never split across batches
    assert max(len(batch) for batch in model.batches) == 8  # max_batch texts
    assert len(model.batches) < len(requests)
    assert len(model.threads) == 1  # one model thread


def test_a_lone_request_does_not_wait_for_company():
    model = FakeModel()

    async def main():
        batcher = batcher_for(model, max_wait_s=5.0)
        started = time.monotonic()
        await batcher.submit(["alone"], 1)
        elapsed = time.monotonic() - started
        await batcher.close()
        return elapsed

    assert run(main()) < 1.0


def test_a_batch_waits_for_a_request_on_its_way():
    model = FakeModel()

    async def main():
        batcher = batcher_for(model, max_wait_s=2.0)
        with batcher.arriving() as arrival:
            first = asyncio.ensure_future(batcher.submit(["first"], 1))
            await asyncio.sleep(0.05)
            assert not first.done()  # held: another request is being read
            second = await batcher.submit(["second"], 1, arrival)
        await first
        await batcher.close()
        return second

    run(main())
    assert model.batches == [["first", "second"]]


def test_token_budget_closes_a_batch():
    model = FakeModel(delay_s=0.01)

    async def main():
        batcher = batcher_for(model, max_batch_tokens=10)
        await asyncio.gather(*(batcher.submit([f"t{i}"], 4) for i in range(6)))
        await batcher.close()

    run(main())
    assert all(len(batch) <= 2 for batch in model.batches)


def test_a_request_larger_than_max_batch_is_split_into_model_sized_batches_and_comes_back_whole():
    model = FakeModel()

    async def main():
        batcher = batcher_for(model, max_batch=2)
        rows = await batcher.submit(["a", "bb", "ccc"], 3)
        await batcher.close()
        return rows

    assert run(main())[:, 0].tolist() == [1, 2, 3]
    assert model.batches == [["a", "bb"], ["ccc"]]


def test_a_one_text_query_beside_two_big_requests_is_answered_before_either_finishes():
    """Order, not milliseconds: the query rides in the next batch; each big one is split."""
    model = FakeModel(delay_s=0.01)
    finished: list[str] = []

    async def main():
        batcher = batcher_for(model, max_batch=8, max_queue=128)

        async def request(name: str, texts: list[str]):
            rows = await batcher.submit(texts, len(texts))
            finished.append(name)
            return rows

        big = [asyncio.ensure_future(request(f"big {i}", [f"b{i} {j}" for j in range(48)])) for i in range(2)]
        while not model.batches:  # the first batch of big texts has run: both are queued behind it
            await asyncio.sleep(0.001)
        query = await request("query", ["q"])
        await asyncio.gather(*big)
        await batcher.close()
        return query

    assert run(main())[:, 0].tolist() == [1]
    assert finished[0] == "query" and sorted(finished[1:]) == ["big 0", "big 1"]
    assert max(len(batch) for batch in model.batches) <= 8
    assert any("q" in batch for batch in model.batches)


def test_a_client_that_leaves_mid_request_stops_its_remaining_batches():
    model = FakeModel(delay_s=0.02)
    left = {"now": False}

    async def main():
        batcher = batcher_for(model, max_batch=4, max_queue=128)
        task = asyncio.ensure_future(batcher.submit([f"t{i}" for i in range(40)], 40, gone=lambda: left["now"]))
        await asyncio.sleep(0.05)  # a batch or two ran
        left["now"] = True
        with pytest.raises(AbandonedError):
            await task
        await batcher.close()

    run(main())
    assert 1 <= len(model.batches) < 5  # of the ten its 40 texts would have taken


def test_queue_full_is_refused_not_grown():
    model = FakeModel(delay_s=0.2)

    async def main():
        batcher = batcher_for(model, max_queue=4, max_batch=1)
        first = asyncio.ensure_future(batcher.submit(["running"], 1))
        await asyncio.sleep(0.05)  # the first is in the model now
        waiting = [asyncio.ensure_future(batcher.submit([f"q{i}"], 1)) for i in range(4)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError, match="queue is full"):
            await batcher.submit(["one too many"], 1)
        await asyncio.gather(first, *waiting)
        await batcher.close()

    run(main())


def test_close_finishes_queued_work_then_refuses_new():
    model = FakeModel(delay_s=0.02)

    async def main():
        batcher = batcher_for(model, max_batch=1)
        pending = [asyncio.ensure_future(batcher.submit([f"t{i}"], 1)) for i in range(5)]
        await asyncio.sleep(0)
        await batcher.close()
        assert all(task.done() and not task.exception() for task in pending)
        with pytest.raises(ShuttingDownError):
            await batcher.submit(["late"], 1)

    run(main())


def test_a_model_failure_reaches_every_request_of_the_batch_and_the_next_batch_runs():
    model = FakeModel(fail=True)

    async def main():
        batcher = batcher_for(model)
        results = await asyncio.gather(batcher.submit(["a"], 1), batcher.submit(["b"], 1), return_exceptions=True)
        model.fail = False
        after = await batcher.submit(["c"], 1)
        await batcher.close()
        return results, after

    results, after = run(main())
    assert all(isinstance(r, RuntimeError) for r in results)
    assert after[0, 0] == 1


def test_abandoned_requests_cost_no_compute():
    model = FakeModel(delay_s=0.1)

    async def main():
        batcher = batcher_for(model, max_batch=1)
        first = asyncio.ensure_future(batcher.submit(["first"], 1))
        await asyncio.sleep(0.02)
        gone = asyncio.ensure_future(batcher.submit(["gone"], 1))
        await asyncio.sleep(0.01)
        gone.cancel()
        await first
        await batcher.submit(["last"], 1)
        await batcher.close()

    run(main())
    assert ["gone"] not in model.batches


def test_a_client_that_left_is_dropped_at_submit_and_before_its_batch_forms():
    """``gone()`` is read synchronously: no event-loop round trip lets a departed client's texts
    slip into a batch (the server sets it the moment the connection ends)."""
    model = FakeModel(delay_s=0.1)
    left = {"early": True, "queued": False}

    async def main():
        batcher = batcher_for(model, max_batch=1)
        first = asyncio.ensure_future(batcher.submit(["first"], 1))
        await asyncio.sleep(0.02)
        with pytest.raises(AbandonedError):
            await batcher.submit(["early"], 1, gone=lambda: left["early"])
        queued = asyncio.ensure_future(batcher.submit(["queued"], 1, gone=lambda: left["queued"]))
        await asyncio.sleep(0.01)
        left["queued"] = True  # no task is cancelled: only the flag says the client left
        await first
        await batcher.submit(["last"], 1)
        with pytest.raises(AbandonedError):
            await queued
        await batcher.close()

    run(main())
    assert model.batches == [["first"], ["last"]]


def test_small_requests_go_first_and_the_largest_are_shed():
    """While big requests fill the queue, a one-text request is admitted and served next; the
    largest, newest requests are refused to make room."""
    model = FakeModel(delay_s=0.05)

    async def main():
        batcher = batcher_for(model, max_batch=8, max_queue=24)
        first = asyncio.ensure_future(batcher.submit(["busy"] * 8, 8))  # occupies the model
        await asyncio.sleep(0.01)
        big = [asyncio.ensure_future(batcher.submit([f"big {i}"] * 8, 8)) for i in range(3)]
        await asyncio.sleep(0.01)
        small = asyncio.ensure_future(batcher.submit(["small"], 1))
        outcomes = await asyncio.gather(first, *big, small, return_exceptions=True)
        await batcher.close()
        return outcomes

    first, *big, small = run(main())
    assert small.shape == (1, 2)
    assert [isinstance(b, QueueFullError) for b in big] == [False, False, True]  # the newest big one
    assert "smaller requests went first" in str(big[2])
    assert model.batches[1][0] == "small"  # served right after the batch that was running (big texts fill the rest)


def test_a_request_waiting_too_long_is_refused():
    model = FakeModel(delay_s=0.3)

    async def main():
        batcher = batcher_for(model, max_batch=1, max_queue_wait_s=0.1)
        results = await asyncio.gather(*(batcher.submit([f"t{i}"], 1) for i in range(3)), return_exceptions=True)
        await batcher.close()
        return results

    results = run(main())
    assert any(isinstance(r, QueueFullError) and "waited" in str(r) for r in results)
    assert not isinstance(results[0], Exception)
