"""Experiments that show one effect each, in pairs to compare (issue 17).

- vanishing_sigmoid / vanishing_relu: a 10-layer MLP on the digits; with sigmoids the first
  layer's gradient all but vanishes (``grad_ratio``, the first Linear's gradient norm over the
  last one's, recorded every epoch) and the network stays near chance; with ReLU it learns.
- overfit_plain / overfit_regularized: a large MLP on 100 noisy points; without dropout and
  weight decay the validation loss climbs away from the training loss, with them the gap
  shrinks by more than half.
- long_memory_rnn / long_memory_lstm: the class is a token 34-38 steps back, among tokens
  that look just like it; an LSTM stores and keeps it, a plain RNN stays at chance.
- learning_rate_sweep: a regression MLP to train at three learning rates (the description
  says which); too low crawls, too high diverges and the run says so.

Registered in ``resources.examples.make.EXAMPLES``.
"""

from __future__ import annotations

from graph.model import Graph
from graph.project import Project
from graph.settings import DatasetSettings, TrainingSettings

VANISHING_DEPTH = 10  # Linear layers, the last one included
VANISHING_WIDTH = 64
OVERFIT_WIDTH = 256
MEMORY_LENGTH = 40  # tokens per long_memory sequence; the marker is among the first 5
MEMORY_TOKENS = 4  # token ids of the long_memory set: padding, a, b, mark (a test checks it)


def _make():  # noqa: ANN202 (the make module; imported late: make imports this module)
    from resources.examples import make

    return make


def _deep_mlp(activation: str) -> Graph:
    make = _make()
    layers = [("Input", {"shape": (1, 8, 8)}, "image"), ("Flatten", {}, "flatten")]
    for index in range(1, VANISHING_DEPTH):
        layers += [("Linear", {"out_features": VANISHING_WIDTH}, f"fc{index}"),
                   (activation, {}, f"act{index}")]
    layers += [("Linear", {"out_features": 10}, f"fc{VANISHING_DEPTH}"),
               ("Output", {"task": "classification"}, "digit")]
    graph = Graph()
    make.chain(graph, None, *layers)
    return graph


def _vanishing(name: str, activation: str, description: str) -> Project:
    return _make()._project(
        name, _deep_mlp(activation), description,
        DatasetSettings(name="digits", seed=0),
        TrainingSettings(optimizer="adam", lr=0.001, batch_size=32, epochs=20, seed=0,
                         options={"gradient_ratio": True}))


def vanishing_sigmoid() -> Project:
    return _vanishing(
        "vanishing_sigmoid", "Sigmoid",
        "Vanishing gradients: ten Linear layers with sigmoids between them. A sigmoid's slope "
        "is at most 0.25, so the gradient shrinks at every layer on its way back: grad_ratio "
        "(the first Linear's gradient norm over the last one's, in Metrics) is around 1e-9 and "
        "the first layers never learn. Accuracy stays near chance (10%). Compare with "
        "vanishing_relu, and look at the gradients in the Histograms panel.")


def vanishing_relu() -> Project:
    return _vanishing(
        "vanishing_relu", "ReLU",
        "The same ten-layer network with ReLU: its slope is 1 where it is active, so the "
        "gradient reaches the first layer (grad_ratio around 1e-3, a million times "
        "vanishing_sigmoid's) and the network learns the digits.")


def _overfit(name: str, regularized: bool, description: str) -> Project:
    make = _make()
    layers = [("Input", {"shape": (2,)}, "input")]
    for index in range(1, 4):
        layers += [("Linear", {"out_features": OVERFIT_WIDTH}, f"hidden{index}"),
                   ("ReLU", {}, f"act{index}")]
        if regularized:
            layers.append(("Dropout", {"p": 0.5}, f"dropout{index}"))
    layers += [("Linear", {"out_features": 2}, "logits"),
               ("Output", {"task": "classification"}, "output")]
    graph = Graph()
    make.chain(graph, None, *layers)
    return make._project(
        name, graph, description,
        DatasetSettings(name="moons", samples=500, noise=0.3, val_split=0.8, seed=0),
        TrainingSettings(optimizer="adamw", lr=0.003, batch_size=32, epochs=200, seed=0,
                         weight_decay=0.3 if regularized else 0.0))


def overfit_plain() -> Project:
    return _overfit(
        "overfit_plain", False,
        "Overfitting: 133,000 weights learn 100 noisy points (the other 400 validate). The "
        "training loss goes to zero while the validation loss turns and climbs: the network "
        "memorises the noise, and the decision boundary wraps single points. Compare with "
        "overfit_regularized.")


def overfit_regularized() -> Project:
    return _overfit(
        "overfit_regularized", True,
        "The same network with dropout (half the hidden units dropped at each step) and weight "
        "decay 0.3: the gap between validation and training loss is less than half of "
        "overfit_plain's, and the decision boundary is smooth.")


def _long_memory(name: str, recurrent: tuple[str, dict], description: str) -> Project:
    """Embedded tokens read by one recurrent layer whose last step classifies: the pair
    differs only in that layer, so the gap between them is the architecture's. The layer
    gives every step (the Sequences panel shows what it holds token by token)."""
    make = _make()
    kind, params = recurrent
    graph = Graph()
    make.chain(graph, None,
               ("Input", {"shape": (MEMORY_LENGTH,), "dtype": "long"}, "tokens"),
               ("Embedding", {"num_embeddings": MEMORY_TOKENS, "embedding_dim": 8}, "embed"),
               (kind, {"hidden_size": 32, **params}, kind.lower()),
               ("SequenceReduce", {"mode": "last"}, "last_step"),
               ("Linear", {"out_features": 2}, "logits"),
               ("Output", {"task": "classification"}, "token_after_marker"))
    return make._project(
        name, graph, description,
        DatasetSettings(name="long_memory", samples=3000, seed=0,
                        options={"length": MEMORY_LENGTH}),
        TrainingSettings(optimizer="adam", lr=0.005, batch_size=32, epochs=8, seed=0,
                         grad_clip=1.0))


def long_memory_rnn() -> Project:
    return _long_memory(
        "long_memory_rnn", ("RNN", {}),
        "Long memory: each sequence is 40 tokens a and b with one marker among the first "
        "five; the class is the token right after the marker, 34 to 38 tokens before the "
        "end. A plain RNN rewrites its state with every token, and the other tokens are a and "
        "b too, so it cannot learn to ignore them; the gradient that would teach it to hold "
        "the marked one fades over the distance. Accuracy stays at chance (50%), and in the "
        "Sequences panel its units change with every token. Compare with long_memory_lstm.")


def long_memory_lstm() -> Project:
    return _long_memory(
        "long_memory_lstm", ("LSTM", {"forget_bias": 3.0}),
        "The same task and settings with an LSTM: its input gate opens after the marker to "
        "store the token in the cell, and its forget gate (starting open: forget-gate bias 3) "
        "keeps it to the end, so it reaches nearly 100% within a few epochs. In the Sequences "
        "panel (Next lively unit) a unit switches at the marked token and holds its colour to "
        "the end. Compare with long_memory_rnn.")


def learning_rate_sweep() -> Project:
    make = _make()
    return make._project(
        "learning_rate_sweep", make._mlp(make.HOUSE_FEATURES, [64, 32], 1, "ReLU", "regression"),
        "The learning rate is the size of each step downhill. Train this network three times "
        "with the learning rate at 0.00001, 0.01 and 5, and compare the runs in Metrics: too "
        "low crawls (R^2 still below 0 after 10 epochs), 0.01 reaches about 0.94, and too "
        "high diverges within a few steps, which the run reports as its error.",
        DatasetSettings(name="house_prices", samples=2000, noise=0.1, seed=0),
        TrainingSettings(optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32, epochs=10,
                         seed=0))


EXAMPLES = {"vanishing_sigmoid": vanishing_sigmoid, "vanishing_relu": vanishing_relu,
            "overfit_plain": overfit_plain, "overfit_regularized": overfit_regularized,
            "long_memory_rnn": long_memory_rnn, "long_memory_lstm": long_memory_lstm,
            "learning_rate_sweep": learning_rate_sweep}
