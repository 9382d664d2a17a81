"""The fx import's reading of sizes: an imported graph is built for one sample shape, so every
size but the batch's is a constant.

``n, c, h, w = x.shape``, ``x.size(2)``, ``x.dim()``, ``h // patch``, ``h == self.image_size``
and ``torch._assert(...)`` on them evaluate while walking, and calls that use them (a reshape
to ``(n, hidden, h * w)``, torchvision's ViT and ShuffleNet channel shuffle) read plain
numbers. Only the batch size stays symbolic (``Batch``): it is what a reshape keeps first and
a class token is repeated to.

``runtime.import_fx._Walker`` takes these as a mixin.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, fx

from runtime.fx_calls import Batch, TensorShape, argument
from runtime.fx_layers import Unsupported


class Constant:
    """A value the walk computed (a size, a flag, a tuple of sizes): calls read it as is."""

    def __init__(self, value: Any) -> None:
        self.value = value


class SizeCalls:
    """Size readers and constant folding for the walker (which provides ``values`` and
    ``shape``)."""

    values: dict[fx.Node, Any]

    def shape(self, n: fx.Node) -> tuple[int, ...]:
        raise NotImplementedError

    def fold_constants(self, n: fx.Node) -> Constant | None:
        """Puts computed constants in place of the nodes that gave them in ``n``'s arguments;
        when nothing else is left (sizes, flags, strings), evaluates ``n`` itself."""
        def known(a: fx.Node) -> Any:
            got = self.values.get(a)
            return got.value if isinstance(got, Constant) else a

        n.args = fx.node.map_arg(n.args, known)
        n.kwargs = fx.node.map_arg(n.kwargs, known)
        if n.op != "call_function" or _has_node((n.args, n.kwargs)):
            return None
        try:
            result = n.target(*n.args, **n.kwargs)
        except Exception as exc:  # noqa: BLE001 - the user's check failed on this shape
            raise Unsupported(f"fails on this input shape: {exc}") from None
        if isinstance(result, Tensor):
            raise Unsupported("makes a constant tensor (Plexus tensors come from the inputs "
                              "or learned parameters)")
        return Constant(result)

    def size(self, n: fx.Node) -> Any:
        """``x.shape``, ``x.size()``: the shape; ``x.size(0)``: the batch size; ``x.size(d)``
        of another dimension: that size; ``x.dim()``: the rank."""
        if n.target == "dim":
            return Constant(len(self.shape(n.args[0])))
        if n.target is getattr:
            if n.args[1] != "shape":
                raise Unsupported(f"attribute '{n.args[1]}'")
            return TensorShape(n.args[0])
        dim = argument(n, 1, "dim")
        if dim is None:
            return TensorShape(n.args[0])
        return self.shape_item(TensorShape(n.args[0]), dim)

    def shape_item(self, shape: TensorShape, index: Any) -> Any:
        """An entry of a shape: the batch's (``Batch``), or a constant size of the sample."""
        sizes = self.shape(shape.of) if isinstance(shape.of, fx.Node) else ()
        if isinstance(index, int) and not isinstance(index, bool) and sizes:
            if index % len(sizes) == 0:
                return Batch(shape.of)
            return Constant(sizes[index])
        if isinstance(index, slice) and sizes and 0 not in range(len(sizes))[index]:
            return Constant(tuple(sizes[index]))
        raise Unsupported(f"reads the sizes {index!r}, which include the batch size")


def _has_node(args: Any) -> bool:
    found: list[fx.Node] = []
    fx.node.map_arg(args, found.append)
    return bool(found)

