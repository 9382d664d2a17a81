"""A project made ready to run: its graph compiled, its data loaded, its weights in place.

Training, evaluation, attacks and the analysis panels all start here, so it imports nothing
that runs a project (no cycle back from the attacks to the session).
"""

from __future__ import annotations

from typing import Any

import torch

from runtime.compile import Compiled


def prepare(project: Any) -> tuple[Compiled, Any]:
    """Compile the graph, load the dataset and the project's weights.

    Seeds torch with the training seed first, so a fresh network starts from the same weights
    every time. Raises ValueError (compile or data errors, an Input that does not fit the data,
    weights that cannot fit in the free memory) with a one-line message.
    """
    from runtime.compile import compile_graph, load_node_state, weights_from_bytes
    from runtime.data import load_dataset
    from runtime.memory import check_fits

    torch.manual_seed(project.training.seed)
    check_fits(project.graph)  # before anything is allocated: a 4 TB layer is a message
    compiled = compile_graph(project.graph)
    data = load_dataset(project.dataset)
    check_input_fits(compiled, data)
    if project.weights:
        load_node_state(compiled, weights_from_bytes(project.weights))
    return compiled, data


def check_input_fits(compiled: Compiled, data: Any) -> None:
    """ValueError naming the Input node when its shape differs from the dataset's samples."""
    if len(compiled.input_nodes) != 1:
        return
    node = compiled.graph.nodes[compiled.input_nodes[0]]
    shape = tuple(node.param("shape"))
    expected = tuple(data.input_shape)
    if shape != expected:
        have = ", ".join(map(str, shape))
        want = ", ".join(map(str, expected))
        raise ValueError(f"{node.label} has shape {have} but dataset {data.name} gives samples "
                         f"of shape {want}; set the Input's shape to {want}")
