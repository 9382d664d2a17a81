"""How users read a tensor shape: plain text, shared by shape inference and the checks that
use its results (no torch here)."""

from __future__ import annotations

from collections.abc import Sequence

BATCH = 2  # batch size of the meta tensors: 2, so BatchNorm in training mode accepts them


def format_shape(shape: Sequence[int]) -> str:
    """How users read an inferred shape: the batch dimension is "N" ("N x 16 x 8 x 8"); a
    leading 1 (inference runs a batch of ``BATCH``, never 1) is one tensor for every sample,
    as a Learned tensor gives before broadcasting ("1 x 5 x 8")."""
    if len(shape) == 0:
        return "scalar"
    first = "1" if int(shape[0]) == 1 else "N"
    return " x ".join([first, *(str(int(d)) for d in shape[1:])])
