"""The .plexus file: round trips, atomic saves, migration, and one-line errors for bad files."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from hostile_files import error_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graph.layers
from graph import catalog, limits
from graph import project as project_mod
from graph.model import Edge, Graph
from graph.project import (
    FORMAT_VERSION,
    Project,
    ProjectError,
    load_project,
    project_from_json,
    project_to_json,
    save_project,
)
from graph.settings import DatasetSettings, TrainingSettings
from graph.validate import validate

ROOT = Path(__file__).resolve().parents[1]


def safetensors_bytes(tensors: dict[str, list[float]]) -> bytes:
    """A real safetensors file of float32 vectors, built by hand (no torch needed)."""
    header, body, offset = {}, b"", 0
    for name, values in tensors.items():
        data = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": [len(values)],
                        "data_offsets": [offset, offset + len(data)]}
        body += data
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def sample_project() -> Project:
    g = Graph()
    x = g.add_node("Input", {"shape": (1, 8, 8)}, pos=(0, 0), name="image")
    conv = g.add_node("Conv2d", {"out_channels": 8, "padding": (1, 1)}, pos=(0, 90.5),
                      name="conv1")
    relu = g.add_node("ReLU", pos=(0, 180), name="relu")
    flat = g.add_node("Flatten", pos=(0, 270), name="flat")
    fc = g.add_node("Linear", {"out_features": 10}, pos=(-12.25, 360), name="fc")
    out = g.add_node("Output", pos=(0, 450), name="y")
    for a, b in [(x, conv), (conv, relu), (relu, flat), (flat, fc), (fc, out)]:
        g.connect(Edge(a.id, "out", b.id, "in"))
    g.set_node_options(conv.id, frozen=True, lr_mult=0.1)
    run = {"started": "2026-01-02T03:04:05+00:00", "device": "cpu", "status": "completed",
           "epochs": [{"type": "epoch", "epoch": 1, "train_loss": 0.5, "val_loss": 0.25,
                       "val_accuracy": 0.875, "seconds": 1.5}],
           "steps": [[0, 2.3], [10, 0.7]]}
    return Project(
        graph=g, name="digits", description="LeNet-style CNN — on digits",
        dataset=DatasetSettings(name="digits", seed=3, val_split=0.25),
        training=TrainingSettings(optimizer="sgd", lr=0.05, epochs=3, schedule="cosine"),
        history=[run],
        weights=safetensors_bytes({"2.weight": [0.5, -1.25], "5.bias": [0.0] * 10}),
        layout={"zoom": 1.5, "center": [10.0, -4.0]},
        metadata={"torch_version": "2.13.0"},
    )


def assert_same(a: Project, b: Project) -> None:
    assert b.graph.to_dict() == a.graph.to_dict()
    assert b.graph.layout() == a.graph.layout()
    assert b.name == a.name and b.description == a.description
    assert b.dataset == a.dataset and b.training == a.training
    assert b.history == a.history
    assert b.weights == a.weights
    assert b.layout == a.layout


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# -- round trips -------------------------------------------------------------------------------
def test_round_trip_is_identical(tmp_path):
    original = sample_project()
    target = tmp_path / "digits.plexus"
    save_project(original, target)
    loaded = load_project(target)
    assert_same(original, loaded)
    assert loaded.graph.nodes[2].frozen and loaded.graph.nodes[2].lr_mult == 0.1
    assert loaded.graph.nodes[2].params["padding"] == (1, 1)  # tuples come back as tuples
    assert loaded.metadata["torch_version"] == "2.13.0"
    assert loaded.metadata["app_version"]
    datetime.fromisoformat(loaded.metadata["saved_at"])
    # Saving what was loaded gives the same project.json apart from the date.
    again = tmp_path / "again.plexus"
    save_project(loaded, again)
    assert project_to_json(load_project(again), "t") == project_to_json(loaded, "t")


def test_file_layout(tmp_path):
    target = tmp_path / "p.plexus"
    save_project(sample_project(), target)
    with zipfile.ZipFile(target) as zf:
        assert zf.namelist() == ["project.json", "weights.safetensors"]
        data = json.loads(zf.read("project.json"))
        assert zf.getinfo("weights.safetensors").compress_type == zipfile.ZIP_STORED
    assert list(data) == ["format_version", "name", "description", "graph", "layout", "dataset",
                          "training", "history", "metadata"]
    assert data["format_version"] == FORMAT_VERSION == 2
    assert data["layout"] == {"positions": {"1": [0.0, 0.0], "2": [0.0, 90.5],
                                            "3": [0.0, 180.0], "4": [0.0, 270.0],
                                            "5": [-12.25, 360.0], "6": [0.0, 450.0]},
                              "zoom": 1.5, "center": [10.0, -4.0]}
    assert all("pos" not in node for node in data["graph"]["nodes"])
    assert data["training"]["lr"] == 0.05
    assert set(data["metadata"]) == {"torch_version", "app_version", "saved_at"}


def test_project_without_weights_has_no_weights_member(tmp_path):
    project = sample_project()
    project.weights = None
    save_project(project, tmp_path / "p.plexus")
    with zipfile.ZipFile(tmp_path / "p.plexus") as zf:
        assert zf.namelist() == ["project.json"]
    assert load_project(tmp_path / "p.plexus").weights is None


def test_defaults_round_trip(tmp_path):
    save_project(Project(Graph()), tmp_path / "empty.plexus")
    loaded = load_project(tmp_path / "empty.plexus")
    assert_same(Project(Graph()), loaded)
    assert loaded.name == "untitled"


def test_json_helpers_round_trip():
    original = sample_project()
    data = json.loads(json.dumps(project_to_json(original, saved_at="2026-01-01T00:00:00")))
    loaded = project_from_json(data, "memory")
    loaded.weights = original.weights
    assert_same(original, loaded)
    assert loaded.metadata["saved_at"] == "2026-01-01T00:00:00"


def test_a_graph_with_problems_still_opens(tmp_path):
    """Bad params, unknown layers and bad ports are validation's job, not a load error."""
    project = Project(Graph.from_dict({
        "nodes": [{"id": 1, "type": "Conv2d", "name": "c", "params": {"kernel_size": [0, 3]}},
                  {"id": 2, "type": "FutureLayer", "name": "f"}],
        "edges": [{"src": 1, "src_port": "out", "dst": 2, "dst_port": "nowhere"}]}))
    save_project(project, tmp_path / "bad.plexus")
    loaded = load_project(tmp_path / "bad.plexus")
    assert loaded.graph.to_dict() == project.graph.to_dict()
    assert validate(loaded.graph) == validate(project.graph)


def test_nan_loss_in_history_survives(tmp_path):
    project = Project(Graph(), history=[{"status": "failed", "steps": [[3, float("nan")]]}])
    save_project(project, tmp_path / "nan.plexus")
    step = load_project(tmp_path / "nan.plexus").history[0]["steps"][0]
    assert step[0] == 3 and step[1] != step[1]


# -- errors on load -------------------------------------------------------------------------------
def test_file_not_found(tmp_path):
    assert error_of(tmp_path / "missing.plexus") == (
        f"cannot open {tmp_path / 'missing.plexus'}: file or folder not found")


def test_folder_instead_of_file(tmp_path):
    assert "that is a folder, not a project file" in error_of(tmp_path)


def test_permission_denied(tmp_path, monkeypatch):
    target = tmp_path / "locked.plexus"
    save_project(sample_project(), target)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(project_mod.zipfile, "ZipFile", refuse)
    assert "permission denied" in error_of(target)


def test_random_bytes(tmp_path):
    target = tmp_path / "noise.plexus"
    target.write_bytes(random.Random(1).randbytes(3000))
    assert error_of(target) == (f"{target} is not a Plexus project (not a zip archive, or a "
                                "damaged one); open a .plexus file")


def test_empty_file(tmp_path):
    target = tmp_path / "empty.plexus"
    target.write_bytes(b"")
    assert "is not a Plexus project" in error_of(target)


def test_truncated_zip(tmp_path):
    target = tmp_path / "cut.plexus"
    save_project(sample_project(), target)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    assert "is not a Plexus project" in error_of(target)


def test_every_truncation_and_many_corruptions_give_project_errors(tmp_path):
    """Whatever happens to the bytes, loading either works or raises one ProjectError."""
    source = tmp_path / "ok.plexus"
    save_project(sample_project(), source)
    data = source.read_bytes()
    target = tmp_path / "bad.plexus"
    rng = random.Random(7)
    variants = [data[:n] for n in range(0, len(data), 7)]
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        variants.append(bytes(damaged))
    failures = 0
    for variant in variants:
        target.write_bytes(variant)
        try:
            load_project(target)
        except ProjectError as exc:
            failures += 1
            assert str(target) in str(exc)
    assert failures > len(variants) // 2


def test_zip_without_project_json(tmp_path):
    target = write_zip(tmp_path / "other.plexus", {"readme.txt": "hello"})
    assert error_of(target) == (f"{target} has no project.json inside; it is not a Plexus "
                                "project (or was packed by hand without it)")


def test_invalid_json_names_the_line(tmp_path):
    target = write_zip(tmp_path / "bad.plexus",
                       {"project.json": '{\n "format_version": 1,\n "name": "x",,\n}'})
    assert error_of(target) == (f"{target}: project.json is not valid JSON (line 3, column 14: "
                                "Expecting property name enclosed in double quotes)")


def test_json_that_is_not_utf8(tmp_path):
    target = write_zip(tmp_path / "latin.plexus", {"project.json": b'{"name": "caf\xe9"}'})
    assert "project.json is not UTF-8 text (byte 13)" in error_of(target)


def test_json_nested_too_deeply(tmp_path):
    target = write_zip(tmp_path / "deep.plexus", {"project.json": "[" * 200_000})
    assert "nested too deeply" in error_of(target)


@pytest.mark.parametrize("text, expected", [
    ('{"format_version": 1, "graph": {}, "name": ' + "1" * 5000 + "}",
     "project.json holds a value Plexus cannot read (Exceeds the limit"),
    ('{"format_version": 1, "graph": {"next_id": 1e400}}',
     "graph: malformed graph: cannot convert float infinity to integer"),
    ('{"format_version": 1, "graph": {}, "layout": {"positions": {"1": [Infinity, 0]}}}',
     "'layout.positions' of node 1 must be [x, y] numbers, not [inf, 0]"),
    ('{"format_version": 1, "graph": {}, "layout": {"positions": {"1": [1' + "0" * 400 +
     ', 0]}}}', "'layout.positions' of node 1 must be [x, y] numbers"),
    ('{"format_version": 1, "graph": {"nodes": [{"id": 1, "type": "ReLU", "lr_mult": 1' +
     "0" * 400 + "}]}}", "graph: malformed graph: int too large to convert to float"),
    ('{"format_version": 1, "graph": {}, "training": {"epochs": NaN}}',
     "training.epochs must be a whole number, not nan"),
])
def test_extreme_json_numbers(tmp_path, text, expected):
    target = write_zip(tmp_path / "numbers.plexus", {"project.json": text})
    message = error_of(target)
    assert message.startswith(f"{target}: {expected}"), message


def test_random_damage_to_project_json_gives_project_errors_only():
    """Replace or drop random fields with odd JSON values: a ProjectError or a project whose
    graph validation can still describe, never another exception."""
    base = good_json()

    def paths(obj, prefix=()):
        yield prefix
        items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
            if isinstance(obj, list) else ()
        for key, value in items:
            yield from paths(value, (*prefix, key))

    places = [p for p in paths(base) if p]
    odd = [None, True, 0, -1, 1.5, 10**400, float("inf"), float("nan"), "", "x", [], [1, "a"],
           {}, {"a": 1}, [[1, 2]]]
    rng = random.Random(3)
    outcomes = {"error": 0, "loaded": 0}
    for _ in range(400):
        data = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 3)):
            place = rng.choice(places)
            try:
                parent = data
                for key in place[:-1]:
                    parent = parent[key]
                if isinstance(parent, dict) and rng.random() < 0.2:
                    parent.pop(place[-1], None)
                else:
                    parent[place[-1]] = json.loads(json.dumps(rng.choice(odd)))
            except (KeyError, IndexError, TypeError):
                pass  # an earlier change removed this place
        try:
            validate(project_from_json(data, "damaged.plexus").graph)
            outcomes["loaded"] += 1
        except ProjectError as exc:
            assert str(exc).startswith("damaged.plexus")
            outcomes["error"] += 1
    assert outcomes["error"] > 50 and outcomes["loaded"] > 50


def test_json_that_is_not_an_object(tmp_path):
    target = write_zip(tmp_path / "list.plexus", {"project.json": "[1, 2]"})
    assert error_of(target) == (f"{target}: project.json must hold an object, not a list; the "
                                "file is not a Plexus project")


def good_json() -> dict:
    return project_to_json(sample_project(), saved_at="2026-01-01T00:00:00")


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.pop("format_version"),
     "project.json has no 'format_version'; the file is not a Plexus project"),
    (lambda d: d.update(format_version="1"), "'format_version' must be a whole number, not '1'"),
    (lambda d: d.update(format_version=-1), "'format_version' must be a whole number, not -1"),
    (lambda d: d.pop("graph"),
     "project.json has no 'graph'; the file is not a complete Plexus project"),
    (lambda d: d.update(graph=[1, 2]), "'graph' must be an object, not a list"),
    (lambda d: d.update(name=5), "'name' must be text, not a number"),
    (lambda d: d.update(description=None), "'description' must be text, not null"),
    (lambda d: d.update(layout="wide"), "'layout' must be an object, not text"),
    (lambda d: d["layout"].update(positions=[]), "'layout.positions' must be an object, not a "
                                                 "list"),
    (lambda d: d["layout"]["positions"].update({"2": [1, "a"]}),
     "'layout.positions' of node 2 must be [x, y] numbers, not [1, 'a']"),
    (lambda d: d.update(history={}), "'history' must be a list, not an object"),
    (lambda d: d["history"].append(3), "history run 2 must be an object, not a number"),
    (lambda d: d["history"][0].update(steps="many"),
     "history run 1 field 'steps' must be a list, not text"),
    (lambda d: d.update(metadata=[]), "'metadata' must be an object, not a list"),
    (lambda d: d["training"].update(lr="fast"), "training.lr must be a number, not 'fast'"),
    (lambda d: d["training"].update(optimizer="lbfgs"),
     "training.optimizer must be one of sgd, adam, adamw, rmsprop, not 'lbfgs'"),
    (lambda d: d["training"].update(epochs=float("inf")),
     "training.epochs must be a whole number, not inf"),
    (lambda d: d.update(dataset=7), "dataset must be an object"),
    (lambda d: d["dataset"].update(val_split=2.0),
     "dataset.val_split must be between 0.0 and 0.9, not 2.0"),
    (lambda d: d["graph"]["nodes"][0].update(id="one"),
     "graph: node field 'id' must be int, not 'one'"),
    (lambda d: d["graph"]["nodes"][1].pop("type"), "graph: node 2 is missing its 'type' field"),
    (lambda d: d["graph"]["nodes"].append(dict(d["graph"]["nodes"][0])),
     "graph: node id 1 appears twice"),
    (lambda d: d["graph"]["edges"][0].pop("dst_port"),
     "graph: edge is missing its 'dst_port' field"),
    (lambda d: d["graph"]["edges"].append({"src": 1, "src_port": "out", "dst": 40,
                                           "dst_port": "in"}),
     "graph: connection 1 -> 40 names a missing node"),
    (lambda d: d["graph"].update(nodes=5), "graph: malformed graph"),
    (lambda d: d["graph"]["nodes"][0].update(params=[1, 2]),
     "graph: node 1 field 'params' must be an object"),
    (lambda d: d["graph"].update(next_id="many"), "graph: malformed graph"),
])
def test_bad_fields(tmp_path, change, expected):
    data = good_json()
    change(data)
    target = write_zip(tmp_path / "fields.plexus", {"project.json": json.dumps(data)})
    message = error_of(target)
    assert message.startswith(f"{target}: {expected}"), message


def test_future_format_version(tmp_path):
    data = good_json()
    data["format_version"] = 7
    target = write_zip(tmp_path / "future.plexus", {"project.json": json.dumps(data)})
    assert error_of(target) == (f"{target} was saved by a newer Plexus (format 7); this "
                                "version reads up to 2: update Plexus to open it")


def test_damaged_weights(tmp_path):
    target = write_zip(tmp_path / "w.plexus", {"project.json": json.dumps(good_json()),
                                               "weights.safetensors": b"\xff" * 64})
    assert "weights.safetensors is not a safetensors file" in error_of(target)
    write_zip(target, {"project.json": json.dumps(good_json()), "weights.safetensors": b"{}"})
    assert "weights.safetensors is too short to hold weights (2 bytes)" in error_of(target)


def test_corrupted_member_data_is_reported(tmp_path):
    target = tmp_path / "crc.plexus"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("project.json", json.dumps(good_json()))  # stored: bytes are visible
    data = bytearray(buffer.getvalue())
    at = data.index(b'"format_version"')
    data[at + 1:at + 7] = b"FORMAT"  # same length, so only the CRC check notices
    target.write_bytes(bytes(data))
    assert "project.json is damaged (Bad CRC-32" in error_of(target)


def test_zip_bomb_guard(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 4096)
    text = json.dumps(good_json())
    text += " " * (16 * 1024 - len(text))  # deflates to little, unpacks past the limit
    target = tmp_path / "bomb.plexus"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", text)
    assert "project.json would unpack to 16 KB, more than the 4 KB a project may hold; " \
           "refusing to open it" in error_of(target)


def test_highly_compressed_weights_are_refused(tmp_path, monkeypatch):
    target = tmp_path / "wbomb.plexus"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", json.dumps(good_json()).replace("  ", ""))
        zf.writestr("weights.safetensors", b"\0" * 1_000_000)
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 64 * 1024)
    assert "weights.safetensors is compressed" in error_of(target)


# -- migration ------------------------------------------------------------------------------------
def format0() -> dict:
    """What a project.json of format 0 looked like: positions in the nodes, "learning_rate"."""
    return {
        "format_version": 0,
        "name": "old",
        "graph": {
            "nodes": [{"id": 1, "type": "Input", "name": "x", "params": {"shape": [2]},
                       "pos": [10, 20]},
                      {"id": 2, "type": "Linear", "name": "fc", "params": {"out_features": 1},
                       "pos": [10, 120.5]},
                      {"id": 3, "type": "Output", "name": "y", "params": {"task": "regression"},
                       "pos": [10, 220]}],
            "edges": [{"src": 1, "src_port": "out", "dst": 2, "dst_port": "in"},
                      {"src": 2, "src_port": "out", "dst": 3, "dst_port": "in"}],
        },
        "training": {"optimizer": "sgd", "learning_rate": 0.3, "epochs": 4},
    }


def test_migration_from_format_0():
    assert set(project_mod._MIGRATIONS) == set(range(FORMAT_VERSION))
    project = project_from_json(format0(), "old.plexus")
    assert project.training.lr == 0.3 and project.training.optimizer == "sgd"
    assert project.graph.layout() == {"1": [10.0, 20.0], "2": [10.0, 120.5],
                                      "3": [10.0, 220.0]}
    assert project.graph.nodes[3].params["task"] == "regression"
    assert validate(project.graph) == []
    migrated = project_mod._MIGRATIONS[0](format0())
    assert migrated["format_version"] == 1
    assert "pos" not in migrated["graph"]["nodes"][0]
    assert "learning_rate" not in migrated["training"]


def test_format_0_file_opens_and_saves_as_current(tmp_path):
    old = write_zip(tmp_path / "old.plexus", {"project.json": json.dumps(format0())})
    project = load_project(old)
    save_project(project, old)
    with zipfile.ZipFile(old) as zf:
        data = json.loads(zf.read("project.json"))
    assert data["format_version"] == FORMAT_VERSION
    assert data["training"]["lr"] == 0.3 and "learning_rate" not in data["training"]
    assert data["layout"]["positions"]["2"] == [10.0, 120.5]


def test_migration_that_meets_malformed_data(tmp_path, monkeypatch):
    def broken(data):
        return data["missing"]

    monkeypatch.setitem(project_mod._MIGRATIONS, 0, broken)
    target = write_zip(tmp_path / "old.plexus", {"project.json": json.dumps(format0())})
    assert error_of(target) == f"{target}: cannot upgrade from format 0 (KeyError: 'missing')"


# -- atomic saves ---------------------------------------------------------------------------------
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.plexus"
    save_project(sample_project(), target)
    before = target.read_bytes()
    real = zipfile.ZipFile.writestr

    def fail_on_weights(self, name, data, *args, **kwargs):
        if name == "weights.safetensors":
            raise OSError(28, "No space left on device")
        return real(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_on_weights)
    changed = sample_project()
    changed.name = "changed"
    with pytest.raises(ProjectError) as info:
        save_project(changed, target)
    assert str(info.value) == (f"cannot save {target}: the disk is full; free some space and "
                               "save again")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.plexus"]


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.plexus"
    save_project(sample_project(), target)
    before = target.read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(project_mod.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_project(sample_project(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.plexus"]


def test_unserializable_project_is_refused_before_touching_the_disk(tmp_path):
    target = tmp_path / "keep.plexus"
    save_project(sample_project(), target)
    before = target.read_bytes()
    bad = sample_project()
    bad.history.append({"started": object()})
    with pytest.raises(ProjectError, match="cannot save .*keep.plexus: the project holds a "
                                           "value that JSON cannot store"):
        save_project(bad, target)
    bad = sample_project()
    bad.weights = [1, 2, 3]
    with pytest.raises(ProjectError, match="weights must be bytes of a safetensors file"):
        save_project(bad, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.plexus"]


def test_save_into_missing_folder(tmp_path):
    target = tmp_path / "nope" / "p.plexus"
    with pytest.raises(ProjectError) as info:
        save_project(sample_project(), target)
    assert str(info.value) == f"cannot save {target}: file or folder not found"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_save_keeps_permissions_and_symlinks(tmp_path):
    real = tmp_path / "real.plexus"
    save_project(sample_project(), real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.plexus"
    link.symlink_to(real)
    project = sample_project()
    project.name = "via link"
    save_project(project, link)
    assert link.is_symlink()
    assert load_project(real).name == "via link"
    assert os.stat(real).st_mode & 0o777 == 0o640


def test_graph_package_stays_free_of_torch_numpy_and_qt():
    code = ("import sys, graph.validate, graph.project, graph.settings, graph.catalog;"
            "bad = {'torch', 'numpy', 'PySide6'} & set(sys.modules); print(sorted(bad))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "[]"


# -- property: random valid graphs round-trip -----------------------------------------------------
def param_values(param: catalog.Param) -> st.SearchStrategy:
    lo = -1000 if param.minimum is None else int(param.minimum)
    hi = 1000 if param.maximum is None else int(param.maximum)
    if param.kind == catalog.INT:
        return st.integers(lo, hi)
    if param.kind == catalog.FLOAT:
        return st.floats(param.minimum, param.maximum, allow_nan=False, allow_infinity=False)
    if param.kind == catalog.BOOL:
        return st.booleans()
    if param.kind == catalog.CHOICE:
        return st.sampled_from(param.choices)
    if param.kind == catalog.INTS:
        size = param.length
        return st.lists(st.integers(lo, hi), min_size=size or 1, max_size=size or 4).map(tuple)
    return st.text(max_size=10)


@st.composite
def graphs(draw) -> Graph:
    g = Graph()
    layers = draw(st.lists(st.sampled_from(graph.layers.LAYERS), min_size=1, max_size=10))
    n = len(layers)
    names = draw(st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=n,
                          max_size=n, unique=True))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    coordinate = st.floats(-1e6, 1e6, allow_nan=False)
    for spec, name, node_id in zip(layers, names, ids, strict=True):
        params = {p.name: draw(param_values(p)) for p in spec.params if draw(st.booleans())}
        g.add_node(spec.id, params, pos=(draw(coordinate), draw(coordinate)), name=name,
                   node_id=node_id)
        if draw(st.booleans()):
            g.set_node_options(node_id, frozen=draw(st.booleans()),
                               lr_mult=draw(st.floats(0, 10, allow_nan=False)))
    # Edges only from a lower to a higher id: always acyclic, like the editor allows.
    ordered = sorted(ids)
    index = st.integers(0, n - 1)
    for a, b in draw(st.lists(st.tuples(index, index), max_size=2 * n)):
        src, dst = g.nodes[ordered[min(a, b)]], g.nodes[ordered[max(a, b)]]
        free = [p.name for p in dst.spec.inputs if g.edge_into(dst.id, p.name) is None]
        if a != b and src.spec.outputs and free:
            g.connect(Edge(src.id, src.spec.outputs[0].name, dst.id, draw(st.sampled_from(free))))
    return g


@settings(max_examples=50, deadline=None, database=None)
@given(graphs())
def test_random_graphs_round_trip_through_dicts(g):
    data = json.loads(json.dumps(g.to_dict()))
    again = Graph.from_dict(data, layout=json.loads(json.dumps(g.layout())))
    assert again.to_dict() == g.to_dict()
    assert again.layout() == g.layout()
    assert again.nodes == g.nodes
    assert sorted(again.edges) == sorted(g.edges)
    assert validate(again) == validate(g)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=graphs(), weights=st.none() | st.binary(max_size=64).map(
    lambda b: safetensors_bytes({"1.weight": [1.0]}) + b))
def test_random_projects_round_trip_through_files(tmp_path, g, weights):
    project = Project(g, name="random", history=[{"status": "completed", "steps": [[1, 0.5]]}],
                      weights=weights)
    save_project(project, tmp_path / "random.plexus")
    loaded = load_project(tmp_path / "random.plexus")
    assert_same(project, loaded)
    assert loaded.graph.nodes == g.nodes
