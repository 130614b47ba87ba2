"""Host side of scripts/arm64-bench.sh: the texts and the ONNX Runtime baselines for the guest.

Usage: python bench_inputs.py DATA_DIR STS_CSV COUNT
Writes texts.txt (the first COUNT distinct first sentences of the STS CSV, or of the built-in
held-out set when the CSV is absent: edgeembed embeds a repeated text once per call, the
baselines do not, so a repeat would flatter edgeembed's batch-32 figure), tokenizer.json, ort-int8.onnx (dynamic INT8, as `edgeembed bench`
and fastembed use) and ort-fp32.onnx, all of the default model.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main() -> None:
    from edgeembed.converters.onnx import export_onnx
    from edgeembed.converters.sources import load_source
    from edgeembed.converters.sts import read_sts
    from edgeembed.data import builtin_texts
    from edgeembed.host.bench import _onnx_int8, _transformer_dir

    data, sts, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    pool = read_sts(sts).first if sts.is_file() else builtin_texts("holdout")
    texts = list(dict.fromkeys(pool))[:count]
    (data / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    source = load_source()
    shutil.copyfile(Path(source.path) / "tokenizer.json", data / "tokenizer.json")
    shutil.copyfile(_onnx_int8(source, _transformer_dir(Path(source.path))), data / "ort-int8.onnx")
    export_onnx(source.model, data / "ort-fp32.onnx")
    print(f"{len(texts)} texts from {sts if sts.is_file() else 'the built-in held-out set'}")


if __name__ == "__main__":
    main()
