"""The example projects, built with the graph API so they never drift from the file format.

Run ``python -m resources.examples.make`` to rewrite every ``*.plexus`` file beside this one;
a test checks that the committed files equal what this module builds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.layout import auto_layout
from graph.model import Edge, Graph, Node
from graph.project import Project, save_project
from graph.settings import DatasetSettings, TrainingSettings
from resources.examples import backbone as backbone_examples
from resources.examples import experiments
from resources.examples import gan as gan_examples
from resources.examples import transfer as transfer_examples

FOLDER = Path(__file__).resolve().parent
DEFAULT = "digits_cnn"
HOUSE_FEATURES = 7  # columns of the built-in house_prices set (a test checks it)
CONTEXT_VOCABULARY = 34  # token ids of the built-in future_context set (a test checks it)
CONTEXT_LENGTH = 16
REVIEW_VOCABULARY = 300  # the sentiment_reviews set's vocabulary size option
REVIEW_LENGTH = 32

Layer = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]


def chain(graph: Graph, start: Node | None, *layers: Layer) -> Node:
    """Append layers one after another from ``start``; returns the last node.

    Each layer is (type, params) or (type, params, name).
    """
    previous = start
    for layer in layers:
        layer_type, params = layer[0], layer[1]
        name = layer[2] if len(layer) > 2 else None
        node = graph.add_node(layer_type, params, name=name)
        if previous is not None:
            graph.connect(Edge(previous.id, "out", node.id, first_input(graph, node)))
        previous = node
    assert previous is not None
    return previous


def first_input(graph: Graph, node: Node) -> str:
    """The first free input port of a node ("in" for most layers, "in1"/"in2" for merges)."""
    taken = {e.dst_port for e in graph.in_edges(node.id)}
    spec = node.spec
    assert spec is not None
    return next(port.name for port in spec.inputs if port.name not in taken)


def connect(graph: Graph, src: Node, dst: Node, port: str) -> None:
    graph.connect(Edge(src.id, "out", dst.id, port))


def _project(name: str, graph: Graph, description: str, dataset: DatasetSettings,
             training: TrainingSettings) -> Project:
    for node_id, pos in auto_layout(graph).items():
        graph.nodes[node_id].pos = pos
    return Project(graph=graph, name=name, description=description, dataset=dataset,
                   training=training)


def _mlp(inputs: int, hidden: list[int], outputs: int, activation: str, task: str) -> Graph:
    graph = Graph()
    node = chain(graph, None, ("Input", {"shape": (inputs,)}, "input"))
    for index, width in enumerate(hidden, start=1):
        node = chain(graph, node, ("Linear", {"out_features": width}, f"hidden{index}"),
                     (activation, {}, f"act{index}"))
    chain(graph, node, ("Linear", {"out_features": outputs}, "logits"),
          ("Output", {"task": task}, "output"))
    return graph


def _xor(name: str, hidden: list[int], epochs: int, description: str) -> Project:
    """An XOR classifier with ``hidden`` Tanh layers (none: a single-layer perceptron)."""
    return _project(
        name, _mlp(2, hidden, 1, "Tanh", "classification"), description,
        DatasetSettings(name="xor", samples=400, noise=0.1, seed=0),
        TrainingSettings(optimizer="sgd", lr=0.5, momentum=0.9, batch_size=32, epochs=epochs,
                         seed=0),
    )


def xor_mlp() -> Project:
    return _xor(
        "xor_mlp", [2], 60,
        "A 2-2-1 multilayer perceptron learns XOR: two hidden units bend the plane so the "
        "four clusters become separable. Compare with perceptron_xor.")


def perceptron_xor() -> Project:
    return _xor(
        "perceptron_xor", [], 40,
        "A single-layer perceptron draws one straight line, so it cannot separate XOR: it "
        "stays near 50-75% accuracy whatever you do. Add a hidden layer to fix it.")


def spirals_mlp() -> Project:
    return _project(
        "spirals_mlp", _mlp(2, [64, 64, 64], 2, "ReLU", "classification"),
        "Two interleaved spirals: a deeper MLP folds the plane until the spirals separate. "
        "Watch the decision boundary while it trains.",
        DatasetSettings(name="spirals", samples=1000, noise=0.05, seed=0),
        TrainingSettings(optimizer="adam", lr=0.01, batch_size=32, epochs=40, seed=0),
    )


def house_prices_mlp() -> Project:
    return _project(
        "house_prices_mlp", _mlp(HOUSE_FEATURES, [64, 32], 1, "ReLU", "regression"),
        "Regression: predict a house's price from its size, bedrooms, age, distance to the "
        "centre and neighbourhood wealth. The metric is R^2 (1.0 is perfect).",
        DatasetSettings(name="house_prices", samples=2000, noise=0.1, seed=0),
        TrainingSettings(optimizer="adam", lr=0.003, batch_size=32, epochs=30, seed=0),
    )


def _conv(channels: int, name: str) -> Layer:
    return ("Conv2d", {"out_channels": channels, "kernel_size": (3, 3), "padding": (1, 1)}, name)


def digits_cnn() -> Project:
    graph = Graph()
    chain(graph, None,
          ("Input", {"shape": (1, 8, 8)}, "image"),
          _conv(16, "conv1"), ("ReLU", {}, "relu1"), ("MaxPool2d", {}, "pool1"),
          _conv(32, "conv2"), ("ReLU", {}, "relu2"), ("MaxPool2d", {}, "pool2"),
          ("Flatten", {}, "flatten"),
          ("Linear", {"out_features": 64}, "fc1"), ("ReLU", {}, "relu3"),
          ("Dropout", {"p": 0.2}, "dropout"),
          ("Linear", {"out_features": 10}, "logits"),
          ("Output", {"task": "classification"}, "digit"))
    return _project(
        "digits_cnn", graph,
        "A LeNet-style convolutional network reads 8x8 handwritten digits (1797 real images "
        "from scikit-learn). Open the Filters and Activations panels to see what each "
        "convolution learns.",
        DatasetSettings(name="digits", seed=0),
        TrainingSettings(optimizer="adam", lr=0.01, batch_size=64, epochs=20, seed=0),
    )


def digits_resnet() -> Project:
    graph = Graph()
    stem = chain(graph, None, ("Input", {"shape": (1, 8, 8)}, "image"),
                 _conv(16, "stem"), ("ReLU", {}, "stem_relu"))
    branch = chain(graph, stem, _conv(16, "res_conv1"), ("ReLU", {}, "res_relu"),
                   _conv(16, "res_conv2"))
    add = graph.add_node("Add", name="skip_add")
    connect(graph, branch, add, "in1")
    connect(graph, stem, add, "in2")
    chain(graph, add, ("ReLU", {}, "relu"), ("MaxPool2d", {}, "pool"),
          ("Flatten", {}, "flatten"), ("Linear", {"out_features": 10}, "logits"),
          ("Output", {"task": "classification"}, "digit"))
    return _project(
        "digits_resnet", graph,
        "A small residual network: the Add node sums a block's output with its input (a "
        "skip connection), so the block only has to learn a correction.",
        DatasetSettings(name="digits", seed=0),
        TrainingSettings(optimizer="adam", lr=0.003, batch_size=64, epochs=20, seed=0),
    )


# -- sequences and autoencoders (issue 5) --------------------------------------------------------
def _future_context(name: str, readers: list[Layer], description: str, lr: float = 0.01,
                    epochs: int = 6) -> Project:
    """Tag each name of a sentence from the word after it; ``readers`` read the embedded
    words and give each step a vector for the per-step classifier."""
    graph = Graph()
    chain(graph, None,
          ("Input", {"shape": (CONTEXT_LENGTH,), "dtype": "long"}, "words"),
          ("Embedding", {"num_embeddings": CONTEXT_VOCABULARY, "embedding_dim": 16}, "embed"),
          *readers,
          ("Linear", {"out_features": 2}, "per_step"),
          ("Output", {"task": "tagging"}, "role"))
    return _project(
        name, graph, description,
        DatasetSettings(name="future_context", samples=1000, seed=0),
        TrainingSettings(optimizer="adam", lr=lr, batch_size=32, epochs=epochs, seed=0),
    )


def future_context_lstm() -> Project:
    return _future_context(
        "future_context_lstm", [("LSTM", {"hidden_size": 32}, "lstm")],
        "Tag each name as a character of a novel or an actor on screen. Only the word after a "
        "name tells which, and this LSTM reads left to right, so it can only guess (about "
        "50%). Compare with future_context_bilstm.")


def future_context_bilstm() -> Project:
    return _future_context(
        "future_context_bilstm", [("LSTM", {"hidden_size": 32, "bidirectional": True}, "lstm")],
        "The same tagger with a bidirectional LSTM: one direction reads the sentence forwards, "
        "the other backwards, so at each name it already knows the words after it and tags "
        "almost every name right. Compare with future_context_lstm.")


def future_context_transformer() -> Project:
    return _future_context(
        "future_context_transformer",
        [("PositionalEncoding", {"kind": "sinusoidal"}, "positions"),
         ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 32, "dropout": 0.0},
          "attention")],
        "The same tagger with self-attention: every word sees the whole sentence at once. "
        "The positional encoding tells it which word comes right after each name; delete it "
        "(connect embed to attention) and accuracy stalls near 72%, since attention alone "
        "cannot tell the word after a name from any other word of the sentence.",
        lr=0.005, epochs=15)


def sine_forecast_lstm() -> Project:
    graph = Graph()
    chain(graph, None,
          ("Input", {"shape": (24, 1)}, "window"),
          ("LSTM", {"hidden_size": 32, "output": "last"}, "lstm"),
          ("Linear", {"out_features": 4}, "next_values"),
          ("Output", {"task": "forecasting"}, "forecast"))
    return _project(
        "sine_forecast_lstm", graph,
        "Forecasting: an LSTM reads 24 past values of a noisy sum of sines and predicts the "
        "next 4. val_mse should fall well below val_baseline_mse, the error of repeating the "
        "last value. The Sequences panel draws the forecast against the actual series.",
        DatasetSettings(name="sines", samples=2000, noise=0.1, seed=0),
        TrainingSettings(optimizer="adam", lr=0.01, batch_size=32, epochs=8, seed=0),
    )


def _sentiment(name: str, readers: list[Layer], description: str,
               lr: float) -> Project:
    """Review sentiment: words embedded, read by ``readers`` (layers over the sequence), then
    the mean over the real words (the token Input masks the padding) to a 3-class head."""
    graph = Graph()
    words = chain(graph, None, ("Input", {"shape": (REVIEW_LENGTH,), "dtype": "long"}, "review"))
    read = chain(graph, words,
                 ("Embedding", {"num_embeddings": REVIEW_VOCABULARY, "embedding_dim": 32},
                  "embed"),
                 *readers)
    reduce = graph.add_node("SequenceReduce", {"mode": "mean"}, name="mean_over_words")
    connect(graph, read, reduce, "in")
    connect(graph, words, reduce, "mask")
    chain(graph, reduce, ("Linear", {"out_features": 3}, "logits"),
          ("Output", {"task": "classification"}, "sentiment"))
    return _project(
        name, graph, description,
        DatasetSettings(name="sentiment_reviews", seed=0,
                        options={"vocab_size": REVIEW_VOCABULARY, "max_length": REVIEW_LENGTH}),
        TrainingSettings(optimizer="adam", lr=lr, batch_size=32, epochs=10, seed=0),
    )


def sentiment_lstm() -> Project:
    return _sentiment(
        "sentiment_lstm", [("LSTM", {"hidden_size": 32}, "lstm")],
        "Sentiment of short product reviews (satisfied, neutral, dissatisfied). Words become "
        "vectors, an LSTM reads them in order, and the mean of its outputs over the real words "
        "(the token Input masks the padding) feeds the classifier. Colour the words by one "
        "hidden unit in the Sequences panel.", lr=0.01)


def sentiment_transformer() -> Project:
    return _sentiment(
        "sentiment_transformer",
        [("PositionalEncoding", {"kind": "sinusoidal"}, "positions"),
         ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 64}, "attention")],
        "The sentiment_lstm task read by self-attention instead of an LSTM: every word looks "
        "at every other word and mixes in what it finds. Attention alone ignores word order, "
        "so a positional encoding adds each word's place first. After training, the Sequences "
        "panel shows which words each word attends to.", lr=0.003)


def _autoencoder(latent: int, hidden: tuple[int, ...]) -> Graph:
    """Input 1x8x8 -> encoder -> bottleneck ('latent' wide) -> decoder -> 1x8x8 logits."""
    graph = Graph()
    node = chain(graph, None, ("Input", {"shape": (1, 8, 8)}, "image"),
                 ("Flatten", {}, "flatten"))
    for index, width in enumerate(hidden, start=1):
        node = chain(graph, node, ("Linear", {"out_features": width}, f"encode{index}"),
                     ("ReLU", {}, f"encode{index}_relu"))
    node = chain(graph, node, ("Linear", {"out_features": latent}, "bottleneck"))
    for index, width in enumerate(reversed(hidden), start=1):
        node = chain(graph, node, ("Linear", {"out_features": width}, f"decode{index}"),
                     ("ReLU", {}, f"decode{index}_relu"))
    chain(graph, node, ("Linear", {"out_features": 64}, "pixels"),
          ("Reshape", {"shape": (1, 8, 8)}, "to_image"),
          ("Output", {"task": "reconstruction", "loss": "bce"}, "reconstruction"))
    return graph


def autoencoder_anomaly_digits() -> Project:
    return _project(
        "autoencoder_anomaly_digits", _autoencoder(8, (32,)),
        "Anomaly detection: an autoencoder squeezes 8x8 digits through an 8-number bottleneck "
        "and rebuilds them. It trains on every digit but 7, so it rebuilds 7s badly: their "
        "reconstruction error flags them (val_roc_auc). Set the threshold in the Autoencoder "
        "panel.",
        DatasetSettings(name="digits_anomaly", seed=0, options={"anomaly": 7}),
        TrainingSettings(optimizer="adam", lr=0.003, batch_size=32, epochs=15, seed=0),
    )


def autoencoder_latent2d() -> Project:
    return _project(
        "autoencoder_latent2d", _autoencoder(2, (64, 32)),
        "Dimensionality reduction: an autoencoder with a 2-number bottleneck maps each digit "
        "to a point in the plane. The Autoencoder panel shows those points coloured by digit "
        "beside a PCA of the same images; the digits' labels are never trained on.",
        DatasetSettings(name="digits", seed=0),
        TrainingSettings(optimizer="adam", lr=0.003, batch_size=32, epochs=15, seed=0),
    )


EXAMPLES: dict[str, Callable[[], Project]] = {
    "xor_mlp": xor_mlp,
    "perceptron_xor": perceptron_xor,
    "spirals_mlp": spirals_mlp,
    "house_prices_mlp": house_prices_mlp,
    "digits_cnn": digits_cnn,
    "digits_resnet": digits_resnet,
    "future_context_lstm": future_context_lstm,
    "future_context_bilstm": future_context_bilstm,
    "future_context_transformer": future_context_transformer,
    "sine_forecast_lstm": sine_forecast_lstm,
    "sentiment_lstm": sentiment_lstm,
    "sentiment_transformer": sentiment_transformer,
    "autoencoder_anomaly_digits": autoencoder_anomaly_digits,
    "autoencoder_latent2d": autoencoder_latent2d,
    "gan_ring": gan_examples.gan_ring,  # issue 8: GANs (resources/examples/gan.py)
    "gan_digits": gan_examples.gan_digits,
    # issue 8: transfer, few-shot and multi-task (resources/examples/transfer.py); shapes_source
    # comes trained (its builder reuses the committed file's weights)
    "shapes_source": transfer_examples.shapes_source,
    "fewshot_scratch": transfer_examples.fewshot_scratch,
    "fewshot_transfer": transfer_examples.fewshot_transfer,
    "digits_multitask": transfer_examples.digits_multitask,
    # issue 13: an imported torchvision-style backbone, frozen, with a new head
    # (resources/examples/backbone.py)
    "backbone_transfer": backbone_examples.backbone_transfer,
    # issue 17: experiments that show one effect each (resources/examples/experiments.py)
    **experiments.EXAMPLES,
}


def build(name: str) -> Project:
    """A fresh, untrained example project."""
    return EXAMPLES[name]()


def path(name: str = DEFAULT) -> Path:
    return FOLDER / f"{name}.plexus"


def write_all(folder: Path = FOLDER) -> list[Path]:
    written = []
    for name in EXAMPLES:
        target = folder / f"{name}.plexus"
        save_project(build(name), target)
        written.append(target)
    return written


if __name__ == "__main__":
    for target in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER):
        print(target)
