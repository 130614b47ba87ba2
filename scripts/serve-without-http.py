"""The most any HTTP stack could serve: the server's own service (tokenizing, batcher, model)
driven by concurrent asyncio clients in one process, with no HTTP and no JSON, against
``encode`` at batch 32 on the same texts. Each side runs in a fresh process, in interleaved rounds.

    python scripts/serve-without-http.py BUNDLE [--clients 32] [--texts 1500] [--rounds 3]

Every request is one text the service has not seen (``edgeembed.texts.distinct_texts``); a warm-up
pass uses other texts. Prints one line per round: texts/s and CPU per text on each side, and the
served share. Compare with ``edgeembed bench-serve BUNDLE``, whose share includes the HTTP stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path


def serve_in_process(bundle: str, warm_up: list[str], texts: list[str], clients: int) -> tuple[float, float]:
    """(texts/s, ms of CPU per text) of ``clients`` one-text clients calling the service directly."""
    from edgeembed.embed.embedder import Embedder
    from edgeembed.serve.schemas import EmbedRequest
    from edgeembed.serve.service import EmbeddingService
    from edgeembed.serve.settings import ServeSettings

    service = EmbeddingService(Embedder.load(Path(bundle), embedding_cache_size=0), ServeSettings())
    service.warm_up()

    async def run(batch: list[str]) -> None:
        pending = list(reversed(batch))

        async def client() -> None:
            while pending:
                await service.embed(EmbedRequest([pending.pop()]))

        await asyncio.gather(*(client() for _ in range(clients)))

    async def measured() -> tuple[float, float]:  # one event loop: the batcher's task lives in it
        await run(warm_up)
        wall, cpu = time.perf_counter(), time.process_time()
        await run(texts)
        return time.perf_counter() - wall, time.process_time() - cpu

    wall, cpu = asyncio.run(measured())
    return len(texts) / wall, 1000 * cpu / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--texts", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from edgeembed.data import distinct_texts
    from edgeembed.tools.offline_rate import offline_rate

    pool = distinct_texts(2 * args.texts)
    warm_up, texts = pool[: args.texts], pool[args.texts :]
    if args.child:
        print(json.dumps(serve_in_process(args.bundle, warm_up, texts, args.clients)))
        return
    child = [
        sys.executable,
        __file__,
        args.bundle,
        "--clients",
        str(args.clients),
        "--texts",
        str(args.texts),
        "--child",
    ]
    for number in range(args.rounds):
        served = subprocess.run(child, capture_output=True, text=True, check=True)
        rate, cpu = json.loads(served.stdout.strip().splitlines()[-1])
        offline = offline_rate(args.bundle, texts)
        print(
            f"round {number + 1}: no HTTP, {args.clients} clients {rate:,.0f} texts/s at {cpu:.3f} ms CPU per text; "
            f"encode batch 32 {offline['texts_per_s']:,.0f} texts/s at {offline['cpu_ms_per_text']:.3f} ms; "
            f"share {rate / offline['texts_per_s']:.2f}"
        )


if __name__ == "__main__":
    main()
