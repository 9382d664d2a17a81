"""The experiment templates show their effect, measured as the issue states it: vanishing
gradients (grad_ratio), overfitting and regularisation (the validation-training loss gap),
long memory (LSTM against a plain RNN) and learning rates (too low crawls, too high fails
with a message)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resources.examples import make
from runtime.datasets.core import DataError
from runtime.session import run_training

ROOT = Path(__file__).resolve().parents[1]


def test_the_gradient_ratio_option_is_declared_and_off_by_default():
    from graph.settings import TRAINING_OPTIONS

    assert TRAINING_OPTIONS["gradient_ratio"].param.default is False
    assert make.build("vanishing_sigmoid").training.options == {"gradient_ratio": True}
    assert make.build("digits_cnn").training.options.get("gradient_ratio") is None


@pytest.mark.slow
def test_sigmoids_make_the_gradient_vanish_and_relu_learns(tmp_path):
    """The first layer's share of the gradient is at least 10,000 times smaller with sigmoids,
    which stay near chance while ReLU learns; --metrics-jsonl carries grad_ratio."""
    records = {}
    for name in ("vanishing_sigmoid", "vanishing_relu"):
        out = tmp_path / f"{name}.jsonl"
        done = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "train", str(make.path(name)), "-o",
             str(tmp_path / f"{name}.plexus"), "--metrics-jsonl", str(out)],
            capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        records[name] = [json.loads(line) for line in out.read_text().splitlines()]
    sigmoid, relu = records["vanishing_sigmoid"], records["vanishing_relu"]
    assert len(sigmoid) == len(relu) == 20
    assert sigmoid[0]["grad_ratio"] < 1e-6
    assert sigmoid[0]["grad_ratio"] * 1e4 <= relu[0]["grad_ratio"]
    assert max(r["val_accuracy"] for r in sigmoid) < 0.2  # ten classes: chance is 0.1
    assert relu[-1]["val_accuracy"] >= 0.75


@pytest.mark.slow
def test_dropout_and_weight_decay_halve_the_overfitting_gap():
    gaps = {}
    for name in ("overfit_plain", "overfit_regularized"):
        result = run_training(make.build(name))
        assert result.status == "completed", result.message
        last = result.epochs[-1]
        gaps[name] = last["val_loss"] - last["train_loss"]
    assert gaps["overfit_plain"] > 0.5  # the validation loss climbs away
    assert gaps["overfit_regularized"] <= gaps["overfit_plain"] / 2


@pytest.mark.slow
def test_too_low_a_learning_rate_crawls_and_too_high_fails_with_a_message():
    results = {}
    for lr in (0.00001, 0.01, 5.0):
        project = make.build("learning_rate_sweep")
        project.training.lr = lr
        results[lr] = run_training(project)
    assert results[0.00001].status == "completed"
    assert results[0.00001].epochs[-1]["val_r2"] < 0.2
    assert results[0.01].epochs[-1]["val_r2"] >= 0.9
    high = results[5.0]
    assert high.status == "failed"
    assert "lower the learning rate (now 5)" in high.message


def test_the_long_memory_class_is_the_token_after_the_marker_far_back():
    from graph.settings import DatasetSettings
    from resources.examples.experiments import MEMORY_LENGTH, MEMORY_TOKENS
    from runtime.data import load_dataset
    from runtime.datasets.long_memory import MARK, VOCABULARY

    project = make.build("long_memory_lstm")
    bundle = load_dataset(project.dataset)
    assert len(bundle.vocabulary) == len(VOCABULARY) == MEMORY_TOKENS
    tokens, classes = bundle.train.tensors
    assert tuple(tokens.shape) == (2400, MEMORY_LENGTH) and len(bundle.val) == 600
    assert (tokens == MARK).sum(dim=1).eq(1).all()  # one marker per sequence
    marker_at = (tokens == MARK).int().argmax(dim=1)
    assert int(marker_at.max()) == 4  # among the first five: 34+ tokens follow the answer
    after = tokens[torch.arange(len(tokens)), marker_at + 1]
    assert torch.equal(after - 1, classes)  # a is class 0, b class 1
    assert abs(float(classes.float().mean()) - 0.5) < 0.05
    assert set(bundle.decode(tokens[0].tolist())) == {"a", "b", "mark"}
    with pytest.raises(DataError, match="'marker_within' \\(9\\) must leave a token after the "
                                        "marker: at most length - 1 \\(8\\)"):
        load_dataset(DatasetSettings(name="long_memory", samples=10,
                                     options={"length": 9, "marker_within": 9}))


def test_the_long_memory_pair_differs_only_in_the_recurrent_layer():
    rnn, lstm = make.build("long_memory_rnn"), make.build("long_memory_lstm")
    assert rnn.training == lstm.training and rnn.dataset == lstm.dataset
    types = {p.name: sorted(n.type for n in p.graph.nodes.values()) for p in (rnn, lstm)}
    assert types["long_memory_rnn"] == ["Embedding", "Input", "Linear", "Output", "RNN",
                                        "SequenceReduce"]
    assert types["long_memory_lstm"] == ["Embedding", "Input", "LSTM", "Linear", "Output",
                                         "SequenceReduce"]


@pytest.mark.slow
def test_an_lstm_remembers_a_token_34_steps_back_and_a_plain_rnn_stays_at_chance():
    """Three of the templates' eight epochs are enough to show it: the LSTM is at 1.0 from
    the third (0.99 at the second); the RNN stays within 0.47-0.54 over all eight."""
    accuracies = {}
    for name in ("long_memory_rnn", "long_memory_lstm"):
        project = make.build(name)
        project.training.epochs = 3
        result = run_training(project)
        assert result.status == "completed", result.message
        accuracies[name] = [epoch["val_accuracy"] for epoch in result.epochs]
    assert accuracies["long_memory_lstm"][-1] >= 0.9
    assert max(accuracies["long_memory_rnn"]) <= 0.65


def test_the_long_memory_lesson_ticks_on_the_lstm_and_not_on_the_rnn():
    """Its steps tick on scripted states: the RNN's run at chance, then the LSTM of
    long_memory_lstm in its place, trained a second time, at 1.0, then the Sequences tab."""
    from graph.lesson_checks import LessonState, holds
    from graph.lessons import load_lesson

    lesson = load_lesson(ROOT / "resources" / "lessons" / "long_memory.json")
    assert lesson.template == "long_memory_rnn"
    at_chance, gates, remembered, memory_seen = (step.check for step in lesson.steps[1:])
    rnn, lstm = make.build("long_memory_rnn").graph, make.build("long_memory_lstm").graph

    def run(accuracy: float) -> dict:
        return {"status": "completed", "epochs": [{"val_accuracy": accuracy}]}

    assert holds(at_chance, LessonState(graph=rnn, runs=[run(0.5)]))
    assert not holds(at_chance, LessonState(graph=rnn, runs=[run(0.95)]))
    assert holds(gates, LessonState(graph=lstm, runs=[run(0.5), run(1.0)]))
    assert not holds(gates, LessonState(graph=rnn, runs=[run(0.5), run(0.5)]))
    assert not holds(gates, LessonState(graph=lstm, runs=[run(0.5)]))  # not trained again
    lstm.nodes[next(n.id for n in lstm.nodes.values() if n.type == "LSTM")].params[
        "forget_bias"] = 0.0
    assert not holds(gates, LessonState(graph=lstm, runs=[run(0.5), run(1.0)]))
    assert holds(remembered, LessonState(graph=lstm, runs=[run(0.5), run(1.0)]))
    assert not holds(remembered, LessonState(graph=lstm, runs=[run(0.5), run(0.6)]))
    assert holds(memory_seen, LessonState(graph=lstm, visible_panels=frozenset({"sequences"})))
    assert not holds(memory_seen, LessonState(graph=lstm, visible_panels=frozenset({"metrics"})))
