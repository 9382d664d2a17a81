"""Live panels redraw into the plot items they made once: fifty epochs of payloads leave the
same items in every view (no clear() and re-add per render), and a long loss curve is
downsampled on screen. Payloads are small and scripted: no training."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

RENDERS = 50
CLASSES = 10


def shown(qtbot, panel, size=(900, 320)):
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def render_epochs(panel, payload_at) -> None:
    for epoch in range(1, RENDERS + 1):
        panel.submit(payload_at(epoch))
        panel.flush()


def view_items(panel) -> dict[int, list[int]]:
    """Every pyqtgraph view of ``panel``: id(view box) -> ids of the items in it."""
    import pyqtgraph as pg

    views = {}
    for widget in panel.findChildren(pg.GraphicsView):
        for item in widget.scene().items():
            if isinstance(item, pg.ViewBox):
                views[id(item)] = [id(child) for child in item.addedItems]
    return views


def confusion_payload(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    matrix = rng.integers(0, 20, (CLASSES, CLASSES)) + np.eye(CLASSES, dtype=int) * 30
    rows = matrix.sum(1)
    wrong = [{"index": int(i), "true": int(i % CLASSES), "pred": int((i + 1) % CLASSES),
              "confidence": 0.9 - 0.01 * i} for i in range(6)]
    return {"probe": "confusion", "epoch": epoch, "matrix": matrix,
            "class_names": [str(c) for c in range(CLASSES)], "samples": int(matrix.sum()),
            "accuracy": float(np.trace(matrix) / matrix.sum()),
            "per_class_accuracy": (np.diag(matrix) / rows).astype(np.float32),
            "wrong": wrong, "wrong_inputs": rng.random((6, 1, 8, 8), np.float32)}


def histograms_payload(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    nodes = {}
    for node_id, name in ((3, "conv1"), (7, "fc1"), (9, "logits")):
        counts, edges = np.histogram(rng.normal(0, 1 / epoch, 500), bins=30)
        grads = np.histogram(rng.normal(0, 0.01, 500), bins=30)
        nodes[node_id] = {"name": name, "params": 500, "weight_norm": 1.0 + epoch / 10,
                          "grad_norm": 0.01 * epoch, "weights": (counts, edges),
                          "grads": grads, "nonfinite": 0}
    return {"probe": "histograms", "epoch": epoch, "nodes": nodes}


def activations_payload(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    probs = rng.dirichlet(np.ones(CLASSES)).astype(np.float32)
    return {"probe": "activations", "epoch": epoch, "val_index": 0, "label": 3,
            "predicted": int(probs.argmax()), "probabilities": probs, "outputs": {},
            "nodes": {2: {"kind": "maps", "name": "conv1", "shape": (16, 8, 8),
                          "channels": 16, "maps": rng.random((16, 8, 8), np.float32)}}}


def hidden_payload(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    return {"probe": "hidden", "epoch": epoch, "node_id": 11, "name": "fc1",
            "points": rng.normal(size=(200, 2)).astype(np.float32),
            "labels": rng.integers(0, CLASSES, 200), "explained_variance": [0.3, 0.2],
            "method": "pca", "dims": 64}


def filters_payload(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    return {"probe": "filters", "epoch": epoch, "kind": "conv", "node_id": 2, "name": "conv1",
            "layer_type": "Conv2d", "param": "weight", "shape": (16, 1, 3, 3),
            "in_channels": 1, "out_channels": 16,
            "kernels": rng.normal(size=(16, 3, 3)).astype(np.float32)}


@pytest.mark.parametrize(("module", "name", "payload_at"), [
    ("filters", "FiltersPanel", filters_payload),
    ("confusion", "ConfusionPanel", confusion_payload),
    ("histograms", "HistogramsPanel", histograms_payload),
    ("activations", "ActivationsPanel", activations_payload),
    ("boundary", "BoundaryPanel", hidden_payload),
])
def test_fifty_renders_reuse_the_items_of_the_first(qtbot, module, name, payload_at):
    import importlib

    panel = shown(qtbot, getattr(importlib.import_module(f"gui.panels.{module}"), name)())
    panel.submit(payload_at(0 + 1))
    panel.flush()
    assert not panel.is_empty
    first = view_items(panel)
    assert sum(len(items) for items in first.values()) >= 2
    render_epochs(panel, payload_at)
    assert panel.redraws == RENDERS + 1
    assert view_items(panel) == first  # the same items, in the same views, none added


def test_confusion_refills_its_wrong_cards_only_when_they_change(qtbot):
    from gui.panels.confusion import ConfusionPanel

    panel = shown(qtbot, ConfusionPanel(), (1000, 330))
    panel.submit(confusion_payload(1))
    panel.flush()
    cards = list(panel.wrong_cards)
    assert len(cards) == 6
    captions = [card.caption.text() for card in cards]
    refilled = []  # cards whose caption was set again (each new text re-lays out the cards)
    redrawn = []  # cards given a new picture
    for index, card in enumerate(cards):
        card.caption.setText = lambda text, i=index, label=card.caption: (
            refilled.append(i), type(label).setText(label, text))
        card.picture.setPixmap = lambda pixmap, i=index: redrawn.append(i)
    changed = confusion_payload(2)
    changed["wrong"][0] = {**changed["wrong"][0], "pred": 7, "confidence": 0.55}
    for item in changed["wrong"][1:]:  # the same confidence to a whole per cent
        item["confidence"] += 0.001
    panel.submit(changed)
    panel.flush()
    assert all(a is b for a, b in zip(panel.wrong_cards, cards, strict=True))
    assert refilled == [0]  # the five unchanged cards were left alone
    assert redrawn == []  # the same samples: no picture is set again
    assert ">7<" in cards[0].caption.text() and "55%" in cards[0].caption.text()
    assert [card.caption.text() for card in cards[1:]] == captions[1:]


def test_an_axis_given_the_same_names_keeps_its_picture(qapp):
    from gui.panels.plot_items import IndexAxis

    axis = IndexAxis("left")
    axis.set_names(3, ["a", "b", "c"])
    axis.picture = marker = object()  # stands for the drawn picture
    axis.set_names(3, ["a", "b", "c"])
    assert axis.picture is marker
    axis.set_names(3, ["a", "b", "d"])
    assert axis.picture is None and axis.names == ["a", "b", "d"]


def test_a_long_loss_curve_is_downsampled_on_screen(qtbot):
    from gui.panels.metrics import MetricsPanel

    panel = shown(qtbot, MetricsPanel(), (1200, 300))
    panel.live = True
    points = 10_000
    x = np.arange(points) / 100.0  # 100 steps an epoch, 100 epochs
    panel.current.spe = 100.0
    panel.current.steps.extend(x, 1.0 / (1.0 + x) + 0.01 * np.sin(np.arange(points)))
    panel._mark_dirty()
    panel.redraw()
    curve = panel.curves["train_step"]
    assert len(panel.curve_data("train_step")[0]) == points  # all the data is kept
    assert curve.opts["autoDownsample"] and curve.opts["downsampleMethod"] == "peak"
    assert curve.opts["clipToView"]
    width = panel.loss_plot.getViewBox().width()
    assert 50 < width < 1200
    shown_x, _shown_y = curve.getData()  # what is drawn
    assert len(shown_x) <= 2 * width + 4  # one min-max pair per pixel column, not 10,000
    assert shown_x.min() <= 1.0 and shown_x.max() >= 99.0  # over the whole run


def test_a_settled_range_moves_only_when_the_data_leaves_it_or_shrinks_well_inside(qapp):
    import pyqtgraph as pg

    from gui.panels.plot_widgets import settle_range

    plot = pg.PlotItem()
    plot.disableAutoRange()
    assert settle_range(plot, "x", 0.0, 10.0, pad=0.1)  # -1..11 out to multiples of 2
    assert plot.getViewBox().viewRange()[0] == pytest.approx([-2.0, 12.0])
    assert not settle_range(plot, "x", 0.5, 11.5, pad=0.1)  # drifted inside: axes stay
    assert plot.getViewBox().viewRange()[0] == pytest.approx([-2.0, 12.0])
    assert settle_range(plot, "x", 0.0, 13.0, pad=0.1)  # left it: grows at once
    assert plot.getViewBox().viewRange()[0] == pytest.approx([-2.0, 16.0])
    assert settle_range(plot, "x", 2.0, 4.0, pad=0.1)  # 2 of 18 shown: shrinks
    assert plot.getViewBox().viewRange()[0] == pytest.approx([1.8, 4.2])
    assert not settle_range(plot, "y", float("nan"), 1.0)


def test_the_accuracy_axis_stays_while_accuracy_creeps_up(qtbot):
    from gui.panels.metrics import MetricsPanel
    from runtime.events import Epoch, Started

    panel = shown(qtbot, MetricsPanel(), (1200, 300))
    panel.on_started(Started(device="cpu", epochs=5, steps_per_epoch=10, params=1, samples=1,
                             val_samples=1))
    ranges = []
    for epoch, accuracy in enumerate((0.80, 0.90, 0.91, 0.92), start=1):
        panel.on_epoch(Epoch(epoch=epoch, metrics={"train_loss": 1 / epoch,
                                                   "val_loss": 1 / epoch,
                                                   "train_accuracy": accuracy,
                                                   "val_accuracy": accuracy - 0.02}))
        panel.redraw()
        ranges.append(panel.metric_plot.getViewBox().viewRange()[1])
    assert ranges[0][0] < 78.0 and ranges[0][1] > 80.0
    assert ranges[1][1] > 90.0  # left the range: grown at once
    assert ranges[3] == ranges[2] == ranges[1]  # 91% and 92% fit: the axis stays
    assert list(panel.curve_data("val_metric")[1]) == pytest.approx([78.0, 88.0, 89.0, 90.0])
