"""Weights checked on open (issue 15): the safetensors framing parsed by hand, each tensor
matched against the compiled graph, and what validate, info and the editor say about it."""

from __future__ import annotations

import pytest
import torch
from hostile_files import project_zip, safetensors_bytes, small_graph, valid_json

from graph.project import load_project
from main import main
from runtime.compile import weights_to_bytes
from runtime.weights_check import WeightsError, check_weights, expected_shapes, read_header


def fitting_weights() -> dict[str, torch.Tensor]:
    return {"2.weight": torch.zeros(2, 1, 3, 3), "2.bias": torch.zeros(2),
            "4.weight": torch.zeros(3, 8), "4.bias": torch.zeros(3)}


def f32(shape: list[int], begin: int, end: int) -> dict:
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}


@pytest.mark.parametrize("header, data, expected", [
    ({"2.weight": f32([2], 0, 8)}, bytes(4),
     "tensor '2.weight' ends at byte 8, past the end of the data (4 bytes)"),
    ({"2.weight": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, bytes(8),
     "tensor '2.weight' has an unknown dtype 'Q7'"),
    ({"2.weight": f32([1_000_000, 1_000_000], 0, 8)}, bytes(8),
     "tensor '2.weight' is 1000000x1000000 F32 (4,000,000,000,000 bytes) but its data holds "
     "8 bytes"),
    ({"2.weight": f32([2], 0, 8), "2.bias": f32([2], 4, 12)}, bytes(12),
     "tensors '2.weight' and '2.bias' overlap"),
    ({"2.weight": f32([2], 8, 0)}, bytes(8), "ends (byte 0) before it begins (byte 8)"),
    ({"2.weight": f32([-2], 0, 8)}, bytes(8), "has no valid shape"),
    ({"2.weight": {"dtype": "F32", "shape": [2]}}, bytes(8), "has no valid data_offsets"),
    ({"2.weight": [1]}, b"", "tensor '2.weight' must be described by an object"),
])
def test_broken_framing_is_one_line(header, data, expected):
    with pytest.raises(WeightsError) as info:
        read_header(safetensors_bytes(header, data))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_header_framing():
    with pytest.raises(WeightsError, match="too short"):
        read_header(b"\0\0")
    with pytest.raises(WeightsError, match="declares a header of 1,000 bytes in a file of 10"):
        read_header(b"\xe8\x03" + bytes(8))
    with pytest.raises(WeightsError, match="the header is not JSON"):
        read_header(b"\x02" + bytes(7) + b"{x")
    entries = read_header(weights_to_bytes(fitting_weights()))
    assert sorted((e.key, e.shape, e.dtype) for e in entries)[0] == ("2.bias", (2,), "F32")


def test_expected_shapes_come_from_the_meta_device():
    graph = small_graph()
    graph.nodes[4].params["out_features"] = 1_000_000  # 8M floats: nothing is allocated
    shapes = expected_shapes(graph)
    assert shapes[2] == {"weight": (2, 1, 3, 3), "bias": (2,)}
    assert shapes[4]["weight"] == (1_000_000, 8)
    assert shapes[3] == {}  # Flatten: compiled, no parameters


def test_fitting_weights_have_no_diagnostics():
    check = check_weights(small_graph(), weights_to_bytes(fitting_weights()))
    assert check.usable and check.diagnostics == [] and check.fresh == []
    assert check_weights(small_graph(), None).diagnostics == []


def test_mismatches_name_the_layer_and_the_tensor():
    tensors = {**fitting_weights(), "2.weight": torch.zeros(7, 7), "9.weight": torch.zeros(1),
               "4.gamma": torch.zeros(3)}
    check = check_weights(small_graph(), weights_to_bytes(tensors))
    messages = sorted(d.message for d in check.diagnostics)
    assert messages == [
        "conv1: weight is 7x7 but the layer has 2x1x3x3; it will start fresh",
        "fc: has no parameter 'gamma'; tensor '4.gamma' is ignored",
        "weights: tensor '9.weight' belongs to no layer of the graph; it is ignored"]
    assert check.fresh == ["conv1"] and check.usable
    assert {d.node_id for d in check.diagnostics} == {2, 4, None}


def test_damaged_weights_make_every_layer_start_fresh():
    data = safetensors_bytes({"2.weight": f32([2], 0, 8)}, bytes(4))
    check = check_weights(small_graph(), data)
    assert not check.usable and check.fresh == ["every layer"]
    assert check.diagnostics[0].message.endswith(
        "; the weights cannot be used and every layer starts fresh")


# -- the command line ---------------------------------------------------------------------------
def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_validate_and_info_report_wrong_shapes(tmp_path, capsys):
    tensors = {**fitting_weights(), "2.weight": torch.zeros(7, 7)}
    path = project_zip(tmp_path / "wrong.plexus", valid_json(), weights_to_bytes(tensors))
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert "error: conv1: weight is 7x7 but the layer has 2x1x3x3; it will start fresh" in out
    assert "wrong.plexus: invalid (1 error, " in out
    code, out, _ = run_cli(capsys, "info", str(path))
    assert code == 1
    assert "trained: partly (conv1 starts fresh)" in out


@pytest.mark.parametrize("header, data", [
    ({"2.weight": f32([2], 0, 8)}, bytes(4)),
    ({"2.weight": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
    ({"2.weight": f32([1_000_000, 1_000_000], 0, 8)}, bytes(8)),
])
def test_validate_and_info_refuse_damaged_weights(tmp_path, capsys, header, data):
    path = project_zip(tmp_path / "bad.plexus", valid_json(), safetensors_bytes(header, data))
    assert load_project(path).weights is not None  # the file opens; its weights do not count
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 1 and "bad.plexus: invalid" in out and err == ""
    assert "every layer starts fresh" in out
    code, out, _ = run_cli(capsys, "info", str(path))
    assert code == 1
    assert "trained: no (the weights are damaged; every layer starts fresh)" in out


def test_validate_fitting_weights_stays_valid(tmp_path, capsys):
    path = project_zip(tmp_path / "ok.plexus", valid_json(), weights_to_bytes(fitting_weights()))
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 0 and "ok.plexus: valid (0 warnings)" in out
    code, out, _ = run_cli(capsys, "info", str(path))
    assert "trained: yes" in out


NO_LAYER = "weights: tensor '{}' belongs to no layer of the graph; it is ignored"


@pytest.mark.parametrize("key, expected", [
    ("\u00b2.weight", NO_LAYER), ("99999999999999999999.weight", NO_LAYER),
    (".weight", NO_LAYER), ("weight", NO_LAYER),
    ("2", "conv1: has no parameter ''; tensor '{}' is ignored"),
])
def test_keys_that_name_no_layer_are_ignored_with_a_diagnostic(key, expected):
    data = safetensors_bytes({key: f32([1], 0, 4)}, bytes(4))
    check = check_weights(small_graph(), data)
    assert check.usable and check.fresh == []
    assert [d.message for d in check.diagnostics] == [expected.format(key)]
