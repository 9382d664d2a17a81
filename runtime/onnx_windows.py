"""The ONNX import's reader of adaptive average pooling written as gathered windows.

torch's dynamo exporter writes ``adaptive_avg_pool2d`` to a size that does not divide the
input evenly (VGG's ``AdaptiveAvgPool2d((7, 7))`` of a 1 x 1 map) as index arithmetic:
Transpose the image to height and width first, GatherND each output position's window by
constant indices, Transpose back and ReduceMean over the window axes. When the indices are
exactly the windows ``nn.AdaptiveAvgPool2d`` averages (each row from floor(i * H / oh) to
ceil((i + 1) * H / oh), all of one size), the four operators are that layer. Mixed into
``LayerReaders``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.catalog import LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import Mismatch, Unsupported, Windows

SPATIAL_FIRST = [2, 3, 0, 1]  # N x C x H x W -> H x W x N x C
WINDOWS_BACK = [4, 5, 0, 1, 2, 3]  # oh x kh x ow x kw x N x C -> N x C x oh x kh x ow x kw


def window_starts(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``out`` adaptive pooling windows over ``size`` starts and ends."""
    index = np.arange(out)
    return (index * size) // out, -((-(index + 1) * size) // out)


class WindowReaders:
    """Transpose, GatherND and ReduceMean of gathered windows; uses the walker's state."""

    b: GraphBuilder
    values: dict[str, Any]
    shapes: TensorShapes
    const: Any  # LayerReaders.const, .label, .reduce_axes
    label: Any
    reduce_axes: Any

    def transpose_windows(self, node: Any, value: Any, perm: list[int]) -> Windows | None:
        """An image to height and width first, or gathered windows back to batch first;
        None for any other Transpose."""
        if isinstance(value, Ref) and perm == SPATIAL_FIRST:
            dims = self.shapes.get(node.input[0]) or []
            if len(dims) == 4 and all(isinstance(d, int) and d > 0 for d in dims[2:]):
                return Windows(value, "spatial_first", size=(int(dims[2]), int(dims[3])))
        if isinstance(value, Windows) and value.kind == "windows" and perm == WINDOWS_BACK:
            return Windows(value.ref, "windows_bf", size=value.size,
                           output_size=value.output_size)
        return None

    def gather_windows(self, node: Any, attrs: dict[str, Any]) -> Windows:
        """A GatherND of windows from an image transposed to height and width first."""
        image = self.values.get(node.input[0])
        if not isinstance(image, Windows) or image.kind != "spatial_first" \
                or int(attrs.get("batch_dims", 0)) != 0:
            raise Mismatch("gathers by computed indices")
        indices = np.asarray(self.const(node.input[1], "the indices"))
        if indices.ndim != 5 or indices.shape[-1] != 2:
            raise Unsupported(f"indices of shape {list(indices.shape)} (adaptive pooling "
                              "gathers oh x kh x ow x kw positions)")
        out_h, kernel_h, out_w, kernel_w, _ = indices.shape
        rows, cols = (self._window(size, out, kernel)
                      for size, out, kernel in zip(image.size, (out_h, out_w),
                                                   (kernel_h, kernel_w), strict=True))
        if rows is None or cols is None \
                or not np.array_equal(indices[..., 0], np.broadcast_to(
                    rows[:, :, None, None], indices.shape[:4])) \
                or not np.array_equal(indices[..., 1], np.broadcast_to(
                    cols[None, None], indices.shape[:4])):
            raise Unsupported("gathers positions that are not the windows of an adaptive "
                              "average pooling")
        return Windows(image.ref, "windows", size=image.size, output_size=(out_h, out_w))

    @staticmethod
    def _window(size: int, out: int, kernel: int) -> np.ndarray | None:
        """The positions (out x kernel) adaptive pooling averages, None where its windows
        differ in size."""
        starts, ends = window_starts(size, out)
        if np.any(ends - starts != kernel):
            return None
        return starts[:, None] + np.arange(kernel)[None, :]

    def pool_windows(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """The mean over the gathered windows' axes: the adaptive average pooling."""
        windows = self.values.get(node.input[0])
        assert isinstance(windows, Windows)
        axes = self.reduce_axes(node, attrs)
        if windows.kind != "windows_bf" or axes is None \
                or sorted(a % 6 for a in axes) != [3, 5] or attrs.get("keepdims", 1):
            raise Unsupported("averages gathered windows other than over each window")
        return self.b.add(specs[0].id, {"output_size": windows.output_size},
                          self.label(node), [windows.ref])
