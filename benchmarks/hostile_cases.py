"""The hostile inputs of issue 15, each built in a folder: what the file is and which command
(and whether the editor's open path) tries it. ``benchmarks/hostile_files.py`` runs them; it
builds them with ``python benchmarks/hostile_cases.py FOLDER`` (a process of its own, so the
sweep itself stays small and its children's peak RSS is their own)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    """One hostile input: ``cli`` is the argument list after ``main.py`` ({out} is a free
    output path); ``editor`` is the file the editor opens (None: no editor path)."""

    name: str
    cli: list[str]
    editor: str | None = None
    short: bool = False  # in the slow test's short sweep
    notes: dict[str, Any] = field(default_factory=dict)



def load_cases(listing: str) -> list[Case]:
    """The cases ``python hostile_cases.py FOLDER`` printed."""
    return [Case(**entry) for entry in json.loads(listing)]


def _tests_hostile_files() -> ModuleType:
    """tests/hostile_files.py (the hardening tests' builders; its name is this folder's
    sweep's too, so it is loaded from its path)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("hostile_test_files",
                                                  ROOT / "tests" / "hostile_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _json_project(path: Path, change: Callable[[dict[str, Any]], None]) -> str:
    helpers = _tests_hostile_files()
    data = helpers.valid_json()
    change(data)
    return str(helpers.project_zip(path, data))


def _example(path: Path, name: str, change: Callable[[Any], None]) -> str:
    from graph.project import save_project
    from resources.examples import make

    project = make.build(name)
    change(project)
    save_project(project, path)
    return str(path)


def _shapes(samples: int) -> Callable[[Any], None]:
    def change(project: Any) -> None:
        project.dataset.samples = samples
        project.weights = None
    return change


def _png_bomb(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def _idx(path: Path, code: int, dims: tuple[int, ...], data: bytes = b"") -> str:
    path.write_bytes(b"\0\0" + bytes([code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
                     + data)
    return str(path)


def _onnx_huge_initializer(path: Path) -> str:
    import onnx
    from onnx import TensorProto, helper

    weight = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT,
                              dims=[1_000_000, 1_000_000])  # and no data
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             ["N", 1_000_000])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                             ["N", 1_000_000])],
                              [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.write_bytes(model.SerializeToString())
    return str(path)


def _weights_project(path: Path, header: dict[str, Any], data: bytes) -> str:
    helpers = _tests_hostile_files()
    return str(helpers.project_zip(path, helpers.valid_json(),
                                   helpers.safetensors_bytes(header, data)))


def build_cases(folder: Path) -> list[Case]:
    """Every case the issue lists, written under ``folder``."""
    import torch

    from runtime.compile import weights_to_bytes

    helpers = _tests_hostile_files()
    bomb_project, project_zip = helpers.bomb_project, helpers.project_zip

    f = folder
    cases: list[Case] = []

    def add(name: str, cli: list[str], editor: str | None = None, short: bool = False) -> None:
        cases.append(Case(name, cli, editor, short))

    plain = str(project_zip(f / "plain.plexus"))
    add("baseline: a small valid project", ["validate", plain], plain, short=True)

    bomb = str(bomb_project(f / "bomb.plexus"))
    add("zip bomb 2 MB -> 1.9 GiB, headers 4 KB", ["validate", bomb], bomb, short=True)
    for samples in (50_000, 100_000, 10_000_000):
        path = _example(f / f"shapes_{samples}.plexus", "shapes_source", _shapes(samples))
        add(f"shapes dataset, {samples:,} samples", ["info", path], path,
            short=samples == 100_000)
    shapes_train = _example(f / "shapes_train.plexus", "shapes_source", _shapes(10_000_000))
    add("shapes 10,000,000 samples: train", ["train", shapes_train, "-o", "{out}",
                                             "--epochs", "1"])
    for size, label in ((64 << 10, "64 KB"), (256 << 10, "256 KB"), (1 << 20, "1 MB")):
        desc = _json_project(f / f"description_{size}.plexus",
                             lambda d, n=size: d.__setitem__("description", "x" * n))
        add(f"description {label}, no spaces", ["info", desc], desc, short=size == 1 << 20)
    past_end = _weights_project(f / "w_past_end.plexus", {
        "2.weight": {"dtype": "F32", "shape": [2, 1, 3, 3], "data_offsets": [0, 10_000]}},
        bytes(72))
    add("safetensors offsets past the end", ["info", past_end], past_end, short=True)
    dtype = _weights_project(f / "w_dtype.plexus", {
        "2.weight": {"dtype": "Q9", "shape": [2, 1, 3, 3], "data_offsets": [0, 72]}},
        bytes(72))
    add("safetensors unknown dtype", ["validate", dtype], dtype)
    huge = _weights_project(f / "w_huge.plexus", {
        "2.weight": {"dtype": "F32", "shape": [1_000_000, 1_000_000], "data_offsets": [0, 8]}},
        bytes(8))
    add("safetensors shape 1e6 x 1e6", ["info", huge], huge)
    wrong = str(project_zip(f / "w_wrong.plexus", helpers.valid_json(), weights_to_bytes({
        "2.weight": torch.zeros(7, 7), "2.bias": torch.zeros(2),
        "4.weight": torch.zeros(3, 8), "4.bias": torch.zeros(3)})))
    add("weights of the wrong shape (7x7 for 2x1x3x3)", ["validate", wrong], wrong)

    def resized(project: Any) -> None:  # hidden1 trained at 7x7, now 2 -> 2
        hidden = project.graph.node_by_name("hidden1")
        project.weights = weights_to_bytes({f"{hidden.id}.weight": torch.zeros(7, 7)})
    trained = _example(f / "resized.plexus", "xor_mlp", resized)
    add("weights of the wrong shape: train", ["train", trained, "-o", "{out}", "--epochs", "1"],
        trained)

    def huge_linear(project: Any) -> None:
        project.graph.nodes_of_type("Input")[0].params["shape"] = (1_000_000,)
        project.graph.node_by_name("hidden1").params["out_features"] = 1_000_000
    linear = _example(f / "linear.plexus", "xor_mlp", huge_linear)
    add("Linear 1e6 x 1e6: train", ["train", linear, "-o", "{out}", "--epochs", "1"], linear)

    _png_bomb(f / "photos" / "a" / "0.png", 30_000, 30_000)
    _png_bomb(f / "photos" / "b" / "0.png", 8, 8)
    png = _example(f / "png.plexus", "digits_cnn", lambda p: _data(p, "images", f / "photos"))
    add("PNG header 30000 x 30000: train", ["train", png, "-o", "{out}", "--epochs", "1"], png)
    images = _idx(f / "e-images", 8, (0, 8, 8))
    _idx(f / "e-labels", 8, (0,))
    idx = _example(f / "idx.plexus", "digits_cnn", lambda p: _data(p, "idx", Path(images)))
    add("IDX with 0 samples: train", ["train", idx, "-o", "{out}", "--epochs", "1"], idx)
    onnx_file = _onnx_huge_initializer(f / "huge.onnx")
    add("ONNX initializer 1e6 x 1e6, no data: import", ["import", onnx_file, "-o", "{out}"])
    node_id = _json_project(f / "node_id.plexus",
                            lambda d: d["graph"]["nodes"][0].__setitem__("id", 10 ** 20))
    add("node id 10^20", ["validate", node_id], node_id)
    xor = _example(f / "xor.plexus", "xor_mlp", lambda p: None)
    add("--metrics-jsonl /nonexistent/x", ["train", xor, "-o", "{out}", "--epochs", "1",
                                           "--metrics-jsonl", "/nonexistent/x"])
    add("train --epochs 0", ["train", xor, "-o", "{out}", "--epochs", "0"], short=True)
    script = f / "exits.py"
    script.write_text("import sys\nsys.exit(7)\n")
    add("import of a .py raising SystemExit(7)", ["import", str(script), "-o", "{out}"],
        short=True)
    return cases


def _data(project: Any, name: str, path: Path) -> None:
    project.dataset.name = name
    project.dataset.path = str(path)
    project.weights = None


__all__ = ["Case", "build_cases", "load_cases"]

if __name__ == "__main__":  # build in a process of its own: the sweep stays small
    print(json.dumps([dataclasses.asdict(case) for case in build_cases(Path(sys.argv[1]))]))
