"""Attention maps of TransformerEncoderLayer nodes (issue 5): what torch's own attention
returns, whatever mode the network is in, with and without a padding mask, and per sample over
the real words of a text data set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph.model import Edge, Graph
from graph.project import Project
from graph.settings import DatasetSettings, TrainingSettings
from resources.examples import make
from resources.examples.make import REVIEW_LENGTH, REVIEW_VOCABULARY
from runtime import sequences as seq
from runtime.batches import tensor_pair
from runtime.compile import compile_graph
from runtime.prepare import prepare


def transformer_graph(length: int = 6, vocabulary: int = 10, width: int = 8,
                      layers: int = 1) -> Graph:
    """tokens -> embed -> encoder(s) (2 heads) -> mean over the real tokens -> 3 logits."""
    graph = Graph()
    tokens = graph.add_node("Input", {"shape": (length,), "dtype": "long"}, name="tokens")
    node = graph.add_node("Embedding", {"num_embeddings": vocabulary, "embedding_dim": width},
                          name="embed")
    graph.connect(Edge(tokens.id, "out", node.id, "in"))
    for index in range(1, layers + 1):
        encoder = graph.add_node("TransformerEncoderLayer",
                                 {"nhead": 2, "dim_feedforward": 16, "dropout": 0.3},
                                 name=f"encoder{index}")
        graph.connect(Edge(node.id, "out", encoder.id, "in"))
        node = encoder
    reduce = graph.add_node("SequenceReduce", {"mode": "mean"}, name="mean")
    logits = graph.add_node("Linear", {"out_features": 3}, name="logits")
    out = graph.add_node("Output", {"task": "classification"}, name="sentiment")
    for src, dst, port in ((node, reduce, "in"), (tokens, reduce, "mask"),
                           (reduce, logits, "in"), (logits, out, "in")):
        graph.connect(Edge(src.id, "out", dst.id, port))
    return graph


def transformer_project(layers: int = 1) -> Project:
    """The sentiment reviews read by a small transformer instead of an LSTM."""
    return Project(graph=transformer_graph(REVIEW_LENGTH, REVIEW_VOCABULARY, 16, layers),
                   name="sentiment_transformer",
                   dataset=DatasetSettings(name="sentiment_reviews", seed=0,
                                           options={"vocab_size": REVIEW_VOCABULARY,
                                                    "max_length": REVIEW_LENGTH}),
                   training=TrainingSettings(optimizer="adam", lr=0.01, batch_size=32,
                                             epochs=2, seed=0, options={"threads": 1}))


@pytest.fixture
def compiled():
    torch.manual_seed(0)
    return compile_graph(transformer_graph())


TOKENS = torch.tensor([[3, 5, 7, 2, 0, 0], [1, 2, 3, 4, 5, 6], [9, 8, 0, 0, 0, 0]])


def _encoder(compiled):
    (node_id, name, heads), = seq.attention_nodes(compiled)
    assert name == "encoder1" and heads == 2
    return node_id, compiled.module.get_submodule(compiled.module_names[node_id])


def _direct(compiled, tokens, key_padding_mask=None):
    """What torch's MultiheadAttention itself returns for the encoder's input."""
    _, encoder = _encoder(compiled)
    embed = compiled.module.get_submodule("embed")
    was = compiled.module.training
    compiled.module.eval()
    try:
        with torch.no_grad():
            x = embed(tokens)
            _, weights = encoder.self_attn(x, x, x, need_weights=True,
                                           average_attn_weights=True,
                                           key_padding_mask=key_padding_mask)
    finally:
        compiled.module.train(was)
    return weights.numpy()


def test_maps_are_torchs_own_attention_weights(compiled):
    node_id, _ = _encoder(compiled)
    maps = seq.attention_maps(compiled, TOKENS)
    assert set(maps) == {node_id}
    weights = maps[node_id]
    assert weights.shape == (3, 6, 6) and weights.dtype == np.float32
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(weights, _direct(compiled, TOKENS), atol=1e-6)
    assert weights.std() > 1e-3  # random weights: not a uniform map


def test_maps_do_not_depend_on_the_mode_and_leave_it_alone(compiled):
    module = compiled.module
    module.get_submodule("embed").weight.requires_grad_(False)
    grads = {name: p.requires_grad for name, p in module.named_parameters()}
    module.train()
    in_training = seq.attention_maps(compiled, TOKENS)
    again = seq.attention_maps(compiled, TOKENS)
    assert all(m.training for m in module.modules())
    module.eval()
    node_id, encoder = _encoder(compiled)
    calls = []
    original = encoder.self_attn.forward
    encoder.self_attn.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        with torch.no_grad():
            module(TOKENS)
            assert calls == []  # a plain eval forward takes torch's fused path: no self_attn
            in_eval = seq.attention_maps(compiled, TOKENS)
    finally:
        del encoder.self_attn.forward
    assert not any(m.training for m in module.modules())
    assert {name: p.requires_grad for name, p in module.named_parameters()} == grads
    np.testing.assert_allclose(in_training[node_id], in_eval[node_id], atol=1e-6)
    np.testing.assert_array_equal(in_training[node_id], again[node_id])  # no dropout drawn
    assert not encoder.self_attn._forward_pre_hooks and not encoder._forward_pre_hooks


def test_a_padding_mask_gives_padding_keys_no_weight(compiled):
    node_id, _ = _encoder(compiled)
    padding = TOKENS == 0
    unmasked = seq.attention_maps(compiled, TOKENS)[node_id]
    assert unmasked[0][:, 4:].sum(-1).min() > 0.01  # the layer alone reads padding too
    masked = seq.attention_maps(compiled, TOKENS, padding_mask=padding.numpy())[node_id]
    np.testing.assert_allclose(masked.sum(-1), 1.0, atol=1e-5)
    assert masked[padding[:, None, :].expand(-1, 6, -1).numpy()].max() < 1e-6
    np.testing.assert_allclose(masked, _direct(compiled, TOKENS, padding), atol=1e-6)
    assert seq.attention_maps(compiled, TOKENS)[node_id].tolist() == unmasked.tolist()


def test_every_encoder_layer_gets_its_map_and_other_networks_none():
    torch.manual_seed(1)
    two = compile_graph(transformer_graph(layers=2))
    names = [name for _, name, _ in seq.attention_nodes(two)]
    assert names == ["encoder1", "encoder2"]
    maps = seq.attention_maps(two, TOKENS)
    assert [m.shape for m in maps.values()] == [(3, 6, 6), (3, 6, 6)]
    assert not np.allclose(*maps.values())
    graph = Graph()
    tokens = graph.add_node("Input", {"shape": (6,), "dtype": "long"}, name="tokens")
    embed = graph.add_node("Embedding", {"num_embeddings": 10, "embedding_dim": 4})
    out = graph.add_node("Output", name="out")
    graph.connect(Edge(tokens.id, "out", embed.id, "in"))
    graph.connect(Edge(embed.id, "out", out.id, "in"))
    plain = compile_graph(graph)
    assert seq.attention_nodes(plain) == [] and seq.attention_maps(plain, TOKENS) == {}


def test_token_attention_keeps_the_real_words_and_reports_padding():
    compiled, data = prepare(transformer_project())
    view = seq.token_attention(compiled, data, [0, 1, 2])
    (node_id, name, _), = view.layers
    assert name == "encoder1" and view.indices == [0, 1, 2]
    x = tensor_pair(data.val)[0][:3]
    full = seq.attention_maps(compiled, x)[node_id]
    for i, (tokens, weights) in enumerate(zip(view.tokens, view.maps[node_id],
                                              strict=True)):
        keep = np.flatnonzero(x[i].numpy() != 0)
        assert weights.shape == (len(tokens), len(tokens)) == (len(keep), len(keep))
        assert 0 < len(tokens) < REVIEW_LENGTH and "<pad>" not in tokens
        np.testing.assert_allclose(weights, full[i][np.ix_(keep, keep)], atol=1e-6)
        share = view.padding[node_id][i]
        assert 0.0 < share < 1.0  # the layer does not mask padding: it draws some attention
        np.testing.assert_allclose(share, 1.0 - weights.sum(1).mean(), atol=1e-6)


def test_token_attention_needs_an_encoder_layer():
    lstm, data = prepare(make.build("sentiment_lstm"))
    with pytest.raises(ValueError, match="TransformerEncoderLayer"):
        seq.token_attention(lstm, data, 2)
