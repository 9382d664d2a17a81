"""A torch module's operators in an ONNX file without module metadata, found by name scope.

torch's legacy exporter (``dynamo=False``) records no module classes; it names each node by
its module path ("/encoder/layers/encoder_layer_0/self_attention/MatMul") and renames the
weights it transposes ("onnx::MatMul_430"). A catalog layer imported by scope declares the
operator that marks its module there (``OnnxMap.marker``: attention's Softmax); the nodes of
the name scope around that operator are then the module's run, as the dynamo exporter's
metadata would give it (``runtime/onnx_scopes.py``). Its weights are the initializers named
under the scope, and the renamed ones by their shape, in the module's parameter order; sizes
ONNX's shape inference does not know are found by evaluating the run on an example input.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import graph.layers
from graph.catalog import LayerSpec
from runtime.onnx_values import Const, Unsupported


@functools.cache
def _marked() -> dict[str, LayerSpec]:
    """Marker operator -> the layer imported by scope that declares it."""
    return {spec.onnx.marker: spec for spec in graph.layers.LAYERS
            if spec.onnx.scope and spec.onnx.marker}


def _has_metadata(node: Any) -> bool:
    return any(p.key == "pkg.torch.onnx.class_hierarchy" for p in node.metadata_props)


def marked_scopes(nodes: Any) -> dict[str, LayerSpec]:
    """Name-scope prefix ("/encoder/layers/encoder_layer_0/self_attention/") -> the layer whose
    marker operator sits directly in it, for nodes without module metadata."""
    found: dict[str, LayerSpec] = {}
    for node in nodes:
        spec = _marked().get(node.op_type)
        name = node.name
        if spec is None or _has_metadata(node) or not name.startswith("/") \
                or name.count("/") < 2:
            continue
        found[name[:name.rindex("/") + 1]] = spec
    return found


def named_module(node: Any, scopes: dict[str, LayerSpec]) -> tuple[str, LayerSpec] | None:
    """(module path, layer) of the marked name scope ``node`` sits in, else None."""
    for prefix, spec in scopes.items():
        if node.name.startswith(prefix):
            return prefix.strip("/").replace("/", "."), spec
    return None


def assign_by_shape(found: dict[str, np.ndarray], unnamed: list[np.ndarray],
                    keys: dict[str, str], state: dict[str, Any]) -> None:
    """Each renamed weight to the first parameter not yet found with its shape, in the
    module's parameter order (the exporter reads them in that order); arrays no parameter
    fits (an attention's scale) are not weights."""
    for array in unnamed:
        flat = next((name for name, key in keys.items() if name not in found
                     and tuple(state[key].shape) == tuple(array.shape)), None)
        if flat is not None:
            found[flat] = array


def evaluated_dims(run: list[Any], entering: str, dims: list[int], wanted: str,
                   values: dict[str, Any], opset: int) -> list[int]:
    """The shape of ``wanted`` when ``run`` computes it from an example input of ``dims``
    (ONNX's reference evaluator): the operators' constants must all be known."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    inside = {out for node in run for out in node.output}
    constants = []
    for name in dict.fromkeys(n for node in run for n in node.input):
        if not name or name in inside or name == entering:
            continue
        value = values.get(name)
        if not isinstance(value, Const) or value.value is None:
            raise Unsupported(f"the size of '{wanted}' depends on '{name}', which is not a "
                              "known constant")
        constants.append(numpy_helper.from_array(np.asarray(value.value), name))
    model = helper.make_model(
        helper.make_graph(list(run), "scope",
                          [helper.make_tensor_value_info(entering, TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info(wanted, TensorProto.FLOAT, None)],
                          constants),
        opset_imports=[helper.make_opsetid("", opset)])
    try:
        out = ReferenceEvaluator(model).run(None, {entering: np.zeros(dims, np.float32)})
    except Exception as exc:  # noqa: BLE001 - the evaluator's reason is the cause
        raise Unsupported(f"the size of '{wanted}' could not be computed ({exc})") from None
    return [int(d) for d in np.shape(out[0])]
