"""The ONNX import's readers of the tensor operations of each sample (issue 13): Transpose
(two dimensions swapped, or a Permute), Slice, Select (a Gather of one index) and Resize
(Upsample). Mixed into ``LayerReaders``; a Transpose that is not of each sample is a layout
exporters put around recurrent layers, which the walker's ``op_Transpose`` reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.catalog import LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import Const, Unsupported


class TensorOpReaders:
    """Readers catalog declarations name; mixed into ``LayerReaders``, whose helpers
    (``ref``, ``const``, ``label``, ``rank``) and walker state they use."""

    b: GraphBuilder
    values: dict[str, Any]
    shapes: TensorShapes
    ref: Any  # LayerReaders.ref, .const, .label, .rank
    const: Any
    label: Any
    rank: Any
    op_Transpose: Any  # the walker's layouts around recurrent layers

    def select(self, node: Any, data: Ref, axis: int, specs: list[LayerSpec]) -> Ref:
        """One position of a graph tensor along ``axis`` (``x[:, 2]``, ``x.select(1, 2)``)."""
        index = self.values.get(node.input[1])
        rank = self.rank(node.input[0])
        if not isinstance(index, Const) or index.value is None or np.ndim(index.value) != 0:
            raise Unsupported("only one constant position (a Select)")
        if rank and axis % rank == 0:
            raise Unsupported("selects along the batch dimension")
        spec = with_param(specs, "index")
        return self.b.add(spec.id, {"dim": axis, "index": int(index.value)}, self.label(node),
                          [data])

    def read_transpose(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Any:
        """A Transpose (two dimensions swapped) or Permute of each sample; other orders are
        the layouts exporters put around recurrent layers (the walker's op_Transpose)."""
        value = self.values.get(node.input[0])
        perm = [int(p) for p in attrs.get("perm", [])]
        if not isinstance(value, Ref) or not perm or perm[0] != 0:
            return self.op_Transpose(node, attrs)
        moved = [i for i, p in enumerate(perm) if p != i]
        if not moved:
            return value
        if len(moved) == 2:
            return self.b.add(with_param(specs, "dim0").id,
                              {"dim0": moved[0], "dim1": moved[1]}, self.label(node), [value])
        return self.b.add(with_param(specs, "dims").id, {"dims": tuple(perm[1:])},
                          self.label(node), [value])

    def read_slice(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """One Slice per sliced axis (inputs since opset 10, attributes before)."""
        def listed(index: int, key: str) -> list[int] | None:
            if len(node.input) > index and node.input[index]:
                return [int(v) for v in np.atleast_1d(self.const(node.input[index], key))]
            return [int(v) for v in attrs[key]] if key in attrs else None

        starts, ends = listed(1, "starts"), listed(2, "ends")
        if starts is None or ends is None:
            raise Unsupported("starts and ends must be constants")
        axes = listed(3, "axes") or list(range(len(starts)))
        steps = listed(4, "steps") or [1] * len(starts)
        rank = self.rank(node.input[0])
        spec = with_param(specs, "step")
        end = spec.param("end")
        ref = self.ref(node.input[0])
        for axis, start, stop, step in zip(axes, starts, ends, steps, strict=True):
            if step < 1:
                raise Unsupported("a negative step")
            if rank and axis % rank == 0:
                if start == 0 and stop >= end.maximum and step == 1:
                    continue  # the whole batch
                raise Unsupported("slices the batch dimension")
            stop = min(max(stop, int(end.minimum or 0)), int(end.maximum or 0))
            ref = self.b.add(spec.id, {"dim": axis, "start": start, "end": stop, "step": step},
                             self.label(node), [ref])
        return ref

    def read_split(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                   ) -> list[Ref]:
        """A Split of each sample into pieces (torch.split and torch.chunk): one output port
        per piece; sizes from the input (opset 13), the attribute, or equal pieces."""
        rank = self.rank(node.input[0])
        axis = int(attrs.get("axis", 0))
        if not rank or axis % rank == 0:
            raise Unsupported("splits the batch dimension" if rank else "an input of unknown rank")
        axis %= rank
        if len(node.input) > 1 and node.input[1]:
            sizes = [int(v) for v in np.atleast_1d(self.const(node.input[1], "split"))]
        elif "split" in attrs:
            sizes = [int(v) for v in attrs["split"]]
        else:
            size = self.shapes.get(node.input[0], [])[axis]
            if not isinstance(size, int) or size <= 0:
                raise Unsupported("equal pieces of a dimension whose size is unknown")
            count = len(node.output)
            step = -(-size // count)
            sizes = [min(step, size - i * step) for i in range(count)]
        spec = specs[0]
        if not 2 <= len(sizes) <= len(spec.outputs):
            raise Unsupported(f"{len(sizes)} pieces (a Split has 2 to {len(spec.outputs)})")
        ref = self.b.add(spec.id, {"sizes": tuple(sizes), "dim": axis}, self.label(node),
                         [self.ref(node.input[0])])
        return [Ref(ref.node, port.name) for port in spec.outputs[:len(sizes)]]

    def read_resize(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """torch's nearest (asymmetric, floor) or bilinear resize of an image, by one scale
        for height and width or to the output size."""
        if self.rank(node.input[0]) not in (0, 4):
            raise Unsupported("only images (N x C x H x W)")
        mode, where = attrs.get("mode", "nearest"), attrs.get("coordinate_transformation_mode",
                                                              "half_pixel")
        if mode == "nearest" and where == "asymmetric" \
                and attrs.get("nearest_mode", "round_prefer_floor") == "floor":
            params: dict[str, Any] = {"mode": "nearest"}
        elif mode == "linear" and where in ("align_corners", "half_pixel", "pytorch_half_pixel"):
            params = {"mode": "bilinear", "align_corners": where == "align_corners"}
        else:
            raise Unsupported(f"mode={mode}, coordinate_transformation_mode={where}")
        scales = self.values.get(node.input[2]) if len(node.input) > 2 and node.input[2] \
            else None
        if isinstance(scales, Const) and scales.value is not None and scales.value.size == 4:
            factors = [float(v) for v in scales.value]
            if factors[:2] != [1.0, 1.0] or factors[2] != factors[3]:
                raise Unsupported(f"scales {factors} (one scale for height and width)")
            params["scale_factor"] = factors[2]
        else:
            out = self.shapes.get(node.output[0]) or []
            if len(out) != 4 or not all(isinstance(d, int) for d in out[2:]):
                raise Unsupported("sizes that are not known")
            params["size"] = (int(out[2]), int(out[3]))
        return self.b.add(specs[0].id, params, self.label(node), [self.ref(node.input[0])])


def with_param(specs: list[LayerSpec], name: str) -> LayerSpec:
    """The one of ``specs`` (layers that share an operator) with a parameter ``name``."""
    for spec in specs:
        if any(p.name == name for p in spec.params):
            return spec
    raise Unsupported("no layer of this kind")
