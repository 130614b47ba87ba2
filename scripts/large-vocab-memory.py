"""What a 250k-token vocabulary costs on the device: bundle size and peak RSS.

    python scripts/large-vocab-memory.py [--work DIR] [--target rpi5]

Builds a random model shaped like paraphrase-multilingual-MiniLM-L12-v2 (XLM-R family: 250,002
tokens, 384 wide, 12 layers) with a 250,002-piece Unigram tokenizer (no multilingual model
can be downloaded here, and the weights' values do not change sizes or memory), converts it
for the target, and prints the bundle's files and, from `edgeembed bench --compare`, the
peak RSS of embedding with it next to the default model's bundle in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOCAB = 250_002


def write_model(folder: Path) -> Path:
    import numpy as np
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=VOCAB, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=1536, max_position_embeddings=514, pad_token_id=1)
    XLMRobertaModel(config).eval().save_pretrained(folder)
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzäöüßéèàçñøåæœ"))
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces = dict.fromkeys(specials + [chr(c) for c in range(97, 123)] + [f"▁{chr(c)}" for c in range(97, 123)])
    while len(pieces) < VOCAB:
        size = int(rng.integers(2, 9))
        pieces.setdefault(("▁" if rng.random() < 0.5 else "") + "".join(rng.choice(letters, size)))
    vocab = [(piece, 0.0 if piece in specials else -float(rng.uniform(5, 15))) for piece in pieces]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=3))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    from tokenizers.processors import TemplateProcessing

    tokenizer.post_processor = TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/edgeembed-large-vocab"))
    parser.add_argument("--target", default="rpi5")
    parser.add_argument("--compare", default=None, help="a bundle to bench beside it (e.g. the default model's)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.work / "model"
    if not (model / "tokenizer.json").is_file():
        model.mkdir(exist_ok=True)
        write_model(model)
    bundle = args.work / f"bundle-{args.target}"
    edgeembed = [sys.executable, "-m", "edgeembed.cli"]
    if not (bundle / "edgeembed.json").is_file():
        subprocess.run([*edgeembed, "convert", str(model), "--target", args.target, "--out", str(bundle), "--overwrite"], check=True)
    sizes = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(bundle.iterdir())}
    print(json.dumps({"bundle": str(bundle), "files_mb": sizes, "total_mb": round(sum(sizes.values()), 1)}))
    bench = [*edgeembed, "bench", str(bundle), "--baseline", "", "--rounds", "2", "--json"]
    if args.compare:
        bench += ["--compare", args.compare]
    result = json.loads(subprocess.run(bench, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    for name, figures in result["results"].items():
        print(json.dumps({"pipeline": name, **{k: round(figures[k], 1) for k in ("peak_rss_mb", "model_mb", "cold_start_s", "batch1_per_s", "batch32_per_s")}}))


if __name__ == "__main__":
    main()
