"""ONNX operators that torch's exporter marks as one torch module, imported as that layer.

torch's dynamo exporter records, on every ONNX node, the module path and class it came from
(``pkg.torch.onnx.name_scopes``, ``pkg.torch.onnx.class_hierarchy``) and the fx call it
computes (``pkg.torch.onnx.fx_node``, which names the parameters it reads, "%p_attention_
linear1_weight"). A catalog layer whose declaration sets ``OnnxMap.scope`` (a
TransformerEncoderLayer or MultiheadAttention, exported as attention arithmetic) imports from
the run of operators of one such module: one input (batch first, or steps first for
batch_first=False), an output per port told apart by shape, its weights taken from the
constants each operator reads, by the parameter names its fx call gives (the legacy exporter's
files: ``runtime/onnx_named_scopes.py``). The import's final comparison with onnxruntime
checks the result.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

import numpy as np
import torch

import graph.layers
from graph.catalog import LayerSpec
from runtime.import_builder import Ref
from runtime.onnx_named_scopes import assign_by_shape, evaluated_dims
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import GRAPH_VALUES, Const, Laid, Unsupported
from runtime.ops import build_module

_PARAMETER = re.compile(r"%p_(\w+)")


@functools.cache
def scoped_classes() -> dict[str, LayerSpec]:
    """torch class name -> the catalog layer that imports from its exported operators."""
    return {spec.torch_class: spec for spec in graph.layers.LAYERS
            if spec.onnx.scope and spec.torch_class}


def module_of(node: Any) -> tuple[str, LayerSpec] | None:
    """(module path, catalog layer) of the outermost module the exporter says ``node``
    belongs to whose class the catalog imports by scope; None for any other node."""
    meta = {p.key: p.value for p in node.metadata_props}
    try:
        classes = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
        scopes = ast.literal_eval(meta.get("pkg.torch.onnx.name_scopes", "[]"))
    except (ValueError, SyntaxError):
        return None
    for depth, cls in enumerate(classes):
        module, _, name = str(cls).rpartition(".")
        spec = scoped_classes().get(name)
        if spec is not None and module.startswith("torch.nn") and depth < len(scopes):
            return str(scopes[depth]), spec
    return None


def parameters_read(node: Any) -> list[str]:
    """The parameters (flattened names, "attention_linear1_weight") the node's fx call
    reads, in argument order."""
    meta = {p.key: p.value for p in node.metadata_props}
    return _PARAMETER.findall(meta.get("pkg.torch.onnx.fx_node", ""))


def as_parameter(node: Any, position: int, array: np.ndarray, attrs: dict[str, Any]
                 ) -> np.ndarray:
    """A constant input as the torch parameter it holds: MatMul multiplies by a Linear's
    weight transposed, Gemm without transB too."""
    if node.op_type == "MatMul" and position == 1:
        return array.T
    if node.op_type == "Gemm" and position == 1 and not attrs.get("transB", 0):
        return array.T
    return array


def state_keys(module: Any, scope: str, torch_class: str | None) -> dict[str, str]:
    """Flattened exported parameter name -> the module's state dict key. Where the layer's
    module wraps its torch class (MultiheadAttention's ops class holds an
    nn.MultiheadAttention), the exported names are those of the wrapped module."""
    prefix = scope.replace(".", "_")
    inner = next((path for path, sub in module.named_modules()
                  if path and type(sub).__name__ == torch_class), "")
    keys = {}
    for key in module.state_dict():
        relative = key[len(inner) + 1:] if inner and key.startswith(inner + ".") else key
        keys[f"{prefix}_{relative.replace('.', '_')}"] = key
    return keys


class ScopeReaders:
    """Reads a run of operators of one module as its catalog layer; mixed into the walker,
    whose state and helpers (``fold``, ``attrs``, ``tensor``) it uses."""

    b: Any
    values: dict[str, Any]
    shapes: TensorShapes
    consumers: Any
    fold: Any
    attrs: Any
    tensor: Any
    opset: int

    def read_scope(self, run: list[Any], scope: str, spec: LayerSpec) -> None:
        """Import ``run`` (the operators of module ``scope``) as one ``spec`` layer."""
        inside = {out for node in run for out in node.output}
        uses = {}  # output name -> uses inside the run
        sources: list[str] = []
        for node in run:
            computed = [n for n in node.input if n in inside or (
                n and isinstance(self.values.get(n), GRAPH_VALUES))]
            for name in node.input:
                if name in inside:
                    uses[name] = uses.get(name, 0) + 1
                elif name and isinstance(self.values.get(name), GRAPH_VALUES):
                    sources.append(name)
            if not computed:
                self.fold(node, self.attrs(node))
        entering = list(dict.fromkeys(sources))
        leaving = [n for n in dict.fromkeys(out for node in run for out in node.output)
                   if self.consumers[n] > uses.get(n, 0)]
        where = f"the operators of {spec.torch_class} '{scope}'"
        if len(entering) != 1 or not 1 <= len(leaving) <= len(spec.outputs):
            raise Unsupported(f"{where} take {len(entering)} tensors and give {len(leaving)}; "
                              f"only one tensor in and at most {len(spec.outputs)} out import")
        source = self.values[entering[0]]
        shape = list(self.shapes.get(entering[0]) or [])
        # a module of batch_first=False reads its sequence steps first (L x N x D): the layer
        # (batch first) reads the sequence before that transpose, and gives its output so
        steps_first = isinstance(source, Laid) and source.kind == "time_major"
        if steps_first:
            source = source.ref
            shape = shape[1::-1] + shape[2:]
        if not isinstance(source, Ref):
            raise Unsupported(f"{where} read '{entering[0]}', which is not a sequence")
        params = self._scope_params(run, shape, spec, entering[0], steps_first)
        found: dict[str, np.ndarray] = {}
        unnamed: list[np.ndarray] = []  # weights the legacy exporter renamed
        named = any(parameters_read(node) for node in run)
        flat = scope.replace(".", "_")
        for node in run:
            attrs = self.attrs(node)
            names = [n for n in parameters_read(node) if n not in found]
            for position, name in enumerate(node.input):
                value = self.values.get(name) if name else None
                if not isinstance(value, Const) or value.value is None \
                        or value.value.dtype.kind != "f":
                    continue
                array = as_parameter(node, position, value.value, attrs)
                if names:
                    found[names.pop(0)] = array
                elif not named and name.startswith(scope + "."):
                    found[f"{flat}_{name[len(scope) + 1:].replace('.', '_')}"] = array
                elif not named:
                    unnamed.append(array)
        weights = self._scope_weights(spec, params, shape, scope, found, where, unnamed)
        ref = self.b.add(spec.id, params, scope, [source], weights)
        results = self._outputs_by_shape(ref, spec, leaving, where, steps_first)
        for node in run:
            for out in node.output:
                result = results.get(out, Const(None))
                self.values[out] = Laid(result, "time_major") if steps_first \
                    and isinstance(result, Ref) and result.port == spec.outputs[0].name \
                    else result

    def _outputs_by_shape(self, ref: Ref, spec: LayerSpec, leaving: list[str], where: str,
                          steps_first: bool) -> dict[str, Ref]:
        """Which output port of the layer each tensor leaving the run is: the first for one,
        else the one port whose shape it has (attention's output N x L x D, steps first
        L x N x D for batch_first=False; its weights N x L x S)."""
        if len(leaving) == 1:
            return {leaving[0]: ref}
        built = [list(self.shapes.layer_shape(Ref(ref.node, port.name)) or [])[1:]
                 for port in spec.outputs]
        results = {}
        for name in leaving:
            dims = list(self.shapes.get(name) or [])
            ports = [port.name for index, port in enumerate(spec.outputs) if built[index]
                     and built[index] == (dims[:1] + dims[2:] if steps_first and index == 0
                                          else dims[1:])]
            if len(ports) != 1:
                raise Unsupported(f"{where} give '{name}' of shape {dims}, which is not one "
                                  f"of {spec.id}'s outputs")
            results[name] = Ref(ref.node, ports[0])
        return results

    def _scope_params(self, run: list[Any], shape: list[Any], spec: LayerSpec,
                      entering: str, steps_first: bool) -> dict[str, Any]:
        """The params ``OnnxMap.sizes`` reads from the attention scores (their shape,
        N x heads x L x L; evaluated from an example input where ONNX does not know it), and
        the activation from its operator."""
        params: dict[str, Any] = spec.defaults()
        if len(shape) != 3 or not all(isinstance(d, int) for d in shape[1:]):
            raise Unsupported(f"{spec.torch_class} reads no sequence N x L x D")
        softmax = next((n.input[0] for n in run if n.op_type == "Softmax"), None)
        scores = (self.shapes.get(softmax) or []) if softmax else []
        if softmax and (len(scores) == 3 or not all(isinstance(d, int) for d in scores[1:])):
            example = [shape[1], 2, *shape[2:]] if steps_first else [2, *shape[1:]]
            scores = evaluated_dims(run, entering, example, softmax, self.values, self.opset)
            if len(scores) == 3:  # the batch and the heads merged: N * heads x L x S
                scores = [2, scores[0] // 2, *scores[1:]]
        for param, source, dim in spec.onnx.sizes:
            if source == "scores":
                if len(scores) != 4 or not isinstance(scores[dim], int):
                    raise Unsupported(f"the attention scores of {spec.torch_class} are not "
                                      "N x heads x L x L")
                params[param] = int(scores[dim])
        if "activation" in params:
            ops = {n.op_type for n in run}
            params["activation"] = "gelu" if ops & {"Gelu", "Erf"} else "relu"
        return params

    def _scope_weights(self, spec: LayerSpec, params: dict[str, Any], shape: list[Any],
                       scope: str, found: dict[str, np.ndarray], where: str,
                       unnamed: list[np.ndarray]) -> dict[str, Any]:
        """The module's state from the parameters found; one the exporter left out (a zero
        bias it optimised away) is zeros."""
        flat = scope.replace(".", "_")
        for param, source, dim in spec.onnx.sizes:
            array = found.get(f"{flat}_{source.replace('.', '_')}")
            if source != "scores" and array is not None:
                params[param] = int(array.shape[dim])
        module = build_module(spec, params, [tuple(int(d) if isinstance(d, int) else 1
                                                   for d in shape)])
        assert module is not None
        keys = state_keys(module, scope, spec.torch_class)
        state = module.state_dict()
        assign_by_shape(found, unnamed, keys, state)
        unknown = sorted(set(found) - set(keys))
        if unknown:
            raise Unsupported(f"{where} read {', '.join(unknown)}, which "
                              f"{spec.torch_class} does not have")
        weights = {key: torch.zeros_like(tensor) for key, tensor in state.items()}
        for name, array in found.items():
            key = keys[name]
            if tuple(array.shape) != tuple(state[key].shape):
                raise Unsupported(f"{where}: {key} is {tuple(array.shape)}, expected "
                                  f"{tuple(state[key].shape)}")
            weights[key] = self.tensor(array)
        return weights
