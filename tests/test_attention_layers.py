"""Multi-head attention, the Transformer encoder stack and the decoder layer: masks read as
the declaration says, and torch's modules import through fx with their weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graph.model import Edge, Graph
from graph.project import Project
from runtime import export
from runtime.compile import compile_graph
from runtime.importer import ModelImportError, import_module
from runtime.shapes import analyze
from tests.test_catalog_wide import outputs_of


def attention_graph(masked: bool) -> Graph:
    """tokens -> Embedding -> self-attention (padding masked by the token ids) -> out and
    weights as two Outputs."""
    g = Graph()
    tokens = g.add_node("Input", {"shape": (5,), "dtype": "long"}, name="tokens")
    embed = g.add_node("Embedding", {"num_embeddings": 20, "embedding_dim": 8}, name="embed")
    attn = g.add_node("MultiheadAttention", {"num_heads": 2}, name="attn")
    out = g.add_node("Output", {"task": "regression"}, name="out")
    weights = g.add_node("Output", {"task": "regression"}, name="weights")
    g.connect(Edge(tokens.id, "out", embed.id, "in"))
    g.connect(Edge(embed.id, "out", attn.id, "query"))
    if masked:
        g.connect(Edge(tokens.id, "out", attn.id, "key_padding_mask"))
    g.connect(Edge(attn.id, "out", out.id, "in"))
    g.connect(Edge(attn.id, "weights", weights.id, "in"))
    return g


def test_self_attention_with_a_padding_mask_from_token_ids():
    g = attention_graph(masked=True)
    analysis = analyze(g)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    attn = g.node_by_name("attn").id
    assert analysis.shapes.outputs[attn] == {"out": (2, 5, 8), "weights": (2, 5, 5)}
    compiled = compile_graph(g)
    text = export.export_python(Project(name="masked", graph=g))
    assert "        attn, attn_weights = self.attn(x, key_padding_mask=tokens)\n" in text
    tokens = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    with torch.no_grad():
        out, weights = compiled.module(tokens)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5), atol=1e-6)
    assert float(weights[0, :, 3:].abs().max()) == 0.0  # padding keys get no attention
    assert float(weights[1, :, 3:].min()) > 0.0
    mha = compiled.module.attn.attention
    x = compiled.module.embed(tokens)
    want, _ = mha(x, x, x, key_padding_mask=tokens == 0)
    assert torch.allclose(out, want, atol=1e-6)


class CrossAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.self_attn = nn.MultiheadAttention(8, 4, batch_first=True, bias=False)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        y, _ = self.self_attn(x, x, x, need_weights=False)
        z, _ = self.attn(y, memory, memory)
        return self.fc(z)


def test_fx_import_of_self_and_cross_attention():
    torch.manual_seed(0)
    model = CrossAttention().eval()
    project = import_module(model, input_shape=[(5, 8), (7, 8)])
    g = project.graph
    by_name = {n.name: n for n in g.nodes.values()}
    assert by_name["self_attn"].params == {"num_heads": 4, "dropout": 0.0, "bias": False}
    assert sorted(e.dst_port for e in g.in_edges(by_name["self_attn"].id)) == ["query"]
    assert sorted(e.dst_port for e in g.in_edges(by_name["attn"].id)) == ["key", "query"]
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 7, 8)
    with torch.no_grad():
        want = model(x, memory)
    assert float((outputs_of(project, [x, memory])[0] - want).abs().max()) < 1e-5


class TorchMask(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, key_padding_mask=x[:, :, 0] > 0)[0]


def test_fx_import_refuses_torch_masks_with_the_reason():
    with pytest.raises(ModelImportError, match="torch marks left-out steps True"):
        import_module(TorchMask(), input_shape=(5, 8))


class Seq2Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                                  activation="gelu")

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.decoder(target, self.encoder(source))


def test_fx_import_of_an_encoder_stack_and_a_decoder_layer():
    torch.manual_seed(0)
    model = Seq2Seq().eval()
    project = import_module(model, input_shape=[(6, 8), (4, 8)])
    (encoder,) = project.graph.nodes_of_type("TransformerEncoder")
    (decoder,) = project.graph.nodes_of_type("TransformerDecoderLayer")
    assert encoder.params["num_layers"] == 3
    assert decoder.params["activation"] == "gelu"
    assert sorted(e.dst_port for e in project.graph.in_edges(decoder.id)) == ["memory", "tgt"]
    source, target = torch.randn(2, 6, 8), torch.randn(2, 4, 8)
    with torch.no_grad():
        want = model(source, target)
    assert float((outputs_of(project, [source, target])[0] - want).abs().max()) < 1e-5


class EncoderBlock(nn.Module):
    """torchvision's ViT encoder block: pre-norm self-attention and MLP, each residual."""

    def __init__(self) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(8, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(8, 2, dropout=0.0, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(8, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(16, 8), nn.Dropout(0.0))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x)
        x = x + input
        y = self.ln_2(x)
        y = self.mlp(y)
        return x + y


def test_fx_import_of_a_vit_encoder_block():
    torch.manual_seed(0)
    model = EncoderBlock().eval()
    project = import_module(model, input_shape=(5, 8))
    (attn,) = project.graph.nodes_of_type("MultiheadAttention")
    assert [e.dst_port for e in project.graph.in_edges(attn.id)] == ["query"]
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        want = model(x)
    assert float((outputs_of(project, [x])[0] - want).abs().max()) < 1e-5
