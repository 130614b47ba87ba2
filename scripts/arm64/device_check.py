"""Embed a fixed set of sentences with a bundle and compare with reference embeddings.

    python device_check.py write BUNDLE REFERENCE.npy          # on x86, the reference
    python device_check.py check BUNDLE REFERENCE.npy [FP32.npy]   # on the (emulated) device

``check`` prints one PASS/FAIL line per sentence and exits 1 on any failure. Thresholds:
cosine >= 0.99 for INT8 bundles, >= 0.999 for float ones (fp32, fp16). Uses only the
installed edgeembed: it runs inside the device's venv.
"""

from __future__ import annotations

import platform
import sys

import numpy as np

from edgeembed import Embedder

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "The new movie is awesome.",
    "How do I reset my router?",
    "Water the plants twice a week.",
    "Die Katze schläft auf dem Sofa.",
    "Le train part à huit heures.",
    "Emoji test 🙂 with accents: café, naïve, façade.",
    "",
    "Raspberry Pi 5 runs an INT8 sentence embedding model with LiteRT and XNNPACK, "
    "which needs no PyTorch and no TensorFlow on the device at all. " * 6,
]


def threshold(quantization: str) -> float:
    return 0.999 if quantization in ("fp32", "fp16") else 0.99


def main() -> int:
    mode, bundle, reference = sys.argv[1:4]
    embedder = Embedder.load(bundle)
    vectors = embedder.encode(SENTENCES, normalize_embeddings=True)
    if mode == "write":
        np.save(reference, vectors)
        print(f"wrote {reference}: {vectors.shape} on {platform.machine()}")
        return 0
    expected = np.load(reference)
    floor = threshold(embedder.bundle.manifest.quantization)
    failed = 0
    for index, (ours, theirs) in enumerate(zip(vectors, expected)):
        cosine = float(ours @ theirs)
        # A text with no known token (a static table's small vocabulary, "") embeds as zeros,
        # documented; zeros on both machines agree.
        both_zero = not np.any(ours) and not np.any(theirs)
        good = (cosine >= floor or both_zero) and bool(np.isfinite(ours).all())
        failed += not good
        shown = "both zero vectors" if both_zero else f"cosine to x86 {cosine:.6f} (>= {floor})"
        print(f"{'PASS' if good else 'FAIL'} {bundle} sentence {index}: {shown}")
    if len(sys.argv) > 4:  # information: both architectures against the FP32 PyTorch model
        fp32 = np.load(sys.argv[4])
        print(f"cosine to FP32 PyTorch: {platform.machine()} mean {np.mean(np.sum(vectors * fp32, 1)):.4f} "
              f"min {np.min(np.sum(vectors * fp32, 1)):.4f}; x86 mean {np.mean(np.sum(expected * fp32, 1)):.4f} "
              f"min {np.min(np.sum(expected * fp32, 1)):.4f}")
    print(f"{platform.machine()} python {platform.python_version()} runtime "
          f"{getattr(embedder.backend, 'runtime', '?')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
