"""Semantic search over a text file with an edgeembed bundle (runs on the device, no torch).

    python semantic_search.py BUNDLE corpus.txt "how do I reset the router?" [--top 5]

Over HTTP, run ``edgeembed serve BUNDLE`` (the device package installs it as a service) and
call ``/v1/embeddings`` from your app.
"""

from __future__ import annotations

import argparse

import numpy as np

from edgeembed import Embedder


class Index:
    """Documents and their normalized embeddings; queries rank by cosine."""

    def __init__(self, bundle: str, corpus: str) -> None:
        with open(corpus, encoding="utf-8") as handle:
            self.documents = [line.strip() for line in handle if line.strip()]
        if not self.documents:
            raise SystemExit(f"{corpus} has no non-empty lines")
        self.model = Embedder.load(bundle)
        self.vectors = self.model.encode(
            self.documents, normalize_embeddings=True, show_progress_bar=len(self.documents) > 500
        )

    def search(self, query: str, top: int = 5) -> list[tuple[float, str]]:
        scores = self.vectors @ self.model.encode(query, normalize_embeddings=True)
        return [(float(scores[i]), self.documents[i]) for i in np.argsort(-scores)[: max(1, top)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("corpus", help="text file, one document per line")
    parser.add_argument("query", nargs="+")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    index = Index(args.bundle, args.corpus)
    for query in args.query:
        print(f"\n{query}")
        for score, text in index.search(query, args.top):
            print(f"  {score:.3f}  {text}")


if __name__ == "__main__":
    main()
