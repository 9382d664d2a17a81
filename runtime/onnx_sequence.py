"""ONNX readers for layers that exporters write as several operators over a sequence.

``SequenceReduce`` with its padding mask exports as a test of the token ids (Equal 0, Not,
Cast, Unsqueeze), then for the mean a product with the sequence, two sums over the steps, a
Clip and a Div, for the max the padding set to -inf (Where), a ReduceMax and a Where that
gives zeros to all-padding sequences; without a mask as ReduceMean, ReduceMax or a Gather of
the last step; for "last" with a mask, each real step's position (Where), their ReduceMax,
and a GatherND of that step.
``PositionalEncoding`` exports as the addition of a constant table (one row per step). The
masking operators pass ``Mask`` and ``MaskedSum`` values along until the Div (or the last
Where) completes the pattern; any other use is refused with what the mask was computed from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.catalog import LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import Const, Mask, MaskedSum, Mismatch, ShapeValue

_MASK_ONLY = "only the padding mask of token ids (SequenceReduce's mask) imports"


class SequenceReaders:
    """Readers catalog declarations name; mixed into ``LayerReaders``, whose helpers
    (``ref``, ``const``, ``label``, ``rank``) and walker state they use."""

    b: GraphBuilder
    values: dict[str, Any]
    shapes: TensorShapes
    ref: Any  # LayerReaders.ref, .const, .label, .rank, .tensor
    const: Any
    label: Any
    rank: Any
    tensor: Any

    # -- SequenceReduce ---------------------------------------------------------------------
    def read_masked(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Any:
        """One operator of a SequenceReduce: the mask's, or the reduction itself."""
        step = getattr(self, f"_masked_{node.op_type.lower()}")
        return step(node, attrs, specs[0])

    def _values(self, node: Any) -> list[Any]:
        return [self.values.get(name) for name in node.input if name]

    def _masked_equal(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> Mask:
        a, b = self._values(node)[:2]
        tokens, other = (a, b) if isinstance(a, Ref) else (b, a)
        if isinstance(tokens, Ref) and isinstance(other, Const) and other.value is not None \
                and other.value.size == 1 and float(other.value.reshape(-1)[0]) == 0 \
                and self.rank(node.input[0 if tokens is a else 1]) == 2:
            return Mask(tokens, keep=False)
        raise Mismatch("compares values; only the test of token ids for padding (== 0) "
                       "imports, as SequenceReduce's mask")

    def _masked_not(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> Mask:
        mask = self._values(node)[0]
        if isinstance(mask, Mask):
            return Mask(mask.tokens, not mask.keep, mask.unsqueezed)
        raise Mismatch(f"negates a computed tensor; {_MASK_ONLY}")

    def _masked_cast(self, node: Any, attrs: dict[str, Any], spec: LayerSpec
                     ) -> Mask | MaskedSum:
        mask = self._values(node)[0]
        if isinstance(mask, Mask) or (isinstance(mask, MaskedSum) and mask.stage == "any"):
            return mask
        raise Mismatch(f"converts a computed tensor's type; {_MASK_ONLY}")

    def _masked_unsqueeze(self, node: Any, attrs: dict[str, Any], spec: LayerSpec
                          ) -> Mask | MaskedSum:
        mask = self._values(node)[0]
        axes = self._axes(node, attrs)
        if isinstance(mask, Mask) and not mask.unsqueezed and axes in ([2], [-1]):
            return Mask(mask.tokens, mask.keep, unsqueezed=True)
        if isinstance(mask, MaskedSum) and mask.stage == "last index" and axes in ([1], [-1]):
            return MaskedSum(None, mask.mask, "last index column")
        raise Mismatch(f"adds a dimension to a computed tensor; {_MASK_ONLY}")

    def _masked_mul(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> MaskedSum:
        a, b = self._values(node)[:2]
        sequence, mask = (a, b) if isinstance(b, Mask) else (b, a)
        if isinstance(sequence, Ref) and isinstance(mask, Mask) and mask.keep \
                and mask.unsqueezed:
            return MaskedSum(sequence, mask, "product")
        raise Mismatch("multiplies by a padding mask" if isinstance(mask, Mask) else
                       "not a product with a padding mask")

    def _masked_reducesum(self, node: Any, attrs: dict[str, Any], spec: LayerSpec
                          ) -> MaskedSum:
        value = self._values(node)[0]
        over_steps = self._axes(node, attrs) == [1] and not attrs.get("keepdims", 1)
        if over_steps and isinstance(value, MaskedSum) and value.stage == "product":
            return MaskedSum(value.sequence, value.mask, "sum")
        if over_steps and isinstance(value, Mask) and value.keep and value.unsqueezed:
            return MaskedSum(None, value, "count")
        raise Mismatch("sums a tensor; only the sums over the steps of a masked mean "
                       "(SequenceReduce) import")

    def _masked_clip(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> MaskedSum:
        value = self._values(node)[0]
        low = attrs.get("min")
        if len(node.input) > 1 and node.input[1]:
            low = float(self.const(node.input[1], "the minimum").reshape(-1)[0])
        if isinstance(value, MaskedSum) and value.stage == "count" and low == 1.0 \
                and not (len(node.input) > 2 and node.input[2]) and "max" not in attrs:
            return MaskedSum(None, value.mask, "count", clamped=True)
        raise Mismatch("clips a tensor; only the count of real steps of a masked mean "
                       "(at least 1) imports")

    def _masked_div(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> Ref:
        total, count = self._values(node)[:2]
        if isinstance(total, MaskedSum) and total.stage == "sum" and total.sequence is not None \
                and isinstance(count, MaskedSum) and count.stage == "count" and count.clamped \
                and count.mask.tokens == total.mask.tokens:
            return self.b.add(spec.id, {"mode": "mean"}, self.label(node),
                              [total.sequence, total.mask.tokens])
        raise Mismatch("divides tensors; only a masked mean over the steps (SequenceReduce) "
                       "imports")

    def _masked_reducemean(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> Ref:
        return self._over_steps(node, attrs, spec, "mean")

    def _masked_reducemax(self, node: Any, attrs: dict[str, Any], spec: LayerSpec
                          ) -> Ref | MaskedSum:
        """A max over the steps; of the mask itself (keeping the dimension), whether a
        sequence has any real step; of the sequence with its padding at -inf, a masked max."""
        value = self._values(node)[0]
        axes, keep = self._axes(node, attrs), attrs.get("keepdims", 1)
        if isinstance(value, Mask) and value.keep and not value.unsqueezed and axes == [1] \
                and keep:
            return MaskedSum(None, value, "any")
        if isinstance(value, MaskedSum) and value.stage in ("filled", "positions") \
                and axes == [1] and not keep:
            stage = "max" if value.stage == "filled" else "last index"
            return MaskedSum(value.sequence, value.mask, stage)
        return self._over_steps(node, attrs, spec, "max")

    def _masked_where(self, node: Any, attrs: dict[str, Any], spec: LayerSpec
                      ) -> Ref | MaskedSum:
        """The padding of a sequence set to -inf; then the masked max where a sequence has a
        real step, else zeros."""
        condition, a, b = self._values(node)[:3]
        if isinstance(condition, Mask) and not condition.keep and condition.unsqueezed \
                and isinstance(b, Ref) and _filled_with(a, -np.inf):
            return MaskedSum(b, condition, "filled")
        if isinstance(condition, Mask) and condition.keep and not condition.unsqueezed \
                and isinstance(a, Const) and a.value is not None \
                and np.array_equal(a.value, np.arange(a.value.size)) and _filled_with(b, 0.0):
            return MaskedSum(None, condition, "positions")  # each real step's position
        if isinstance(condition, MaskedSum) and condition.stage == "any" \
                and isinstance(a, MaskedSum) and a.stage in ("max", "picked") \
                and a.sequence is not None and a.mask.tokens == condition.mask.tokens \
                and _filled_with(b, 0.0):
            mode = "max" if a.stage == "max" else "last"
            return self.b.add(spec.id, {"mode": mode}, self.label(node),
                              [a.sequence, a.mask.tokens])
        raise Mismatch("selects between tensors; only a masked max or last step over the "
                       "steps (SequenceReduce) imports")

    def _masked_concat(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> MaskedSum:
        """Each row's index next to its last real step's: where the last step is."""
        rows, index = (self._values(node) + [None, None])[:2]
        if len(node.input) == 2 and isinstance(rows, ShapeValue) \
                and isinstance(index, MaskedSum) and index.stage == "last index column" \
                and int(attrs.get("axis", 0)) in (1, -1):
            return MaskedSum(None, index.mask, "where last")
        raise Mismatch("not the index of the last real step")

    def _masked_gathernd(self, node: Any, attrs: dict[str, Any], spec: LayerSpec
                         ) -> MaskedSum:
        sequence, where = self._values(node)[:2]
        if isinstance(sequence, Ref) and isinstance(where, MaskedSum) \
                and where.stage == "where last" and not attrs.get("batch_dims", 0):
            return MaskedSum(sequence, where.mask, "picked")
        raise Mismatch("gathers by computed indices; only the last real step of a masked "
                       "sequence (SequenceReduce) imports")

    def _over_steps(self, node: Any, attrs: dict[str, Any], spec: LayerSpec, mode: str) -> Ref:
        if self.rank(node.input[0]) != 3 or self._axes(node, attrs) not in ([1], [-2]) \
                or attrs.get("keepdims", 1):
            raise Mismatch(f"only a {mode} over the steps of a sequence N x L x F (dropping "
                           "that dimension) imports")
        return self.b.add(spec.id, {"mode": mode}, self.label(node), [self.ref(node.input[0])])

    def _masked_gather(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> Ref:
        shape = self.shapes.get(node.input[0]) or []
        index = self.values.get(node.input[1])
        if len(shape) != 3 or int(attrs.get("axis", 0)) != 1 or not isinstance(index, Const) \
                or index.value is None or index.value.size != 1 \
                or int(index.value.reshape(-1)[0]) not in (-1, shape[1]):
            raise Mismatch("only the last step of a sequence N x L x F imports")
        return self.b.add(spec.id, {"mode": "last"}, self.label(node), [self.ref(node.input[0])])

    def _axes(self, node: Any, attrs: dict[str, Any]) -> list[int] | None:
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "the axes").tolist()
        return None if axes is None else [int(a) for a in np.atleast_1d(axes)]

    # -- PositionalEncoding -----------------------------------------------------------------
    def read_position_table(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                            ) -> Ref:
        """A sequence N x L x F plus a constant table L x F that is Plexus' sines and
        cosines: the sinusoidal encoding. Any other table is not this layer's pattern: the
        merge reader makes it a Learned tensor added to the sequence (the same trainable
        table, as a ViT's position embedding)."""
        a, b = self._values(node)[:2]
        sequence, table = (a, b) if isinstance(a, Ref) else (b, a)
        name = node.input[0] if sequence is a else node.input[1]
        shape = self.shapes.get(name) or []
        if not (isinstance(sequence, Ref) and isinstance(table, Const)
                and table.value is not None and not table.batched and len(shape) == 3):
            raise Mismatch("not a table added to a sequence")
        rows = np.asarray(table.value, np.float32)
        rows = rows[0] if rows.ndim == 3 and rows.shape[0] == 1 else rows
        if rows.ndim != 2 or list(rows.shape) != list(shape[1:]):
            raise Mismatch("not a table added to a sequence")
        from runtime.ops import PositionalEncoding

        sines = PositionalEncoding(*rows.shape).position.numpy()
        if not np.allclose(rows, sines, atol=1e-6):
            raise Mismatch("a table other than the sinusoidal encoding")
        return self.b.add(specs[0].id, {"kind": "sinusoidal"}, self.label(node), [sequence])


def _filled_with(value: Any, number: float) -> bool:
    """Whether ``value`` is a constant that holds only ``number``."""
    return isinstance(value, Const) and value.value is not None and value.value.size > 0 \
        and bool(np.all(np.asarray(value.value, np.float64) == number))
