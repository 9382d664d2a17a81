"""The command line, run as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graph.model import Edge
from graph.project import load_project, save_project
from resources.examples import make

ROOT = Path(__file__).resolve().parents[1]


def plexus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_validate_valid_example():
    result = plexus("validate", str(make.path("digits_cnn")))
    assert result.returncode == 0, result.stderr
    assert "digits_cnn.plexus: valid" in result.stdout


def test_validate_invalid_project_names_the_node(tmp_path):
    project = make.build("xor_mlp")
    logits = project.graph.node_by_name("logits")
    edge = project.graph.in_edges(logits.id)[0]
    project.graph.disconnect(edge)
    path = tmp_path / "broken.plexus"
    save_project(project, path)
    result = plexus("validate", str(path))
    assert result.returncode == 1
    assert "Linear 'logits'" in result.stdout
    assert "invalid" in result.stdout


def test_unreadable_file_is_one_line_exit_2(tmp_path):
    path = tmp_path / "junk.plexus"
    path.write_bytes(b"not a zip at all")
    for command in ("validate", "info", "train"):
        result = plexus(command, str(path))
        assert result.returncode == 2, command
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "junk.plexus" in lines[0]


def test_missing_file_is_reported():
    result = plexus("info", "no/such/file.plexus")
    assert result.returncode == 2
    assert "file.plexus" in result.stderr and "Traceback" not in result.stderr


def test_info_lists_layers_shapes_and_params():
    result = plexus("info", str(make.path("digits_cnn")))
    assert result.returncode == 0, result.stderr
    assert "conv1 (Conv2d)" in result.stdout
    assert "N x 16 x 8 x 8" in result.stdout
    assert "160" in result.stdout  # conv1: 16 * 1 * 3 * 3 + 16
    assert "Total trainable parameters:" in result.stdout


@pytest.mark.slow
def test_train_writes_project_and_metrics(tmp_path):
    out = tmp_path / "trained.plexus"
    metrics = tmp_path / "metrics.jsonl"
    result = plexus("train", str(make.path("xor_mlp")), "--epochs", "3", "--device", "cpu",
                    "-o", str(out), "--metrics-jsonl", str(metrics))
    assert result.returncode == 0, result.stderr
    assert "accelerate: off (" in result.stderr  # an MLP gains nothing from bf16
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    for record in records:
        assert {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"} <= set(record)
    trained = load_project(out)
    assert trained.weights
    assert len(trained.history) == 1 and len(trained.history[0]["epochs"]) == 3


@pytest.mark.slow
def test_train_regression_reports_r2(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    result = plexus("train", str(make.path("house_prices_mlp")), "--epochs", "1",
                    "-o", str(tmp_path / "h.plexus"), "--metrics-jsonl", str(metrics))
    assert result.returncode == 0, result.stderr
    assert "val_r2" in json.loads(metrics.read_text().splitlines()[0])


def test_train_invalid_project_fails_cleanly(tmp_path):
    project = make.build("xor_mlp")
    project.graph.connect(Edge(project.graph.node_by_name("act1").id, "out",
                               project.graph.add_node("Linear").id, "in"))
    project.graph.remove_node(project.graph.nodes_of_type("Input")[0].id)
    path = tmp_path / "bad.plexus"
    save_project(project, path)
    result = plexus("train", str(path), "--epochs", "1", "--in-place")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_attack_prints_json_and_refuses_untrained(tmp_path):
    out = tmp_path / "xor.plexus"
    assert plexus("train", str(make.path("xor_mlp")), "--epochs", "20", "-o", str(out)
                  ).returncode == 0
    result = plexus("attack", str(out), "--method", "pgd", "--eps", "0.3", "--steps", "5",
                    "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["method"] == "pgd" and record["eps"] == 0.3 and record["n"] > 0
    assert record["adversarial_accuracy"] <= record["clean_accuracy"]
    untrained = plexus("attack", str(make.path("xor_mlp")), "--eps", "0.1")
    assert untrained.returncode == 1
    assert "no trained weights" in untrained.stderr and "Traceback" not in untrained.stderr
    ranged = plexus("attack", str(out), "--eps", "0.3", "--range", "-0.2", "0.2", "--json")
    assert ranged.returncode == 0, ranged.stderr
    assert json.loads(ranged.stdout.strip().splitlines()[-1])["value_range"] == [-0.2, 0.2]
    backwards = plexus("attack", str(out), "--eps", "0.1", "--range", "1", "0")
    assert backwards.returncode == 1
    assert backwards.stderr.strip() == ("plexus: --range 1 0: the low end must be below the "
                                        "high end")
