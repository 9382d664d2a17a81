"""PositionalEncoding: what it adds, what it saves, how it fails, and why a transformer needs
it (self-attention alone cannot tell which word comes after which)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from graph.model import Graph
from resources.examples import make
from resources.examples.make import chain
from runtime import ops
from runtime.session import run_training
from runtime.shapes import analyze


def test_sinusoidal_table_starts_with_sin_0_and_cos_0_and_is_not_saved():
    layer = ops.PositionalEncoding(length=5, features=7)
    x = torch.zeros(2, 5, 7)
    out = layer(x)
    assert out.shape == (2, 5, 7)
    assert torch.equal(out[0, 0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]))
    assert float(out[0, 1, 0]) == pytest.approx(torch.sin(torch.tensor(1.0)).item())
    assert torch.equal(out[0], out[1])  # the same positions for every sample
    assert torch.equal(layer(torch.zeros(1, 3, 7))[0], out[0, :3])  # shorter: first positions
    assert not list(layer.parameters()) and layer.state_dict() == {}


def test_learned_positions_are_parameters():
    layer = ops.PositionalEncoding(length=4, features=3, kind="learned")
    assert [tuple(p.shape) for p in layer.parameters()] == [(4, 3)]
    assert list(layer.state_dict()) == ["position"]


def test_errors_name_the_node_and_say_what_to_do():
    graph = Graph()
    chain(graph, None, ("Input", {"shape": (6,), "dtype": "long"}, "words"),
          ("PositionalEncoding", {}, "positions"), ("Output", {}, "out"))
    messages = [d.message for d in analyze(graph).diagnostics]
    assert any("'positions'" in m and "add an Embedding before it" in m for m in messages), \
        messages
    with pytest.raises(ValueError, match="knows 4 positions but receives 6 steps"):
        ops.PositionalEncoding(4, 3)(torch.zeros(1, 6, 3))
    with pytest.raises(ValueError, match="kind must be one of sinusoidal, learned"):
        ops.PositionalEncoding(4, 3, kind="rotary")


def _accuracy(project) -> float:
    project.training.options = {"threads": 1}
    result = run_training(project)
    assert result.status == "completed", result.message
    return max(e["val_accuracy"] for e in result.epochs)


@pytest.mark.slow
def test_attention_tags_by_the_next_word_only_with_positions():
    with_positions = make.build("future_context_transformer")
    graph = Graph()
    chain(graph, None, *[(n.type, dict(n.params), n.name)
                         for n in (with_positions.graph.nodes[i]
                                   for i in with_positions.graph.topological_order())
                         if n.type != "PositionalEncoding"])
    without = dataclasses.replace(make.build("future_context_transformer"), graph=graph)
    assert len(graph.nodes) == len(with_positions.graph.nodes) - 1
    assert _accuracy(with_positions) >= 0.95
    assert _accuracy(without) <= 0.8
