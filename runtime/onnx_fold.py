"""Constant folding for the ONNX import: evaluate, with numpy, the operators exporters use to
compute constants and shape vectors.

Exporters do not always store a layer's weights as one initializer: torch's dynamo exporter
slices an LSTM's recurrent weights into gate blocks and stacks them back (Slice, Concat,
Unsqueeze), and both exporters compute the target of a ``view(x.size(0), -1)`` from the
input's shape (Shape, Gather, Unsqueeze, Concat). ``evaluate`` runs one such operator on
known values. A shape vector may hold ``Sym`` entries, sizes known only at run time (the
batch); they pass through gathers, slices and concatenations, and arithmetic on them gives
an unknown ``Sym``, so a Reshape can still see which entry is the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Sym:
    """A size known only at run time; ``batch`` when it is the batch dimension."""

    def __init__(self, name: str, batch: bool = False) -> None:
        self.name = name
        self.batch = batch

    def __repr__(self) -> str:
        return self.name

    def _unknown(self, *_: Any) -> Sym:
        return Sym("?")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unknown
    __floordiv__ = __rfloordiv__ = __truediv__ = __rtruediv__ = __mod__ = __neg__ = _unknown


def has_symbols(array: np.ndarray) -> bool:
    """Whether a (shape) array holds a size known only at run time."""
    return array.dtype == object and any(isinstance(v, Sym) for v in array.reshape(-1))


def as_numbers(array: np.ndarray) -> np.ndarray:
    """An object array without symbols as int64 (what shape arithmetic gives in ONNX)."""
    return array.astype(np.int64) if array.dtype == object else array


def constant_value(attrs: dict[str, Any], to_array: Callable[[Any], np.ndarray]
                   ) -> np.ndarray | None:
    """The value of a Constant node, whichever attribute holds it."""
    if "value" in attrs:
        return to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype)
    return None


def _axes(value: Any, rank: int) -> list[int]:
    return [int(a) % rank if rank else int(a) for a in np.atleast_1d(value)]


def _from_input_or_attr(inputs: list[np.ndarray | None], index: int, attrs: dict[str, Any],
                        key: str) -> Any:
    if len(inputs) > index and inputs[index] is not None:
        return inputs[index]
    return attrs.get(key)


def _slice(inputs: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    data = inputs[0]
    if len(inputs) == 1:  # opset < 10: attributes
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes"), None
    else:
        starts, ends = inputs[1], inputs[2]
        axes = inputs[3] if len(inputs) > 3 else None
        steps = inputs[4] if len(inputs) > 4 else None
    axes = list(range(len(starts))) if axes is None else _axes(axes, data.ndim)
    steps = [1] * len(axes) if steps is None else [int(s) for s in steps]
    index = [slice(None)] * data.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        size = data.shape[axis]
        start, end = int(start), int(end)
        if step > 0:
            start, end = min(max(start + size if start < 0 else start, 0), size), \
                min(max(end + size if end < 0 else end, 0), size)
            index[axis] = slice(start, end, step)
        else:
            start = min(max(start + size if start < 0 else start, -1), size - 1)
            end = min(max(end + size if end < 0 else end, -1), size - 1)
            index[axis] = slice(start, end if end >= 0 else None, step)
    return data[tuple(index)]


def _reshape(data: np.ndarray, shape: np.ndarray, allowzero: int) -> np.ndarray:
    target = [int(s) for s in shape]
    if not allowzero:
        target = [data.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return data.reshape(target)


def _unsqueeze(data: np.ndarray, axes: Any) -> np.ndarray:
    rank = data.ndim + len(np.atleast_1d(axes))
    out = data
    for axis in sorted(_axes(axes, rank)):
        out = np.expand_dims(out, axis)
    return out


def _squeeze(data: np.ndarray, axes: Any) -> np.ndarray:
    if axes is None:
        return np.squeeze(data)
    return np.squeeze(data, tuple(_axes(axes, data.ndim)))


def _split(inputs: list[Any], attrs: dict[str, Any], outputs: int) -> list[np.ndarray]:
    data = inputs[0]
    axis = int(attrs.get("axis", 0)) % data.ndim
    sizes = _from_input_or_attr(inputs, 1, attrs, "split")
    if sizes is None:
        count = int(attrs.get("num_outputs", outputs))
        step = -(-data.shape[axis] // count)
        sizes = [min(step, data.shape[axis] - i * step) for i in range(count)]
    bounds = np.cumsum([int(s) for s in sizes])[:-1]
    return np.split(data, bounds, axis=axis)


def _expand(data: np.ndarray, shape: np.ndarray) -> np.ndarray:
    target = np.broadcast_shapes(data.shape, tuple(int(s) for s in shape))
    return np.broadcast_to(data, target).copy()


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return np.trunc(a / b).astype(np.result_type(a, b))  # ONNX integer division
    if a.dtype == object or b.dtype == object:
        return np.asarray(a // b)
    return np.asarray(a / b)


def _cast(data: np.ndarray, to: int) -> np.ndarray:
    if data.dtype == object:
        return data
    from onnx import helper

    return data.astype(helper.tensor_dtype_to_np_dtype(to))


def _gather(inputs: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    indices = np.asarray(inputs[1]).astype(np.int64)
    return np.take(inputs[0], indices, axis=int(attrs.get("axis", 0)))


def _constant_of_shape(inputs: list[Any], attrs: dict[str, Any], to_array: Callable
                       ) -> np.ndarray:
    fill = to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    return np.full([int(s) for s in inputs[0]], fill.reshape(-1)[0], fill.dtype)


def _shape(inputs: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    dims = np.asarray(inputs[0].shape, np.int64)
    return dims[int(attrs.get("start", 0)):attrs.get("end")]


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _divide,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater,
    "And": np.logical_and, "Or": np.logical_or, "Max": np.maximum, "Min": np.minimum,
}


def evaluate(op: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], outputs: int,
             to_array: Callable[[Any], np.ndarray]) -> list[np.ndarray] | None:
    """The outputs of ``op`` on known ``inputs`` (None for an absent optional input), or None
    for an operator (or a use of it) that folding does not cover."""
    try:
        result = _evaluate(op, inputs, attrs, outputs, to_array)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError):
        return None
    if result is None:
        return None
    return [np.asarray(r) for r in (result if isinstance(result, list) else [result])]


def _evaluate(op: str, inputs: list[Any], attrs: dict[str, Any], outputs: int,
              to_array: Callable[[Any], np.ndarray]) -> Any:
    first = inputs[0] if inputs else None
    if op in _BINARY:
        return _BINARY[op](inputs[0], inputs[1])
    if op == "Identity":
        return first
    if op == "Cast":
        return _cast(first, int(attrs["to"]))
    if op == "Transpose":
        return np.transpose(first, attrs.get("perm"))
    if op == "Reshape":
        return _reshape(first, inputs[1], int(attrs.get("allowzero", 0)))
    if op == "Unsqueeze":
        return _unsqueeze(first, _from_input_or_attr(inputs, 1, attrs, "axes"))
    if op == "Squeeze":
        return _squeeze(first, _from_input_or_attr(inputs, 1, attrs, "axes"))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in inputs], int(attrs.get("axis", 0)))
    if op == "Slice":
        return _slice(inputs, attrs)
    if op == "Gather":
        return _gather(inputs, attrs)
    if op == "Split":
        return _split(inputs, attrs, outputs)
    if op == "ConstantOfShape":
        return _constant_of_shape(inputs, attrs, to_array)
    if op == "Shape":
        return _shape(inputs, attrs)
    if op == "Size":
        return np.asarray(first.size, np.int64)
    if op == "Expand":
        return _expand(first, inputs[1])
    if op == "Range":
        return np.arange(first, inputs[1], inputs[2])
    if op == "Neg":
        return -first
    if op == "Not":
        return np.logical_not(first)
    if op == "Where":
        return np.where(first, inputs[1], inputs[2])
    if op == "Tile":
        return np.tile(first, [int(r) for r in inputs[1]])
    return None
