"""TFLite through ONNX: PyTorch -> ONNX (one static graph per bucket) -> onnx2tf (Keras) ->
one multi-signature ``model.tflite`` -> the same ai-edge-quantizer modes as the litert-torch route.

The second TFLite converter: chosen with ``--converter onnx2tf``, and taken automatically when
litert-torch cannot convert a model. The bundle contract is identical (signatures ``seq_N``
with ``input_ids`` / ``attention_mask`` inputs), so the device cannot tell the routes apart.
onnx2tf graphs lose the PyTorch module names, so the INT8 ladder here selects ops by type and
by shape instead of by name.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from edgeembed.converters import tflite_quantize
from edgeembed.converters.export_graph import build_export_module, is_bert_family
from edgeembed.converters.onnx import export_module_onnx
from edgeembed.converters.quiet import quiet
from edgeembed.converters.route import RouteInputs, RouteResult, versions
from edgeembed.converters.sources import SourceModel
from edgeembed.converters.tflite_finish import quantize_tflite_route, read_signatures
from edgeembed.errors import ConversionError
from edgeembed.native_log import drop_native_noise

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT = "token_embeddings"


def export_static_onnx(source: SourceModel, bucket: int, path: Path) -> Path:
    """ONNX with fixed ``[1, bucket]`` int64 inputs: onnx2tf converts static graphs best."""
    return export_module_onnx(build_export_module(source.model, bucket), path, static_length=bucket)


def onnx_to_keras(onnx_path: Path, workdir: Path):
    """onnx2tf's Keras model; ``Erf`` (exact GELU) becomes builtin ops instead of a Flex op."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with drop_native_noise():  # TensorFlow's load-time absl lines ignore TF_CPP_MIN_LOG_LEVEL
        import onnx2tf

    scratch = workdir / f"onnx2tf-{onnx_path.stem}"
    with quiet() as log, drop_native_noise():
        try:
            return onnx2tf.convert(
                input_onnx_file_path=str(onnx_path),
                output_folder_path=str(scratch),
                replace_to_pseudo_operators=["erf"],
                disable_model_save=True,
                non_verbose=True,
            )
        except (Exception, SystemExit) as error:  # onnx2tf calls sys.exit on some failures
            tail = "\n".join(log.getvalue().splitlines()[-15:])
            raise ConversionError(f"onnx2tf could not convert {onnx_path.name} ({error!r}).\n{tail}") from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def keras_to_tflite(models: dict[int, Any], workdir: Path, path: Path) -> None:
    """One ``.tflite`` with a ``seq_N`` signature per bucket, builtin ops only."""
    with drop_native_noise():
        import tensorflow as tf

    def endpoint(model: Any, bucket: int):
        # int32 inputs, as the litert-torch route's: the device feeds both routes alike.
        spec = [tf.TensorSpec([1, bucket], tf.int32, name=name) for name in INPUT_NAMES]

        def run(input_ids, attention_mask):
            return {OUTPUT: model([tf.cast(input_ids, tf.int64), tf.cast(attention_mask, tf.int64)])}

        return tf.function(run, input_signature=spec)

    holder = tf.Module()
    holder.models = list(models.values())
    signatures = {}
    for bucket, model in models.items():
        function = endpoint(model, bucket)
        setattr(holder, f"seq_{bucket}", function)
        signatures[f"seq_{bucket}"] = function.get_concrete_function()
    saved = workdir / "onnx2tf-saved-model"
    with quiet():
        tf.saved_model.save(holder, str(saved), signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=list(signatures))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            path.write_bytes(converter.convert())
        except Exception as error:
            raise ConversionError(f"TFLite conversion of the onnx2tf graph failed ({error})") from None
        finally:
            shutil.rmtree(saved, ignore_errors=True)


def ffn_down_outputs(float_model: Path) -> tuple[str, ...]:
    """Output tensor names, in every signature's subgraph, of the widest-input FULLY_CONNECTED
    ops: the FFN down projections."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flatbuffer

    model = flatbuffer.read_model(float_model)
    names: list[str] = []
    for subgraph in model.subgraphs:
        fcs = [
            op
            for op in subgraph.operators
            if flatbuffer.TFL_OP_CODE_TO_NAME.get(model.operatorCodes[op.opcodeIndex].builtinCode) == "FULLY_CONNECTED"
        ]
        widths = [int(subgraph.tensors[op.inputs[1]].shape[-1]) for op in fcs]
        if not widths or min(widths) == max(widths):
            continue  # every FC equally wide: no FFN structure to single out
        widest = max(widths)
        names += [
            flatbuffer.get_tensor_name(subgraph.tensors[op.outputs[0]])
            for op, width in zip(fcs, widths, strict=False)
            if width == widest
        ]
    return tuple(names)


def convert_tflite_onnx2tf(route: RouteInputs) -> RouteResult:
    models = {}
    for bucket in route.spec.seq_buckets:
        route.step(f"onnx2tf: bucket {bucket}")
        onnx_path = export_static_onnx(route.source, bucket, route.workdir / f"seq{bucket}.onnx")
        models[bucket] = onnx_to_keras(onnx_path, route.workdir)
        onnx_path.unlink()
    route.step("TFLite conversion (TensorFlow)")
    float_path = route.workdir / "float32.tflite"
    keras_to_tflite(models, route.workdir, float_path)
    plan = [(f"seq_{b}", b, 1) for b in route.spec.seq_buckets]
    signatures = read_signatures(float_path, plan)
    converter = {
        "route": "onnx2tf",
        "graph": "edgeembed-bert-family" if is_bert_family(route.source.model) else "generic-module",
        "versions": versions("onnx2tf", "tensorflow", "onnx", "ai-edge-quantizer", "torch"),
    }
    ladder = tflite_quantize.INT8_LADDER
    if route.spec.quantization == "int8-full":
        ladder = tflite_quantize.structural_ladder(ffn_down_outputs(float_path))
    return quantize_tflite_route(
        float_path,
        route.spec,
        route.calibration,
        signatures,
        route.workdir,
        route.measure,
        route.step,
        converter,
        ladder,
    )
