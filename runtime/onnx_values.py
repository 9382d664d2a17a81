"""The values the ONNX import's walker keeps between operators.

While it walks an ONNX graph, each value name holds one of these: a graph tensor (a node's
output, ``Ref`` from the builder), a constant, a shape vector, a graph tensor in another
memory layout than Plexus' batch-first one, or a part of a pattern that several operators
build together (a padding mask and what is computed from it). Readers raise ``Unsupported``
with the true cause when an operator use has no catalog equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.import_builder import Ref


class Unsupported(Exception):
    """An operator use with no catalog equivalent; the message says why."""


class Downstream(Exception):
    """A value computed from something already refused: not listed again."""


@dataclass
class Const:
    """A constant value (None when it could not be evaluated; ``source`` then names the
    operator that computes it). ``batched``: a constant repeated along the batch, held with
    each batch-sized dimension as 1 (the zero initial state of a recurrent layer)."""

    value: np.ndarray | None
    source: str = ""
    batched: bool = False


@dataclass
class ShapeValue:
    """A shape vector computed from tensor shapes: an object array whose run-time sizes are
    ``onnx_fold.Sym`` (None when it could not be followed)."""

    dims: np.ndarray | None = None


@dataclass(frozen=True)
class Laid:
    """A graph tensor in another memory layout than Plexus' batch-first one, as exporters
    arrange recurrent layers: "time_major" is ``ref`` (N x L x F) as L x N x F; "rnn_y" is
    the Y output of an ONNX LSTM/GRU/RNN (L x dirs x N x H, layout 0) whose batch-first
    sequence is ``ref``; "rnn_y_t" that Y as L x N x dirs x H; "rnn_y_bf" the Y of layout 1
    (N x L x dirs x H); "rnn_h" the final hidden state Y_h (dirs x N x H) of the recurrent
    node ``ref`` names, "rnn_h_bf" that Y_h transposed to N x dirs x H (as
    ``h_n.transpose(0, 1)`` before a reshape to N x dirs*H), "rnn_c" its final cell state
    Y_c; "rnn_h_dir" one direction of a bidirectional Y_h (``dirs`` holds which: 0
    forward, 1 backward)."""

    ref: Ref
    kind: str
    dirs: int = 1


@dataclass(frozen=True)
class Padded(Laid):
    """A graph tensor padded (reflect or replicate) by ``pads`` per spatial dimension, as
    torch writes a convolution's ``padding_mode`` before it: laid out for that convolution
    only."""

    pads: tuple[int, ...] = ()
    mode: str = "reflect"


@dataclass(frozen=True)
class Mask:
    """Which steps of the token sequence ``tokens`` (N x L) are real: ``keep`` True where
    the value is true for real tokens (False: true for padding); ``unsqueezed`` when it is
    N x L x 1 to multiply a sequence N x L x F."""

    tokens: Ref
    keep: bool = True
    unsqueezed: bool = False


@dataclass(frozen=True)
class MaskedSum:
    """A step of a masked reduction over a sequence: for the mean, "product" is
    ``sequence`` times the mask, "sum" its sum over the steps, "count" the number of real
    steps (``clamped`` once it is at least 1); for the max, "filled" is the sequence with its
    padding at -inf, "max" its max over the steps, "any" whether a sequence has a real
    step; for the last step, "positions" each real step's position (else 0), "last index"
    their max ("last index column" as N x 1), "where last" that index next to the row's, "picked"
    the sequence's step there."""

    sequence: Ref | None
    mask: Mask
    stage: str
    clamped: bool = False


@dataclass(frozen=True)
class Windows(Laid):
    """An image ``ref`` (N x C x H x W, ``size`` = (H, W)) on its way through the windows
    torch's dynamo exporter gathers for ``adaptive_avg_pool2d``: "spatial_first" is it as
    H x W x N x C (Transpose perm=[2, 3, 0, 1]); "windows" the GatherND of each output
    position's window from it (oh x kh x ow x kw x N x C, ``output_size`` = (oh, ow));
    "windows_bf" those windows transposed back (N x C x oh x kh x ow x kw), which a ReduceMean
    over the window axes makes an adaptive average pooling."""

    size: tuple[int, int] = (0, 0)
    output_size: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Scaled(Laid):
    """A step of torch's Softplus with ``beta`` and ``threshold``, as its exporter writes it
    (``x * beta``, Softplus, ``/ beta``, and Where ``x * beta > threshold`` keep ``x``):
    "scaled" is the input ``ref`` times ``beta``; "undivided" the Softplus of that (``ref``
    is then the Softplus layer already made, before its division by ``beta``); "above"
    where the input ``ref`` times ``beta`` exceeds ``threshold``."""

    beta: float = 1.0
    threshold: float = 20.0


class Mismatch(Unsupported):
    """A reader's pattern does not apply to this operator use; the walker tries the next
    layer that declares the operator (the message is the cause when none applies)."""


# Values that come from the network's input, which operators on them make into layers.
GRAPH_VALUES = (Ref, Laid, Mask, MaskedSum)

# What a value in another layout is, as refusals say it.
LAYOUTS = {
    "time_major": "a sequence transposed to steps first (L x N x F, a Transpose perm=[1, 0, 2]), "
                  "which Plexus layers read only as a recurrent layer's input",
    "rnn_y": "a recurrent layer's output in a layout other than batch first",
    "rnn_y_t": "a recurrent layer's output in a layout other than batch first",
    "rnn_y_bf": "a recurrent layer's output in a layout other than batch first",
    "rnn_h": "a recurrent layer's final hidden state Y_h (directions x N x H); only one "
             "direction's state, taken with a Gather or Squeeze on its first axis, imports",
    "rnn_h_bf": "a recurrent layer's final hidden state as N x directions x H; only reshaped "
                "to N x directions*H (the h_n port) it imports",
    "rnn_h_dir": "one direction of a bidirectional layer's final hidden state; only both "
                 "joined, forward first (torch.cat((h[-2], h[-1]), 1)), import",
    "spatial_first": "an image transposed to height and width first (a Transpose perm=[2, "
                     "3, 0, 1]), which imports only as the windows of an adaptive average "
                     "pooling (GatherND, Transpose, ReduceMean)",
    "windows": "windows gathered from an image, which import only averaged (an adaptive "
               "average pooling: GatherND, Transpose, ReduceMean)",
    "windows_bf": "windows gathered from an image, which import only averaged (an adaptive "
                  "average pooling: GatherND, Transpose, ReduceMean)",
    "scaled": "a tensor multiplied by a constant number, which imports only as a Softplus's "
              "beta (Mul, Softplus, Div)",
    "undivided": "a Softplus of a scaled tensor not divided back (torch's Softplus with a beta "
                 "divides by it)",
    "above": "a comparison with a constant, which imports only as a Softplus's threshold "
             "(Greater, Where)",
    "lifted": "a sequence (N x C x L) unsqueezed to an image (N x C x 1 x L), which imports "
              "only as the 1-D pooling torch writes this way",
    "rnn_c": "an LSTM's final cell state Y_c (torch's c_n), which no Plexus layer gives; read "
             "the final hidden state (h_n) or the sequence output instead",
}
