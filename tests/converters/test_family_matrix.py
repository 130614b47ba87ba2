"""Every model family on every route, fp32 and int8-full, from tiny random models.

A cell either converts and follows PyTorch (mean cosine >= 0.999 fp32, >= 0.98 int8-full) or
is refused before any work with an error naming the family and the route
(``converters/families.py``). The matrix in docs/formats.md is checked against the same table.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.convert
pytest.importorskip("litert_torch")

from tiny_models import write_target, write_tiny_model

from edgeembed.converters import convert
from edgeembed.converters.families import supports
from edgeembed.errors import ConversionError

# case -> (tiny_models family, Pooling mode, transformers model_type)
CASES = {
    "BERT (mean)": ("bert", "mean_tokens", "bert"),
    "BERT (CLS)": ("bert", "cls_token", "bert"),
    "DistilBERT": ("distilbert", "mean_tokens", "distilbert"),
    "RoBERTa": ("roberta", "mean_tokens", "roberta"),
    "XLM-RoBERTa (250k vocab)": ("xlm-roberta", "mean_tokens", "xlm-roberta"),
    "MPNet": ("mpnet", "mean_tokens", "mpnet"),
    "ModernBERT": ("modernbert", "mean_tokens", "modernbert"),
    "Qwen3 (last token)": ("qwen3", "lasttoken", "qwen3"),
}
# column -> (format, converter, route name)
ROUTES = {
    "TFLite (litert-torch)": ("tflite", "litert-torch", "tflite"),
    "TFLite (onnx2tf)": ("tflite", "onnx2tf", "tflite/onnx2tf"),
    "OpenVINO": ("openvino", None, "openvino"),
    "ONNX": ("onnx", None, "onnx"),
}
BARS = {"fp32": 0.999, "int8-full": 0.98}
README = Path(__file__).resolve().parents[2] / "docs" / "formats.md"  # the matrix users read


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root, built = tmp_path_factory.mktemp("families"), {}

    def model(case: str) -> Path:
        if case not in built:
            family, pooling, _ = CASES[case]
            built[case] = write_tiny_model(root / re.sub(r"\W+", "-", case), family=family, pooling=pooling)
        return built[case]

    return model


def _cells():
    for case in CASES:
        for column, (_, converter, _) in ROUTES.items():
            for mode in BARS:
                marks = [pytest.mark.slow] if converter == "onnx2tf" else []
                yield pytest.param(case, column, mode, marks=marks, id=f"{case}|{column}|{mode}")


@pytest.mark.parametrize(("case", "column", "mode"), list(_cells()))
def test_family_on_route(models, tmp_path, case, column, mode):
    fmt, converter, route = ROUTES[column]
    model_type = CASES[case][2]
    arguments = dict(out=tmp_path / "b", target=write_target(tmp_path, mode), format=fmt, converter=converter, quantization=mode)
    if not supports(model_type, route):
        with pytest.raises(ConversionError, match=f"{model_type} models cannot take the {re.escape(route)} route"):
            convert(models(case), **arguments)
        return
    report = convert(models(case), **arguments).report
    assert report["fidelity"]["mean_cosine"] >= BARS[mode], report["fidelity"]
    assert report["quantization"] == mode and report["verdict"]["passed"]


def test_readme_matrix_matches_the_table():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- family-matrix -->"):text.index("<!-- /family-matrix -->")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| family")]
    found = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        found[cells[0]] = ["refused" not in cell for cell in cells[1:]]
    expected = {case: [supports(CASES[case][2], route) for _, _, route in ROUTES.values()] for case in CASES}
    assert found == expected
