"""Semantic search over a text file with an edgeembed bundle (runs on the device, no torch).

    python semantic_search.py BUNDLE corpus.txt "how do I reset the router?" [--top 5]
    python semantic_search.py BUNDLE corpus.txt --serve 8765    # GET /search?q=...&k=5 -> JSON
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

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


def serve(index: Index, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            params = parse_qs(url.query)
            if url.path != "/search" or not params.get("q"):
                self._reply(400, {"error": "use /search?q=TEXT&k=5"})
                return
            try:
                top = int(params.get("k", ["5"])[0])
            except ValueError:
                self._reply(400, {"error": "k must be an integer"})
                return
            hits = index.search(params["q"][0], min(top, 100))
            self._reply(200, {"query": params["q"][0], "hits": [{"score": s, "text": t} for s, t in hits]})

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    print(f"serving {len(index.documents)} documents on http://0.0.0.0:{port}/search?q=...", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("corpus", help="text file, one document per line")
    parser.add_argument("query", nargs="*")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--serve", type=int, metavar="PORT", help="answer GET /search?q=...&k=N")
    args = parser.parse_args()
    index = Index(args.bundle, args.corpus)
    if args.serve:
        serve(index, args.serve)
        return
    if not args.query:
        parser.error("give a query, or --serve PORT")
    for query in args.query:
        print(f"\n{query}")
        for score, text in index.search(query, args.top):
            print(f"  {score:.3f}  {text}")


if __name__ == "__main__":
    main()
