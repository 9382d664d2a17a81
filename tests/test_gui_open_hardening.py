"""The editor's open path on hostile files (issue 15): a notice naming the layers that start
fresh, damaged weights dropped before any panel meets them, stale save files removed, and a
dataset preview that builds only what it shows."""

from __future__ import annotations

import os
import time

import pytest
import torch
from hostile_files import project_zip, safetensors_bytes, valid_json
from PySide6.QtWidgets import QMessageBox

from graph import limits
from graph.settings import DatasetSettings
from gui.dataset_preview import dataset_preview
from runtime.compile import weights_to_bytes


@pytest.fixture
def window(make_window):
    """An interactive window: its notices go to QMessageBox, which the tests capture."""
    return make_window(restore_layout=False)


def capture_warnings(monkeypatch) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda parent, title, text, *a, **k: shown.append((title, text)))
    return shown


def test_wrong_shapes_are_announced_on_open(window, tmp_path, monkeypatch):
    shown = capture_warnings(monkeypatch)
    tensors = {"2.weight": torch.zeros(7, 7), "2.bias": torch.zeros(2),
               "4.weight": torch.zeros(3, 8), "4.bias": torch.zeros(3)}
    path = project_zip(tmp_path / "wrong.plexus", valid_json(), weights_to_bytes(tensors))
    assert window.open_project(path, ask=False)
    assert len(shown) == 1 and shown[0][0] == "Some layers start fresh"
    assert shown[0][1].startswith("wrong.plexus: conv1 starts fresh, because the saved "
                                  "weights do not fit (conv1: weight is 7x7 but the layer has "
                                  "2x1x3x3; it will start fresh)")
    assert window.weights_notice == shown[0][1]
    assert window.project.weights is not None  # the fitting layers keep their training
    assert not window.is_modified()


def test_damaged_weights_are_dropped_with_a_notice(window, tmp_path, monkeypatch):
    shown = capture_warnings(monkeypatch)
    header = {"2.weight": {"dtype": "F32", "shape": [1_000_000, 1_000_000],
                           "data_offsets": [0, 8]}}
    path = project_zip(tmp_path / "bad.plexus", valid_json(), safetensors_bytes(header, bytes(8)))
    assert window.open_project(path, ask=False)
    assert "every layer starts fresh" in shown[0][1]
    assert window.project.weights is None  # no panel meets the damaged bytes
    assert window.is_modified()  # saving would change the file: say so in the title


def test_fitting_weights_open_quietly(window, tmp_path, monkeypatch):
    shown = capture_warnings(monkeypatch)
    path = project_zip(tmp_path / "fine.plexus")
    assert window.open_project(path, ask=False)
    assert shown == [] and window.weights_notice == ""


def test_open_removes_stale_temps_beside_the_file(window, tmp_path):
    path = project_zip(tmp_path / "fine.plexus")
    stale, young = tmp_path / ".fine.plexus.0123abcd.tmp", tmp_path / ".fine.plexus.aa.tmp"
    for leftover in (stale, young):
        leftover.write_bytes(b"half a save")
        os.utime(leftover, (time.time() - 120, time.time() - 120))
    assert window.open_project(path, ask=False)
    assert not stale.exists() and young.exists()  # only the exact pattern is removed


def test_preview_builds_a_bounded_sample_of_a_large_generated_set():
    """The issue's case: 50,000 shapes made the editor build all of them (3 GB) for the
    preview; now it builds PREVIEW_SAMPLES and reports the full set's split sizes."""
    start = time.perf_counter()
    data = dataset_preview(DatasetSettings(name="shapes", samples=50_000, val_split=0.2))
    assert time.perf_counter() - start < 10
    assert (data["train"], data["val"], data["sampled_from"]) == (40_000, 10_000, 50_000)
    assert len(data["x"]) == 12 and data["x"][0].shape == (1, 32, 32)
    small = dataset_preview(DatasetSettings(name="xor", samples=300, val_split=0.2))
    assert (small["train"], small["val"], small["sampled_from"]) == (240, 60, 0)


def test_preview_of_a_set_that_is_not_one_item_per_sample():
    """Few-shot shapes keep fewer training images than samples: without building the full set
    the split sizes are unknown, so the preview says how many samples there are."""
    settings = DatasetSettings(name="shapes", samples=limits.PREVIEW_SAMPLES + 1,
                               options={"train_per_class": 3})
    data = dataset_preview(settings)
    assert (data["train"], data["val"]) == (None, None)
    assert data["sampled_from"] == limits.PREVIEW_SAMPLES + 1
