"""Semantic search over a text file with an edgeembed bundle (runs on the device, no torch).

    python samples/semantic_search.py BUNDLE corpus.txt "how do I reset the router?" [--top 5]
"""

from __future__ import annotations

import argparse

import numpy as np

from edgeembed import Embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("corpus", help="text file, one document per line")
    parser.add_argument("query", nargs="+")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        documents = [line.strip() for line in handle if line.strip()]
    model = Embedder.load(args.bundle)
    corpus = model.encode(documents, normalize_embeddings=True, show_progress_bar=len(documents) > 500)
    for query in args.query:
        scores = corpus @ model.encode(query, normalize_embeddings=True)
        print(f"\n{query}")
        for index in np.argsort(-scores)[: args.top]:
            print(f"  {scores[index]:.3f}  {documents[index]}")


if __name__ == "__main__":
    main()
