"""Tensor ops: reshapes, permutes, slices and cuts of each sample (Chunk, Split)."""

from __future__ import annotations

from graph.catalog import ANY, ENDS_TRUNK, FLOATS, INT, INTS, TENSOR_OP, LayerSpec, Param, Port
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import reduction_layer

MAX_PIECES = 4  # output ports of Chunk and Split; the first ``chunks`` (or sizes) are used


def _pieces() -> tuple[Port, ...]:
    """out1 .. out4: two always there, the others used when the params ask for them."""
    return tuple(Port(f"out{i}", optional=i > 2) for i in range(1, MAX_PIECES + 1))


_PIECES_DIM = Param("dim", INT, 1, "Dimension to cut along (1 = channels/features; not the "
                    "batch).", -8, 8)


LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "Flatten", "reshape", "Flatten", "Flattens each sample to one vector (N x C x H x W to "
        "N x CHW).",
        params=(Param("start_dim", INT, 1, "First dimension to flatten.", 1, 8),),
        torch_class="Flatten", fixed={"end_dim": -1}, role=TENSOR_OP, dtype=ANY,
        traits=frozenset({ENDS_TRUNK}),
        fx=FxMap(functions=("torch.flatten", "Tensor.flatten"), call="flatten"),
        onnx=OnnxMap(ops=("Flatten",), reader="flatten"),
    ),
    LayerSpec(
        "Reshape", "reshape", "Reshape", "Gives each sample a new shape with the same number of "
        "values (-1: inferred).",
        params=(Param("shape", INTS, (-1,), "New shape of one sample, without the batch.",
                      minimum=-1, maximum=1_000_000),),
        summary="{shape}", ops_class="Reshape", role=TENSOR_OP, dtype=ANY,
        traits=frozenset({ENDS_TRUNK}),
        fx=FxMap(functions=("torch.reshape", "Tensor.reshape", "Tensor.view"), call="reshape"),
        onnx=OnnxMap(ops=("Reshape",), reader="reshape"),
    ),
    reduction_layer("Mean", "mean", "mean", FLOATS, ("torch.mean", "Tensor.mean"),
                    OnnxMap(ops=("ReduceMean",), reader="reduce")),
    reduction_layer("Sum", "sum", "sum", ANY, ("torch.sum", "Tensor.sum"),
                    OnnxMap(ops=("ReduceSum",), reader="reduce")),
    reduction_layer("Max", "maximum", "amax", ANY, ("torch.amax", "Tensor.amax"),
                    OnnxMap(ops=("ReduceMax",), reader="reduce")),
    LayerSpec(
        "Permute", "reshape", "Permute", "Reorders the dimensions of each sample; the batch "
        "stays first. Dimensions are numbered as in torch, 1 being the first after the batch: "
        "2, 3, 1 turns N x C x H x W into N x H x W x C (x.permute(0, 2, 3, 1)).",
        params=(Param("dims", INTS, (2, 3, 1), "The sample's dimensions (1 on) in their new "
                      "order.", minimum=1, maximum=8),),
        summary="{dims}", ops_class="Permute", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.permute", "Tensor.permute"), call="permute"),
        onnx=OnnxMap(ops=("Transpose",), reader="transpose"),
    ),
    LayerSpec(
        "Transpose", "reshape", "Transpose", "Swaps two dimensions of each sample "
        "(x.transpose(dim0, dim1)); dimensions are numbered as in torch and the batch (0) "
        "stays first.",
        params=(Param("dim0", INT, 1, "One dimension (1 or later; negative: from the end).",
                      -8, 8),
                Param("dim1", INT, 2, "The other dimension.", -8, 8)),
        summary="{dim0}<->{dim1}", ops_class="Transpose", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.transpose", "Tensor.transpose", "torch.swapaxes",
                            "Tensor.swapaxes"), call="transpose"),
        onnx=OnnxMap(ops=("Transpose",), reader="transpose"),
    ),
    LayerSpec(
        "Slice", "reshape", "Slice", "Keeps positions start to end (exclusive) in steps along "
        "one dimension of each sample, as x[:, start:end:step]; dimensions are numbered as in "
        "torch and the batch (0) stays whole. Negative positions count from the end; an end "
        "past the size stops at the end.",
        params=(Param("dim", INT, 1, "Dimension to slice (1 or later; negative: from the end).",
                      -8, 8),
                Param("start", INT, 0, "First position kept.", -1_000_000, 1_000_000),
                Param("end", INT, 1, "Position where it stops (not kept).", -1_000_000,
                      1_000_000),
                Param("step", INT, 1, "Keep every step-th position.", 1, 1_000_000)),
        summary="{start}:{end}:{step}", ops_class="Slice", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("operator.getitem",), call="getitem"),
        onnx=OnnxMap(ops=("Slice",), reader="slice"),
    ),
    LayerSpec(
        "Select", "reshape", "Select", "Keeps one position along a dimension, which goes away "
        "(x.select(dim, index), x[:, index]); dimensions are numbered as in torch and the "
        "batch (0) stays whole.",
        params=(Param("dim", INT, 1, "Dimension to select from (1 or later).", -8, 8),
                Param("index", INT, 0, "Position kept (negative: from the end).", -1_000_000,
                      1_000_000)),
        summary="{dim}[{index}]", ops_class="Select", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.select", "Tensor.select")),
        onnx=OnnxMap(ops=("Gather",), reader="gather"),
    ),
    LayerSpec(
        "Chunk", "reshape", "Chunk", "Cuts each sample into equal pieces along a dimension, "
        f"one per output (out1 .. out{MAX_PIECES}).",
        params=(Param("chunks", INT, 2, "Number of pieces (outputs used).", 2, MAX_PIECES),
                _PIECES_DIM),
        outputs=_pieces(), summary="{chunks} on dim {dim}", ops_class="Chunk",
        role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.chunk", "Tensor.chunk"), call="chunk"),
        onnx=OnnxMap(),  # exported as an ONNX Split, which imports as a Split of equal sizes
    ),
    LayerSpec(
        "Split", "reshape", "Split", "Cuts each sample into pieces of the given sizes along a "
        f"dimension, one per output (out1 .. out{MAX_PIECES}).",
        params=(Param("sizes", INTS, (2, 2), f"Size of each piece (2 to {MAX_PIECES}); they "
                      "must add up to the dimension's size.", minimum=1, maximum=1_000_000),
                _PIECES_DIM),
        outputs=_pieces(), summary="{sizes} on dim {dim}", ops_class="Split",
        role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.split", "Tensor.split"), call="split"),
        onnx=OnnxMap(ops=("Split",), reader="split"),
    ),
)
