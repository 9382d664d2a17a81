"""Hostile inputs the acceptance sweep (benchmarks/hostile_files.py) found still failing
(issue 15): an ONNX initializer with no data, panel jobs whose expected errors printed
tracebacks, and the probe monitor building a large generated set whole in the editor."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.settings import DatasetSettings
from gui.tasks import TaskRunner, is_expected
from runtime.datasets.core import DataError
from runtime.importer import ModelImportError, import_file


def huge_onnx(path: Path) -> Path:
    """A MatMul whose initializer declares 1,000,000 x 1,000,000 floats and holds none."""
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1_000_000, 1_000_000])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1_000_000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1_000_000])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.write_bytes(model.SerializeToString())
    return path


def test_an_onnx_initializer_without_its_data_is_one_line(tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(ModelImportError) as info:
        import_file(huge_onnx(tmp_path / "huge.onnx"))
    assert str(info.value).startswith(
        "cannot import huge.onnx: initializer 'w' declares 1,000,000 x 1,000,000 values but "
        "its data does not hold them (cannot reshape array of size 0")
    assert str(info.value).endswith("the file is damaged") and "\n" not in str(info.value)


@pytest.mark.parametrize("exc, expected", [
    (ValueError("Input 'x' has shape 1, 4, 4"), True), (DataError("photos/a/0.png: big"), True),
    (OSError("disk"), True), (MemoryError(), True), (TypeError("a bug"), False),
    (KeyError("a bug"), False)])
def test_only_unexpected_failures_are_bugs(exc, expected):
    assert is_expected(exc) is expected


def test_a_task_failing_with_a_message_prints_no_traceback(qtbot, capfd):
    """The editor opened a project whose data could not be loaded: the panel's task bar said
    so, and stderr got a traceback for it. A bug (TypeError) still gets one."""
    runner = TaskRunner()
    errors: list[str] = []

    def refuse(_progress, _cancel):
        raise DataError("e-images: its IDX header says 0 x 8 x 8, so there are no samples")

    def bug(_progress, _cancel):
        raise TypeError("unsupported operand")

    runner.run("data", refuse, on_error=errors.append)
    assert runner.wait(10_000)
    assert errors == ["e-images: its IDX header says 0 x 8 x 8, so there are no samples"]
    assert "Traceback" not in capfd.readouterr().err
    runner.run("bug", bug, on_error=errors.append)
    assert runner.wait(10_000)
    assert errors[-1] == "TypeError: unsupported operand"
    assert "Traceback" in capfd.readouterr().err


def test_the_probe_monitor_never_builds_a_large_generated_set_whole():
    """shapes at 100,000 samples took the editor to 1.4 GB: the monitor built the whole set
    for the activations picker. Now it reads a PREVIEW_SAMPLES stand-in (shape, classes) and
    offers no picker samples, which would not be the ones training probes."""
    from gui.panels.monitor import dataset_info

    big = dataset_info(DatasetSettings(name="shapes", samples=100_000))
    small = dataset_info(DatasetSettings(name="shapes", samples=600))
    assert big.input_shape == small.input_shape and big.class_names == small.class_names
    assert big.samples is None
    assert small.samples is not None and len(small.samples["indices"]) == 16
