"""The ONNX import's reader of 1-D adaptive average pooling written as 2-D pooling.

torch's dynamo exporter writes ``adaptive_avg_pool1d`` of a sequence (N x C x L) by lifting
it to an image: Unsqueeze to N x C x 1 x L, an AveragePool of kernel and stride 1 x L / out
(a ReduceMean over the last axis for one output), and Squeeze back. The Unsqueeze holds a
"lifted" value; the pooling of it is the AdaptiveAvgPool1d layer, still lifted until the
Squeeze (the walker's ``op_Squeeze``) gives it back. Mixed into ``LayerReaders``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.catalog import LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import Laid, Mismatch, Unsupported


class LiftedReaders:
    """Unsqueeze, AveragePool, ReduceMean and Squeeze of a lifted sequence."""

    b: GraphBuilder
    values: dict[str, Any]
    shapes: TensorShapes
    const: Any  # LayerReaders.const, .label, .reduce_axes
    label: Any
    reduce_axes: Any

    def _axes(self, node: Any, attrs: dict[str, Any]) -> list[int] | None:
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "the axes").tolist()
        return None if axes is None else [int(a) for a in np.atleast_1d(axes)]

    def read_lifted_pool(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                         ) -> Laid:
        value = self.values.get(node.input[0])
        if node.op_type == "Unsqueeze":
            axes = self._axes(node, attrs)
            if not isinstance(value, Ref) or len(self.shapes.get(node.input[0]) or []) != 3 \
                    or axes not in ([2], [-2]):
                raise Mismatch("an Unsqueeze other than of a sequence to an image")
            return Laid(value, "lifted")
        if not isinstance(value, Laid) or value.kind != "lifted":
            raise Mismatch(f"{node.op_type} of no lifted sequence")
        dims = self.shapes.get(node.input[0]) or []
        length = dims[-1] if len(dims) == 4 else None
        if not isinstance(length, int) or length <= 0:
            raise Unsupported("pools a sequence of unknown length")
        if node.op_type == "ReduceMean":
            axes = self.reduce_axes(node, attrs)
            # over the length, and maybe the lifted axis of size 1 too
            if axes is None or sorted(a % 4 for a in axes) not in ([3], [2, 3]) \
                    or not attrs.get("keepdims", 1):
                raise Unsupported(f"a mean over axes {axes} of a lifted sequence")
            out = 1
        else:
            kernel = [int(k) for k in attrs.get("kernel_shape", [])]
            strides = [int(s) for s in attrs.get("strides", [1, 1])]
            pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
            if kernel[:1] != [1] or strides != kernel or any(pads) or length % kernel[1]:
                raise Unsupported(f"kernel {kernel}, strides {strides}, pads {pads} (only the "
                                  "adaptive average pooling torch writes this way)")
            out = length // kernel[1]
        ref = self.b.add(specs[0].id, {"output_size": out}, self.label(node), [value.ref])
        return Laid(ref, "lifted")

    def squeeze_lifted(self, value: Any, axes: list[int] | None) -> Ref | None:
        """A lifted sequence squeezed back to N x C x L; None for any other Squeeze."""
        if isinstance(value, Laid) and value.kind == "lifted" and axes in ([2], [-2]):
            return value.ref
        return None
