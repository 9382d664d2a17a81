"""Every layer declaration, one module per palette category, assembled in palette order
(``graph.catalog.CATEGORIES``): the order the importers try layers that claim one operator."""

from __future__ import annotations

from graph.catalog import LayerSpec
from graph.layers import (
    activation,
    convolution,
    core,
    io,
    merge,
    normalization,
    pooling,
    recurrent,
    reshape,
)

LAYERS: tuple[LayerSpec, ...] = (
    *io.LAYERS,
    *core.LAYERS,
    *convolution.LAYERS,
    *pooling.LAYERS,
    *recurrent.LAYERS,
    *normalization.LAYERS,
    *activation.LAYERS,
    *merge.LAYERS,
    *reshape.LAYERS,
)
