"""Repeated quantization tables and strings are written once; the model computes the same."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.convert


def _schema():
    return pytest.importorskip("ai_edge_litert.schema_py_generated")


def quantization_positions(model: bytes) -> tuple[int, set[int]]:
    """(quantized tensors over all subgraphs, distinct positions of their quantization tables)."""
    schema = _schema()
    root = schema.Model.GetRootAsModel(model, 0)
    count, positions = 0, set()
    for g in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(g)
        for t in range(subgraph.TensorsLength()):
            quantization = subgraph.Tensors(t).Quantization()
            if quantization is not None and quantization.ScaleLength():
                count += 1
                positions.add(quantization._tab.Pos)
    return count, positions


def outputs(model: bytes) -> dict[str, dict[str, np.ndarray]]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    rng = np.random.default_rng(0)
    results = {}
    for name in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(name)
        feeds = {}
        for key, detail in runner.get_input_details().items():
            shape = tuple(detail["shape"])
            feeds[key] = (rng.integers(1, 50, size=shape) if "ids" in key else np.ones(shape)).astype(detail["dtype"])
        results[name] = runner(**feeds)
    return results


def unshared(model: bytes) -> bytes:
    """The same model with every table written per subgraph again (as the quantizer writes it)."""
    import flatbuffers

    schema = _schema()
    root = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    assert not any(buffer.offset > 1 for buffer in root.buffers), "this helper handles inline weights only"
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(root.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_converted_models_share_quantization_tables_across_signatures(tiny_bundles):
    model = (tiny_bundles["int8-full"] / "model.tflite").read_bytes()
    count, positions = quantization_positions(model)
    signatures = len(outputs(model))
    assert signatures > 1 and len(positions) < count


def test_sharing_is_lossless_smaller_and_idempotent(tiny_bundles):
    from edgeembed.converters.tflite_table_dedup import share_repeated_tables

    shipped = (tiny_bundles["int8-full"] / "model.tflite").read_bytes()
    plain = unshared(shipped)
    count, plain_positions = quantization_positions(plain)
    assert len(plain_positions) == count  # the quantizer's layout: one table per tensor
    shared = share_repeated_tables(plain)
    assert len(shared) < len(plain) and len(quantization_positions(shared)[1]) < count
    expected, got = outputs(plain), outputs(shared)
    for name, values in expected.items():
        for key, value in values.items():
            np.testing.assert_array_equal(got[name][key], value)
    assert len(share_repeated_tables(shared)) == len(shared)


def test_weights_stored_after_the_flatbuffer_move_with_it():
    """Large models keep weights after the FlatBuffer (Buffer.offset/size): they must still be found."""
    import flatbuffers

    from edgeembed.converters.tflite_table_dedup import share_repeated_tables

    schema = _schema()
    pytest.importorskip("ai_edge_litert.interpreter")
    weights = np.arange(16, dtype=np.float32).reshape(4, 4)
    model = _fully_connected_model(schema, flatbuffers, weights, external=True)
    rewritten = share_repeated_tables(model)
    x = np.ones((1, 4), dtype=np.float32)
    from ai_edge_litert.interpreter import Interpreter

    for content in (model, rewritten):
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        np.testing.assert_array_equal(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), x @ weights.T)


def _fully_connected_model(schema, flatbuffers, weights: np.ndarray, external: bool) -> bytes:
    """y = x @ weights.T as a one-op model; ``external`` stores the weights after the FlatBuffer."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1

    def tensor(name: str, shape: list[int], buffer: int):
        item = schema.TensorT()
        item.name, item.shape, item.type, item.buffer = name, shape, schema.TensorType.FLOAT32, buffer
        return item

    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0, 1, -1], [2]
    operator.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    operator.builtinOptions = schema.FullyConnectedOptionsT()
    subgraph = schema.SubGraphT()
    subgraph.tensors = [tensor("x", [1, 4], 0), tensor("w", list(weights.shape), 1), tensor("y", [1, 4], 0)]
    subgraph.inputs, subgraph.outputs, subgraph.operators = [0], [2], [operator]
    raw = weights.astype(np.float32).tobytes()
    data = schema.BufferT()
    if external:
        data.offset, data.size = 1 << 40, len(raw)  # a placeholder of the final width
    else:
        data.data = np.frombuffer(raw, dtype=np.uint8)
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [subgraph]
    model.buffers = [schema.BufferT(), data]

    def pack() -> bytes:
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    if not external:
        return pack()
    start = -(-len(pack()) // 64) * 64 + 32  # the alignment share_repeated_tables must keep
    data.offset = start
    packed = pack()
    return packed + bytes(start - len(packed)) + raw
