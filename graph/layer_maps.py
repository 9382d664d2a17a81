"""How importers map a model back to a catalog layer, declared next to the layer.

The fx and ONNX importers in ``runtime`` read these and resolve the names (readers, torch
functions, ONNX operators) themselves, so the catalog stays free of torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FxMap:
    """How the torch.fx importer maps a traced model back to this layer.

    A leaf module of the declared torch (or ops) class is read by ``module``, the name of a
    reader in ``runtime/import_fx.py``: "attributes" takes each torch parameter from the
    module's attribute of the same name and requires the ``fixed`` ones to match. Calls
    named in ``functions`` ("torch.relu", "F.relu", "Tensor.relu" for the method,
    "operator.add") are read by ``call``: "arguments" takes the torch parameters from the
    arguments after the input, in declared order.
    """

    module: str = "attributes"
    functions: tuple[str, ...] = ()
    call: str = "arguments"
    # Other torch.nn classes this layer reads (nn.TransformerEncoder for a layer whose
    # implementation is an ops class that builds one), or another library's class by its
    # qualified name ("torchvision.ops.stochastic_depth.StochasticDepth": that class only).
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OnnxMap:
    """How the ONNX importer maps operators back to this layer.

    ``ops`` are the ONNX operators read by ``reader`` (a ``read_`` method of
    ``runtime.onnx_layers.LayerReaders``; "attributes" takes parameters from the ONNX
    attributes named in ``attributes``, default the parameter's name). Several layers may
    declare one operator (Add: a merge, or a positional encoding's table): the importer
    tries their readers in catalog order and the first whose pattern matches reads it. With
    no ``ops`` the exporter writes the layer as other operators (SiLU as Sigmoid and Mul),
    which import as those layers. ``importable`` is False for a
    layer whose operators, as torch's ONNX exporter writes them, do not come back; ``why``
    says so.
    """

    ops: tuple[str, ...] = ()
    reader: str = "attributes"
    attributes: tuple[tuple[str, str], ...] = ()  # (param name, ONNX attribute name)
    importable: bool = True
    why: str = ""
    # With ``scope``, the operators torch's exporter marks as one module of the layer's
    # torch class import as the layer (runtime/onnx_scopes.py); ``sizes`` reads params from
    # a weight's shape or the attention scores' ("scores"): (param, source, dimension).
    scope: bool = False
    sizes: tuple[tuple[str, str, int], ...] = ()
    # In a file without module metadata (torch's legacy exporter), the operator whose name
    # scope ("/encoder/.../self_attention/Softmax") is a module of this layer
    # (runtime/onnx_named_scopes.py).
    marker: str = ""
