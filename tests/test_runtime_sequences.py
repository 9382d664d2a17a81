"""Sequences (issue 5): SequenceReduce with padding masks, per-step layers, tagging and
forecasting heads, the sequence data sets and users' text and series files, the views'
runtime functions, and the examples reaching the issue's targets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from graph.model import Edge, Graph
from graph.settings import DatasetSettings
from resources.examples import make
from runtime import ops
from runtime import sequences as seq
from runtime.compile import compile_graph
from runtime.data import DataError, load_dataset
from runtime.datasets import sequences as data_seq
from runtime.heads import IGNORE, Head, Meter, TrainingFailed, forecast_baseline
from runtime.prepare import prepare
from runtime.shape_text import format_shape
from runtime.shapes import analyze

pytestmark = pytest.mark.usefixtures("warm_trainer")


def _connect(graph: Graph, *pairs) -> None:
    for src, dst, port in pairs:
        graph.connect(Edge(src.id, "out", dst.id, port))


def _reduce_graph(mode: str, masked: bool, length: int = 6) -> Graph:
    graph = Graph()
    tokens = graph.add_node("Input", {"shape": (length,), "dtype": "long"}, name="tokens")
    embed = graph.add_node("Embedding", {"num_embeddings": 10, "embedding_dim": 4}, name="embed")
    reduce = graph.add_node("SequenceReduce", {"mode": mode}, name="reduce")
    out = graph.add_node("Output", name="out")
    _connect(graph, (tokens, embed, "in"), (embed, reduce, "in"), (reduce, out, "in"))
    if masked:
        _connect(graph, (tokens, reduce, "mask"))
    return graph


# -- SequenceReduce and per-step layers ----------------------------------------------------------
def test_sequence_reduce_without_mask_reads_every_step():
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    assert torch.equal(ops.SequenceReduce("last")(x), x[:, -1])
    assert torch.allclose(ops.SequenceReduce("mean")(x), x.mean(1))
    assert torch.equal(ops.SequenceReduce("max")(x), x.amax(1))


def test_sequence_reduce_mask_leaves_padding_out():
    x = torch.tensor([[[1.0, -5.0], [3.0, -1.0], [100.0, 100.0], [100.0, 100.0]],
                      [[2.0, 2.0], [4.0, 0.0], [6.0, -2.0], [8.0, 9.0]]])
    tokens = torch.tensor([[7, 3, 0, 0], [1, 2, 3, 4]])
    mean = ops.SequenceReduce("mean")(x, tokens)
    assert torch.allclose(mean, torch.tensor([[2.0, -3.0], [5.0, 2.25]]))
    maximum = ops.SequenceReduce("max")(x, tokens)
    assert torch.equal(maximum, torch.tensor([[3.0, -1.0], [8.0, 9.0]]))
    last = ops.SequenceReduce("last")(x, tokens)
    assert torch.equal(last, torch.tensor([[3.0, -1.0], [8.0, 9.0]]))
    empty = ops.SequenceReduce("max")(x[:1], torch.zeros(1, 4, dtype=torch.long))
    assert torch.equal(empty, torch.zeros(1, 2))  # all padding: zeros, never -inf


@pytest.mark.parametrize("mode", ["last", "mean", "max"])
def test_sequence_reduce_compiles_with_a_token_mask(mode):
    graph = _reduce_graph(mode, masked=True)
    analysis = analyze(graph)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    reduce = graph.node_by_name("reduce")
    (edge,) = graph.out_edges(reduce.id)
    assert format_shape(analysis.shapes.edges[edge]) == "N x 4"
    compiled = compile_graph(graph)
    assert "self.reduce(embed, tokens)" in compiled.module.code
    padded = torch.tensor([[3, 4, 0, 0, 0, 0]])
    longer = torch.tensor([[3, 4, 0, 0, 0, 0], [3, 4, 5, 6, 0, 0]])
    # padding changes nothing: a sample's result is the same alone or next to a longer one
    assert torch.allclose(compiled.module(padded)[0], compiled.module(longer)[0])


def test_sequence_reduce_messages_name_the_node():
    graph = Graph()
    tokens = graph.add_node("Input", {"shape": (6,), "dtype": "long"}, name="tokens")
    reduce = graph.add_node("SequenceReduce", name="reduce")
    out = graph.add_node("Output", name="out")
    _connect(graph, (tokens, reduce, "in"), (reduce, out, "in"))
    (message,) = [d.message for d in analyze(graph).diagnostics]
    assert message.startswith("SequenceReduce 'reduce' expects a sequence N x L x F")
    assert "Embedding" in message

    graph = _reduce_graph("mean", masked=False)
    other = graph.add_node("Input", {"shape": (5,), "dtype": "long"}, name="other")
    _connect(graph, (other, graph.node_by_name("reduce"), "mask"))
    messages = [d.message for d in analyze(graph).diagnostics]
    assert any("SequenceReduce 'reduce'" in m and "6 steps" in m and "mask" in m
               for m in messages), messages


def test_per_step_linear_acts_on_the_last_dimension():
    graph = Graph()
    x = graph.add_node("Input", {"shape": (7, 3)}, name="x")
    lstm = graph.add_node("LSTM", {"hidden_size": 5, "bidirectional": True}, name="lstm")
    per_step = graph.add_node("Linear", {"out_features": 4}, name="per_step")
    out = graph.add_node("Output", {"task": "tagging"}, name="tags")
    _connect(graph, (x, lstm, "in"), (lstm, per_step, "in"), (per_step, out, "in"))
    analysis = analyze(graph)
    assert analysis.ok
    assert analysis.shapes.outputs[per_step.id]["out"] == (2, 7, 4)
    assert analysis.shapes.params[per_step.id] == 10 * 4 + 4  # one weight matrix for all steps
    compiled = compile_graph(graph)
    inputs = torch.randn(3, 7, 3)
    result = compiled.module(inputs)
    assert result.shape == (3, 7, 4)
    step = compiled.module.lstm(inputs)[0][:, 2]  # (out, h_n)
    assert torch.allclose(result[:, 2], compiled.module.per_step(step), atol=1e-6)


# -- heads ---------------------------------------------------------------------------------------
def test_tagging_ignores_unlabelled_steps():
    head = Head(1, "tags", "tagging")
    out = torch.tensor([[[5.0, 0.0], [0.0, 5.0], [9.0, -9.0]]])
    y = torch.tensor([[0, IGNORE, 1]])
    expected = torch.nn.functional.cross_entropy(out[0, [0, 2]], torch.tensor([0, 1]))
    assert torch.allclose(head.compute(out, y), expected)
    meter = Meter(head)
    meter.update(out, y, head.compute(out, y), 1)
    assert meter.metrics() == {"accuracy": 0.5}  # step 1 is not counted
    assert head.compute(out, torch.full((1, 3), IGNORE)).item() == 0.0


def test_tagging_mismatches_say_what_to_change():
    head = Head(1, "tags", "tagging")
    with pytest.raises(TrainingFailed, match="keep the recurrent layer's output 'sequence'"):
        head.compute(torch.zeros(2, 3), torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(TrainingFailed, match="one label per sample"):
        Head(1, "tags", "tagging").compute(torch.zeros(2, 5, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(TrainingFailed, match="has 4 tags; give the layer before it 4 outputs"):
        Head(1, "tags", "tagging").compute(torch.zeros(1, 2, 3), torch.tensor([[0, 3]]))


def test_forecasting_reports_mse_and_the_repeat_last_baseline():
    head = Head(1, "forecast", "forecasting")
    x = torch.tensor([[[0.0], [1.0], [2.0]], [[5.0], [4.0], [3.0]]])  # N x W x 1
    y = torch.tensor([[3.0, 4.0], [2.0, 1.0]])  # the next two values
    assert torch.equal(forecast_baseline(x, y), torch.tensor([[2.0, 2.0], [3.0, 3.0]]))
    out = y + 0.5
    meter = Meter(head)
    meter.update(out, y, head.compute(out, y, x), 2, x)
    metrics = meter.metrics()
    assert metrics["mse"] == pytest.approx(0.25)
    assert metrics["baseline_mse"] == pytest.approx((1 + 4 + 1 + 4) / 4)
    # two target features: the first two input features of the last step
    x3 = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    y3 = torch.zeros(2, 5, 2)
    base = forecast_baseline(x3, y3)
    assert base.shape == (2, 5, 2) and torch.equal(base[1, 4], x3[1, -1, :2])
    assert forecast_baseline((x3,), y3) is None
    meter = Meter(head)
    meter.update(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor(0.0), 2, None)
    assert "baseline_mse" not in meter.metrics()  # no inputs to repeat: no baseline


# -- data sets -----------------------------------------------------------------------------------
def test_future_context_tags_only_names_and_only_a_later_word_tells_the_role():
    bundle = load_dataset(DatasetSettings(name="future_context", samples=200, seed=3))
    assert bundle.input_dtype == "long" and bundle.input_shape == (16,)
    assert bundle.class_names == ["character", "actor"]
    assert len(bundle.vocabulary) == make.CONTEXT_VOCABULARY
    x, y = bundle.train[:][0].numpy(), bundle.train[:][1].numpy()
    words = np.array(bundle.vocabulary)[x]
    tagged = y != IGNORE
    assert tagged.any() and np.isin(words[tagged], data_seq.NAMES).all()
    for row, col in zip(*np.nonzero(tagged), strict=True):
        after = words[row, col + 1:]
        cue = next(w for w in after if w in data_seq.NOVEL_CUES + data_seq.FILM_CUES)
        assert y[row, col] == (0 if cue in data_seq.NOVEL_CUES else 1)
    # roles are balanced, and independent of the name itself
    assert 0.4 < y[tagged].mean() < 0.6


def test_sines_windows_and_series_split_by_series():
    settings = DatasetSettings(name="sines", samples=400, seed=1,
                               options={"window": 10, "horizon": 3, "length": 40})
    bundle = load_dataset(settings)
    assert bundle.input_shape == (10, 1)
    x, y = bundle.train[:]
    assert y.shape[1:] == (3,)
    # each target continues its window: consecutive windows of a series shift by one step
    assert torch.allclose(x[1, :-1, 0], x[0, 1:, 0]) and torch.allclose(y[0, 0], x[1, -1, 0])
    assert len(bundle.val_series) >= 1 and bundle.val_series[0].shape == (40, 1)
    assert bundle.window == 10 and bundle.horizon == 3
    assert abs(float(x.mean())) < 0.2  # standardized with training statistics


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_text_csv_tokenizes_pads_truncates_and_builds_the_vocabulary_from_training_rows(
        tmp_path):
    rows = ["text,label"] + [f"great phone {i % 3},good" for i in range(10)] + [
        "awful awful cable!,bad"] * 10 + ["Nice.,good"] * 5
    path = _write(tmp_path / "reviews.csv", "\n".join(rows) + "\n")
    settings = DatasetSettings(name="text_csv", path=path, val_split=0.2, seed=0,
                               options={"max_length": 3, "vocab_size": 7})
    bundle = load_dataset(settings)
    assert bundle.input_dtype == "long" and bundle.input_shape == (3,)
    assert bundle.class_names == ["bad", "good"]
    # padding, out-of-vocabulary, then by count (ties alphabetically)
    assert bundle.vocabulary == ["<pad>", "<oov>", "awful", "!", "cable", "great", "phone"]
    rows_seen = {tuple(bundle.decode(r, keep_padding=True)) for r in bundle.train[:][0].tolist()}
    assert ("awful", "awful", "cable") in rows_seen  # cut to 3 tokens, "!" lost
    assert ("<oov>", "<oov>", "<pad>") in rows_seen  # "nice" "." beyond the vocabulary, padded
    assert ("great", "phone", "<oov>") in rows_seen
    start = load_dataset(DatasetSettings(name="text_csv", path=path, seed=0,
                                         options={"max_length": 2, "truncate": "start"}))
    assert ("cable", "!") in {tuple(start.decode(r)) for r in start.train[:][0].tolist()}
    chars = load_dataset(DatasetSettings(name="text_csv", path=path, seed=0,
                                         options={"tokenizer": "char", "max_length": 8}))
    assert chars.tokenizer == "char" and chars.input_shape == (8,)
    assert all(len(t) == 1 for t in chars.vocabulary[2:]) and "n" in chars.vocabulary


def test_text_csv_vocabulary_ignores_validation_words(tmp_path):
    rows = ["text,label"] + [f"word{i} common,{'ab'[i % 2]}" for i in range(40)]
    path = _write(tmp_path / "t.csv", "\n".join(rows) + "\n")
    bundle = load_dataset(DatasetSettings(name="text_csv", path=path, val_split=0.25, seed=0))
    val_x = bundle.val[:][0]
    # each validation row's own word was never in training: it is the out-of-vocabulary token
    assert (val_x[:, 0] == data_seq.OOV).all() and (val_x[:, 1] != data_seq.OOV).all()


def test_text_csv_errors_name_the_file_and_field(tmp_path):
    path = _write(tmp_path / "n.csv", "a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"n\.csv: no text column.*text_column"):
        load_dataset(DatasetSettings(name="text_csv", path=path))
    path = _write(tmp_path / "e.csv", "text,label\nfine,\nok,x\n")
    with pytest.raises(DataError, match=r"e\.csv row 2, column 'label' is empty"):
        load_dataset(DatasetSettings(name="text_csv", path=path))
    path = _write(tmp_path / "o.csv", "text,label\nfine,a\nok,b\n")
    with pytest.raises(DataError, match="option 'tokenizer' must be one of word, char"):
        load_dataset(DatasetSettings(name="text_csv", path=path, options={"tokenizer": "bpe"}))


def test_series_csv_splits_by_time_and_puts_the_target_first(tmp_path):
    t = np.arange(60)
    rows = ["date,temp,load"] + [f"d{i},{20 + np.sin(i / 3):.4f},{i}" for i in t]
    path = _write(tmp_path / "s.csv", "\n".join(rows) + "\n")
    bundle = load_dataset(DatasetSettings(name="series", path=path, target_column="load",
                                          val_split=0.25, scaling="none",
                                          options={"window": 5, "horizon": 2}))
    assert bundle.feature_names == ["load", "temp"] and bundle.input_shape == (5, 2)
    x, y = bundle.train[:]
    assert y.shape[1:] == (2,)
    assert float(y.max()) <= 44  # training targets stay before step 45
    vx, vy = bundle.val[:]
    assert float(vy.min()) == 45.0 and float(vy.max()) == 59.0  # the last quarter
    assert float(vx[0, 0, 0]) == 40.0  # its first window reads the end of the training part
    assert torch.equal(forecast_baseline(vx, vy)[:, 0], vx[:, -1, 0])


def test_series_npz_and_messages(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, series=np.stack([np.arange(50.0), -np.arange(50.0)], 1))
    bundle = load_dataset(DatasetSettings(name="series", path=str(path), val_split=0.2,
                                          options={"window": 4}))
    assert bundle.input_shape == (4, 2) and bundle.val[:][1].shape[1:] == (1, 2)
    with pytest.raises(DataError, match="too few for a window of 45"):
        load_dataset(DatasetSettings(name="series", path=str(path), options={"window": 45}))
    bad = tmp_path / "b.npz"
    np.savez(bad, series=np.zeros((3, 4, 5)))
    with pytest.raises(DataError, match=r"b\.npz: array 'series' must be one series"):
        load_dataset(DatasetSettings(name="series", path=str(bad)))


def test_sentiment_reviews_ship_three_balanced_classes():
    bundle = load_dataset(make.sentiment_lstm().dataset)
    assert bundle.class_names == ["dissatisfied", "neutral", "satisfied"]
    assert len(bundle.train) + len(bundle.val) == 600
    assert len(bundle.vocabulary) <= make.REVIEW_VOCABULARY
    assert bundle.input_shape == (make.REVIEW_LENGTH,)
    counts = np.bincount(bundle.val[:][1].numpy())
    assert counts.tolist() == [40, 40, 40]
    from resources import make_sentiment_reviews

    rows = make_sentiment_reviews.reviews()
    assert len({text for text, _ in rows}) == 600  # the shipped file is what the script writes
    shipped = data_seq.REVIEWS.read_text(encoding="utf-8").splitlines()
    assert len(shipped) == 601 and shipped[0] == "text,label"


# -- examples and their targets ------------------------------------------------------------------
@pytest.mark.slow
def test_bidirectional_tagger_beats_the_one_directional_one_by_20_points(train_example):
    one_way = train_example("future_context_lstm", threads=1).best
    both_ways = train_example("future_context_bilstm", threads=1).best
    assert both_ways["val_accuracy"] >= 0.95
    assert one_way["val_accuracy"] <= 0.7
    assert both_ways["val_accuracy"] - one_way["val_accuracy"] >= 0.20


@pytest.fixture(scope="module")
def forecaster(train_example):
    project, _, best = train_example("sine_forecast_lstm", threads=1)
    compiled, data = prepare(project)
    return compiled, data, best


@pytest.mark.slow
def test_forecasting_mse_is_at_most_half_the_baseline(forecaster):
    _, _, best = forecaster
    assert best["val_mse"] <= 0.5 * best["val_baseline_mse"]


@pytest.mark.slow
def test_forecast_view_draws_predictions_against_the_series(forecaster):
    compiled, data, _ = forecaster
    view = seq.forecast(compiled, data, series=0)
    assert view.actual.shape == view.predicted.shape == (100,)
    assert np.isnan(view.predicted[:24]).all() and not np.isnan(view.predicted[24:]).any()
    assert view.mse < 0.5 * view.baseline_mse
    raw = data.val_series[0][:, 0] * data.target_scale[0] + data.target_offset[0]
    assert np.allclose(view.actual, raw)
    ahead = seq.forecast(compiled, data, series=1, steps_ahead=4)
    assert np.isnan(ahead.predicted[:27]).all()
    with pytest.raises(ValueError, match="steps ahead must be from 1 to the horizon, 4"):
        seq.forecast(compiled, data, steps_ahead=5)


@pytest.fixture(scope="module")
def sentiment(train_example):
    project, _, best = train_example("sentiment_lstm", threads=1)
    compiled, data = prepare(project)
    return compiled, data, best


def test_sentiment_lstm_reads_the_reviews(sentiment):
    _, _, best = sentiment
    assert best["val_accuracy"] >= 0.85


def test_token_activations_colour_units_over_the_words(sentiment):
    compiled, data, _ = sentiment
    nodes = seq.sequence_nodes(compiled)
    assert [(name, units) for _, name, units in nodes] == [("embed", 32), ("lstm", 32)]
    lstm = compiled.graph.node_by_name("lstm").id
    view = seq.token_activations(compiled, data, lstm, samples=[0, 5])
    assert view.indices == [0, 5] and view.units == 32
    for tokens, values, index in zip(view.tokens, view.values, [0, 5], strict=True):
        ids = data.val[index][0]
        assert tokens == data.decode(ids.tolist())  # padding dropped
        assert values.shape == (len(tokens), 32)
        assert np.abs(values).max() <= 1.0  # LSTM outputs are tanh-bounded
    assert sorted(view.ranked_units) == list(range(32))
    assert view.labels[0] in data.class_names and view.predicted[0] in data.class_names
    reduce = compiled.graph.node_by_name("mean_over_words").id
    with pytest.raises(ValueError, match="not one vector per step"):
        seq.token_activations(compiled, data, reduce)


def test_metrics_jsonl_carries_the_issue_keys(tmp_path):
    from graph.project import save_project
    from main import main as cli_main

    project = make.build("future_context_bilstm")
    source = tmp_path / "f.plexus"
    save_project(project, source)
    metrics = tmp_path / "m.jsonl"
    code = cli_main(["train", str(source), "--epochs", "1", "--metrics-jsonl", str(metrics),
                     "--output", str(tmp_path / "out.plexus")])
    assert code == 0
    (line,) = metrics.read_text().splitlines()
    event = json.loads(line)
    assert 0.0 <= event["val_accuracy"] <= 1.0 and "train_accuracy" in event


def test_lstm_forget_bias_starts_the_forget_gates_open():
    """forget_bias sets the forget gates' summed bias (input, forget, cell, output order) in
    every layer and direction, and leaves the other gates as torch initialised them."""
    graph = Graph()
    words = graph.add_node("Input", {"shape": [12], "dtype": "long"}, name="words")
    embed = graph.add_node("Embedding", {"num_embeddings": 10, "embedding_dim": 4})
    lstm = graph.add_node("LSTM", {"hidden_size": 6, "num_layers": 2, "bidirectional": True,
                                   "output": "last", "forget_bias": 1.0}, name="memory")
    plain = graph.add_node("LSTM", {"hidden_size": 6, "output": "last"}, name="plain")
    for src, dst in ((words, embed), (embed, lstm), (embed, plain)):
        graph.connect(Edge(src.id, "out", dst.id, "in"))
    for src, name in ((lstm, "a"), (plain, "b")):
        out = graph.add_node("Output", {"task": "classification"}, name=name)
        graph.connect(Edge(src.id, "out", out.id, "in"))
    compiled = compile_graph(graph)
    rnn = compiled.module.get_submodule(compiled.module_names[lstm.id]).rnn
    biases = {name: p for name, p in rnn.named_parameters() if name.startswith("bias")}
    assert len(biases) == 8  # ih and hh, 2 layers, 2 directions
    for name, bias in biases.items():
        want = 1.0 if name.startswith("bias_ih") else 0.0
        assert torch.equal(bias[6:12], torch.full((6,), want)), name
        assert bias[:6].abs().sum() > 0 and bias[12:].abs().sum() > 0  # untouched
    default = compiled.module.get_submodule(compiled.module_names[plain.id]).rnn
    assert default.bias_hh_l0[6:12].abs().sum() > 0  # 0: torch's own initialisation
