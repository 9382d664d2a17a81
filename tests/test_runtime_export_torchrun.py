"""Exported training scripts of the representative hard cases (a GAN, several heads, an
anomaly detector) train under ``torchrun --nproc_per_node 2`` (gloo) and print the metrics
Plexus reports, within 3 points of Plexus' own training from the same weights.
``benchmarks/torchrun_examples.py`` runs the same comparison over every example."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def _benchmark():
    """benchmarks/torchrun_examples.py, imported (registered: its dataclass needs that)."""
    spec = importlib.util.spec_from_file_location("torchrun_examples",
                                                  ROOT / "benchmarks" / "torchrun_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name, epochs, judged", [
    ("digits_multitask", None, {"accuracy", "accuracy/digit", "accuracy/even"}),
    ("autoencoder_anomaly_digits", None, {"roc_auc"}),
    ("gan_digits", 3, {"sample_diversity"}),
])
def test_script_under_torchrun_reports_what_plexus_reports(name, epochs, judged, tmp_path):
    bench = _benchmark()
    row = bench.compare(name, epochs, tmp_path)
    assert not row.error, row.error
    assert set(row.points) == judged, row
    assert row.ok, f"{name}: script {row.script}, Plexus {row.plexus}, points {row.points}"


def test_differences_are_in_points() -> None:
    bench = _benchmark()
    assert bench.script_metrics(
        "epoch 2/2 ...\nbest epoch 2: val loss 0.5, val accuracy 0.9, val accuracy/even 0.75; "
        "saved a.safetensors\n") == {"loss": 0.5, "accuracy": 0.9, "accuracy/even": 0.75}
    assert bench.script_metrics("best epoch 3: d_loss 1.2, modes 8, modes_covered 6; saved x"
                                ) == {"d_loss": 1.2, "modes": 8.0, "modes_covered": 6.0}
    assert bench.differences({"accuracy": 0.9}, {"accuracy": 0.92}) == pytest.approx(
        {"accuracy": 2.0})
    forecast = bench.differences({"mse": 0.2, "baseline_mse": 0.8},
                                 {"mse": 0.3, "baseline_mse": 1.0})
    assert forecast == pytest.approx({"mse": 5.0})  # 0.25 against 0.3 of the baseline
    assert bench.differences({"modes_covered": 6.0}, {"modes": 8.0, "modes_covered": 7.0}
                             ) == pytest.approx({"modes_covered": 12.5})
    assert bench.differences({"mse": 0.0412}, {"mse": 0.04}) == pytest.approx({"mse": 3.0})
    assert bench.differences({"mse": 0.5, "roc_auc": 0.9}, {"mse": 0.4, "roc_auc": 0.91}
                             ) == pytest.approx({"roc_auc": 1.0})
