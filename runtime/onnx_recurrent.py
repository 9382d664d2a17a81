"""ONNX readers for recurrent layers, as torch's exporters lay them out.

ONNX's LSTM, GRU and RNN take the sequence steps first (L x N x F) with gates in another
order than PyTorch's, and give Y (L x directions x N x H), Y_h and Y_c (directions x N x H).
The reader maps the weights back to the torch layer's and returns those outputs as ``Laid``
values; the transposes and reshapes around it, a Gather of the last step and a Gather or
Squeeze of Y_h then bring them back to the batch-first tensors Plexus' layer gives.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from graph.catalog import RECURRENT, LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import LAYOUTS, Const, Laid, Unsupported

# ONNX gate order of each recurrent operator, as PyTorch's order (iofc -> ifgo, zrh -> rzn),
# and the activations PyTorch's layers use.
_GATES = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}
_TORCH_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


class RecurrentReaders:
    """Readers catalog declarations name; mixed into ``LayerReaders``, whose helpers
    (``ref``, ``const``, ``tensor``) and walker state they use."""

    b: GraphBuilder
    values: dict[str, Any]
    shapes: TensorShapes
    consumers: Any
    sequence_used: dict[int, bool]  # recurrent node id -> whether its Y output is read
    const: Any
    tensor: Any

    def last_step(self, node: Any, data: Ref, axis: int) -> Ref:
        """``sequence[:, -1]`` after a recurrent layer: its "last" output."""
        rnn = self.b.graph.nodes[data.node]
        index = self.values.get(node.input[1])
        shape = self.shapes.get(node.input[0]) or []
        length = shape[1] if len(shape) == 3 else None
        spec = rnn.spec
        if spec is None or not spec.has(RECURRENT) or axis != 1 or rnn.params["bidirectional"] \
                or rnn.params["output"] != "sequence" or self.consumers[node.input[0]] != 1 \
                or not isinstance(index, Const) or index.value is None \
                or index.value.size != 1 or int(index.value.reshape(-1)[0]) not in (-1, length):
            raise Unsupported("only the last step of a recurrent layer's sequence")
        rnn.params["output"] = "last"
        return data

    def read_recurrent(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Laid:
        layer, op = specs[0], node.op_type
        gates = _GATES[op]
        value = self.values.get(node.input[0])
        layout = int(attrs.get("layout", 0))
        if layout == 0 and isinstance(value, Laid) and value.kind == "time_major":
            source = value.ref
        elif layout == 1 and isinstance(value, Ref):
            source = value
        else:
            raise Unsupported("its input is not a batch of sequences")
        if len(node.input) > 4 and node.input[4]:
            raise Unsupported("sequence_lens")
        for state in node.input[5:]:
            held = self.values.get(state) if state else None
            if isinstance(held, Const) and held.value is not None and np.any(held.value):
                raise Unsupported("a non-zero initial state")
            if isinstance(held, Const) and held.value is None and held.source:
                raise Unsupported(f"an initial state computed by {held.source}, which the "
                                  "importer cannot evaluate")
            if isinstance(held, (Ref, Laid)):
                raise Unsupported("an initial state computed by the network")
        if attrs.get("clip") is not None or attrs.get("input_forget", 0):
            raise Unsupported("clip or input_forget")
        direction = attrs.get("direction", "forward")
        if direction == "reverse":
            raise Unsupported("direction='reverse'")
        dirs = 2 if direction == "bidirectional" else 1
        hidden = int(attrs["hidden_size"])
        params: dict[str, Any] = {"hidden_size": hidden, "num_layers": 1,
                                  "bidirectional": dirs == 2, "dropout": 0.0,
                                  "output": "sequence"}
        activations = [a.decode() if isinstance(a, bytes) else a
                       for a in attrs.get("activations", [])]
        if any(p.name == "nonlinearity" for p in layer.params):
            kind = (activations or ["Tanh"])[0]
            if kind not in ("Tanh", "Relu") or len(set(activations or ["Tanh"])) != 1:
                raise Unsupported(f"activations {activations}")
            params["nonlinearity"] = kind.lower()
        elif activations and activations != _TORCH_ACTIVATIONS.get(op, []) * dirs:
            raise Unsupported(f"activations {activations}")
        if op == "GRU" and not attrs.get("linear_before_reset", 0):
            raise Unsupported("linear_before_reset=0 (PyTorch's GRU resets after the product)")
        w = self.const(node.input[1], "the weights W")
        r = self.const(node.input[2], "the weights R")
        b = (self.const(node.input[3], "the biases B") if len(node.input) > 3 and node.input[3]
             else np.zeros((dirs, 2 * w.shape[1]), np.float32))
        weights = {}
        for d in range(dirs):
            suffix = "_l0" + ("_reverse" if d else "")
            half = w.shape[1]
            weights[f"rnn.weight_ih{suffix}"] = self.tensor(_reorder(w[d], gates))
            weights[f"rnn.weight_hh{suffix}"] = self.tensor(_reorder(r[d], gates))
            weights[f"rnn.bias_ih{suffix}"] = self.tensor(_reorder(b[d][:half], gates))
            weights[f"rnn.bias_hh{suffix}"] = self.tensor(_reorder(b[d][half:], gates))
        # exporters name recurrent weights "val_N"; their node names say more ("node_lstm__2")
        # and the legacy exporter "/lstm/LSTM"
        raw = re.sub(rf"/{op}(_\d+)?$", "", node.name or "")
        name = re.sub(r"^node_|__\d+$", "", raw) or layer.id.lower()
        ref = self.b.add(layer.id, params, name, [source], weights)
        self.sequence_used[ref.node] = bool(self.consumers[node.output[0]])
        return [Laid(ref, "rnn_y" if layout == 0 else "rnn_y_bf", dirs),
                Laid(ref, "rnn_h", dirs), Laid(ref, "rnn_c", dirs)]

    def final_state(self, state: Laid, index: int | None) -> Ref | Laid:
        """A direction of the final hidden state (``index`` on Y_h's first axis; None: its
        only one). One direction's is the whole state; of a bidirectional layer, a
        "rnn_h_dir" value that ``both_directions`` joins."""
        rnn = self.b.graph.nodes[state.ref.node]
        if state.kind != "rnn_h":
            raise Unsupported(LAYOUTS[state.kind])
        if state.dirs == 1 and index in (None, 0, -1):
            return self.whole_state(state.ref)
        if state.dirs == 2 and index in (0, 1, -2, -1):
            return Laid(state.ref, "rnn_h_dir", index % 2)
        raise Unsupported(f"reads the final state of '{rnn.name}' at index {index}")

    def both_directions(self, parts: list[Any]) -> Ref | None:
        """The final state of a bidirectional layer joined along the features, forward first
        (``torch.cat((h[-2], h[-1]), 1)``); None when ``parts`` are not that."""
        if len(parts) != 2 or not all(isinstance(p, Laid) and p.kind == "rnn_h_dir"
                                      for p in parts):
            return None
        if parts[0].ref != parts[1].ref or [p.dirs for p in parts] != [0, 1]:
            return None
        return self.whole_state(parts[0].ref)

    def whole_state(self, layer: Ref) -> Ref:
        """The final hidden state of the top layer, N x H (directions side by side): the
        node's ``h_n`` port when its declaration has one, else its "last" output (the same
        values) when nothing reads its sequence."""
        rnn = self.b.graph.nodes[layer.node]
        spec = rnn.spec
        assert spec is not None
        if spec.output_port("h_n") is not None:
            return Ref(rnn.id, "h_n")
        if self.sequence_used.get(rnn.id) or rnn.params["output"] != "sequence":
            raise Unsupported(f"reads both the sequence (Y) and the final hidden state (Y_h) of "
                              f"'{rnn.name}', and Plexus' {spec.id} gives one of them; read "
                              "the last step of the sequence (y[:, -1]) instead of h_n")
        rnn.params["output"] = "last"
        return layer


def _reorder(array: np.ndarray, gates: list[int]) -> np.ndarray:
    """Gate blocks (stacked along the first axis) in PyTorch's order."""
    blocks = np.split(np.asarray(array), len(gates), axis=0)
    return np.concatenate([blocks[g] for g in gates], axis=0)
