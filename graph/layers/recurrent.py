"""Recurrent and attention layers: RNN, LSTM, GRU, positional encodings,
sequence reductions, multi-head attention and Transformer layers."""

from __future__ import annotations

from graph.catalog import ANY, CHOICE, CONTEXT, FLOAT, INT, SEQUENCE, LayerSpec, Param, Port
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import SEQUENCE_RANKS, bias_param, recurrent_layer


def _transformer_params() -> tuple[Param, ...]:
    """The parameters a Transformer encoder or decoder layer shares."""
    return (
        Param("nhead", INT, 4, "Attention heads; must divide the feature size.", 1, 256,
              label="Heads"),
        Param("dim_feedforward", INT, 128, "Width of the feed-forward block.", 1, 65536,
              label="Feed-forward"),
        Param("dropout", FLOAT, 0.1, "Dropout rate.", 0.0, 0.99),
        Param("activation", CHOICE, "relu", "Feed-forward activation.", choices=("relu", "gelu")),
    )


_ATTENTION_ONNX = OnnxMap(importable=False, why="exported as attention arithmetic (MatMul, "
                          "Softmax, Split), which imports as no layer")


LAYERS: tuple[LayerSpec, ...] = (
    recurrent_layer("RNN", "RNN", "Simple recurrent layer over a sequence (N x L x F).",
                    (Param("nonlinearity", CHOICE, "tanh", "Activation of the hidden state.",
                           choices=("tanh", "relu")),), unrolled=True),
    recurrent_layer("LSTM", "LSTM", "Long short-term memory: a recurrent layer with gates that "
                    "keep information over long sequences.",
                    (Param("forget_bias", FLOAT, 0.0, "Starting bias of the forget gates. 1 "
                           "starts them open, so the cell keeps what it read over long "
                           "sequences from the first step of training (Keras' default); 0 is "
                           "PyTorch's.", -10.0, 10.0, torch_arg=False,
                           label="Forget-gate bias"),)),
    recurrent_layer("GRU", "GRU", "Gated recurrent unit: a lighter LSTM."),
    LayerSpec(
        "SequenceReduce", "recurrent", "Sequence reduce",
        "Turns a sequence (N x L x F) into one vector per sample (N x F): the last step, the "
        "mean or the maximum over steps. Connect the token Input to 'mask' to leave padding "
        "(token id 0) out: the mean and maximum skip it and 'last' takes the last real token.",
        params=(Param("mode", CHOICE, "mean", "How the steps are combined.",
                      choices=("last", "mean", "max"),
                      choice_labels=("Last step only", "mean", "max")),),
        inputs=(Port("in"), Port("mask", optional=True)),
        summary="{mode}", ops_class="SequenceReduce", dtype=ANY, **SEQUENCE_RANKS,
        traits=frozenset({SEQUENCE}), shape_rule="sequence_reduce",
        onnx=OnnxMap(ops=("Equal", "Not", "Cast", "Unsqueeze", "Mul", "ReduceSum", "Clip",
                          "Div", "ReduceMean", "ReduceMax", "Where", "Concat",
                          "GatherND", "Gather"),
                     reader="masked"),
    ),
    LayerSpec(
        "PositionalEncoding", "recurrent", "Positional encoding",
        "Adds each step's position to a sequence (N x L x F), so a Transformer encoder can "
        "tell word order: fixed sines and cosines, or one learned vector per position.",
        params=(Param("kind", CHOICE, "sinusoidal", "Fixed sinusoids (nothing to train) or "
                      "learned position vectors.", choices=("sinusoidal", "learned"),
                      choice_labels=("Sinusoidal (fixed)", "Learned")),),
        inferred=(("length", 1), ("features", -1)), summary="{kind}",
        ops_class="PositionalEncoding", weights=True, traits=frozenset({SEQUENCE}),
        shape_rule="same_shape",
        onnx=OnnxMap(ops=("Add",), reader="position_table"),
        **SEQUENCE_RANKS,
    ),
    LayerSpec(
        "TransformerEncoderLayer", "recurrent", "Transformer encoder",
        "Self-attention and a feed-forward block over a sequence (N x L x D).",
        params=(
            Param("nhead", INT, 4, "Attention heads; must divide the feature size.", 1, 256,
                  label="Heads"),
            Param("dim_feedforward", INT, 128, "Width of the feed-forward block.", 1, 65536,
                  label="Feed-forward"),
            Param("dropout", FLOAT, 0.1, "Dropout rate.", 0.0, 0.99),
            Param("activation", CHOICE, "relu", "Feed-forward activation.",
                  choices=("relu", "gelu")),
        ),
        torch_class="TransformerEncoderLayer", inferred=(("d_model", -1),),
        fixed={"batch_first": True}, summary="{nhead} heads", **SEQUENCE_RANKS,
        weights=True, traits=frozenset({SEQUENCE, CONTEXT}), shape_rule="transformer",
        fx=FxMap(module="transformer"),
        onnx=OnnxMap(scope=True, sizes=(("nhead", "scores", 1),
                                        ("dim_feedforward", "linear1.weight", 0))),
    ),
    LayerSpec(
        "MultiheadAttention", "recurrent", "Multi-head attention",
        "Each query step reads a weighted mix of the value steps, weighted by how well it "
        "matches each key step (N x L x D). Leave key and value open for self-attention. "
        "Masks read nonzero as 'may attend', so token ids connect directly: key_padding_mask "
        "(N x S) leaves padding keys out, attn_mask (N x L x S) says which key each query "
        "may read. 'weights' gives the attention (N x L x S), averaged over heads.",
        params=(
            Param("num_heads", INT, 4, "Attention heads; must divide the feature size.", 1,
                  256, label="Heads"),
            Param("dropout", FLOAT, 0.0, "Dropout on the attention weights.", 0.0, 0.99),
            bias_param(),
        ),
        inputs=(Port("query"), Port("key", optional=True), Port("value", optional=True),
                Port("key_padding_mask", optional=True), Port("attn_mask", optional=True)),
        outputs=(Port("out"), Port("weights", optional=True)),
        torch_class="MultiheadAttention", ops_class="Attention",
        inferred=(("embed_dim", -1),), fixed={"batch_first": True},
        summary="{num_heads} heads", dtype=ANY, weights=True,
        traits=frozenset({SEQUENCE, CONTEXT}), shape_rule="attention",
        fx=FxMap(module="attention"),
        onnx=OnnxMap(scope=True, sizes=(("num_heads", "scores", 1),), marker="Softmax"),
        **SEQUENCE_RANKS,
    ),
    LayerSpec(
        "TransformerEncoder", "recurrent", "Transformer encoder stack",
        "Several Transformer encoder layers of the same size, one after the other (N x L x D).",
        params=(*_transformer_params(),
                Param("num_layers", INT, 2, "Encoder layers stacked.", 1, 64, label="Layers")),
        ops_class="EncoderStack", inferred=(("d_model", -1),),
        summary="{num_layers} x {nhead} heads", weights=True,
        traits=frozenset({SEQUENCE, CONTEXT}), shape_rule="transformer",
        fx=FxMap(module="encoder_stack", classes=("TransformerEncoder",)),
        # exported as its encoder layers' scopes, which import as TransformerEncoderLayer nodes
        onnx=OnnxMap(), **SEQUENCE_RANKS,
    ),
    LayerSpec(
        "TransformerDecoderLayer", "recurrent", "Transformer decoder",
        "Self-attention over the target sequence (tgt, N x T x D), attention to the encoder's "
        "output (memory, N x S x D), and a feed-forward block.",
        params=_transformer_params(), inputs=(Port("tgt"), Port("memory")),
        torch_class="TransformerDecoderLayer", inferred=(("d_model", -1),),
        fixed={"batch_first": True}, summary="{nhead} heads", weights=True,
        traits=frozenset({SEQUENCE, CONTEXT}), shape_rule="transformer",
        fx=FxMap(module="transformer"),
        onnx=_ATTENTION_ONNX, **SEQUENCE_RANKS,
    ),
)
