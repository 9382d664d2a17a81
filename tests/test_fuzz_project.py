"""Fuzzing the project file (issue 15): valid files mutated in their zip bytes, their JSON
values and their safetensors headers either open or fail with one line, quickly; targeted
bombs load in a subprocess whose address space is capped, so a regression fails the test
instead of taking the machine down."""

from __future__ import annotations

import copy
import io
import json
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from hostile_files import (
    bomb_project,
    lying_zip,
    project_zip,
    safetensors_bytes,
    small_graph,
    valid_json,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.project import ProjectError, load_project
from runtime.compile import weights_to_bytes
from runtime.weights_check import WeightsError, check_weights, read_header

ROOT = Path(__file__).resolve().parents[1]
CASE_SECONDS = 5  # each case, however hostile, ends well within this
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail a case that runs past ``seconds`` instead of hanging the suite."""
    def expire(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"a case ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def load_or_one_line(data: bytes, tmp_path: Path) -> None:
    """The file opens, or ProjectError says why in one line naming the file."""
    path = tmp_path / "fuzzed.plexus"
    path.write_bytes(data)
    with time_limit(CASE_SECONDS):
        try:
            project = load_project(path)
        except ProjectError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            return
        if project.weights is not None:
            weights_or_one_line(project.weights)


def weights_or_one_line(data: bytes) -> None:
    try:
        read_header(data)
    except WeightsError as exc:
        assert "\n" not in str(exc)


def valid_file() -> bytes:
    weights = weights_to_bytes({"2.weight": torch.zeros(2, 1, 3, 3), "2.bias": torch.zeros(2),
                                "4.weight": torch.zeros(3, 8), "4.bias": torch.zeros(3)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", json.dumps(valid_json()))
        zf.writestr("weights.safetensors", weights, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


VALID = valid_file()
GRAPH = small_graph()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)),
                      min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, len(VALID))))
def test_zip_bytes_mutated(tmp_path, edits, cut):
    data = bytearray(VALID)
    for at, value in edits:
        data[at] = value
    load_or_one_line(bytes(data[:cut] if cut is not None else data), tmp_path)


def json_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (keys and indexes), the root included."""
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += json_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += json_paths(item, (*path, index))
    return paths


PATHS = json_paths(valid_json())


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS[1:]), json_values), min_size=1,
                        max_size=3))
def test_json_values_mutated(tmp_path, changes):
    data = copy.deepcopy(valid_json())
    for path, value in changes:
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):  # an earlier change removed the path
            continue
    load_or_one_line(project_zip(tmp_path / "base.plexus", data).read_bytes(), tmp_path)


tensor_entries = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(["F32", "F16", "I64", "BOOL", "Q9", "", 5]),
    "shape": st.lists(st.integers(-2, 10 ** 12), max_size=5) | json_values,
    "data_offsets": st.lists(st.integers(-5, 10 ** 15), max_size=3) | json_values,
})


@FUZZ
@given(header=st.dictionaries(st.sampled_from(["2.weight", "2.bias", "4.weight", "9.x",
                                               "\u00b2.weight", "__metadata__", ""]),
                              tensor_entries | json_values, max_size=4),
       data_size=st.integers(0, 512))
def test_safetensors_headers_mutated(tmp_path, header, data_size):
    weights = safetensors_bytes(header, bytes(data_size))
    with time_limit(CASE_SECONDS):
        weights_or_one_line(weights)
        check = check_weights(GRAPH, weights)  # against the layers: diagnostics, no raise
        assert all("\n" not in d.message for d in check.diagnostics)
        assert check.usable or check.fresh == ["every layer"]
    load_or_one_line(project_zip(tmp_path / "w.plexus", valid_json(), weights).read_bytes(),
                     tmp_path)


# -- bombs under a memory cap ---------------------------------------------------------------
CAPPED_LOAD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 ** 2, 1536 * 1024 ** 2))
sys.path.insert(0, {root!r})
from graph.project import ProjectError, load_project
from runtime.weights_check import WeightsError, check_weights, read_header
try:
    project = load_project({path!r})
    if project.weights is not None:
        read_header(project.weights)
    print("opened")
except (ProjectError, WeightsError) as exc:
    print(str(exc))
"""


def bombs(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    yield bomb_project(tmp_path / "deflate.plexus"), "project.json is damaged"
    stored = tmp_path / "stored.plexus"
    stored.write_bytes(lying_zip([("project.json", b" " * (64 << 20), 16, 0, 0)]))
    yield stored, "project.json is damaged"
    nested = tmp_path / "nested.plexus"
    with zipfile.ZipFile(nested, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", json.dumps(valid_json())[:-1]
                    + ', "x": ' + "[" * 500_000 + "]" * 500_000 + "}")
    yield nested, "nested too deeply"
    many = valid_json()
    many["graph"]["nodes"] = [{"id": 1}] * 1_000_000
    yield project_zip(tmp_path / "many.plexus", many), "holds 1,000,000 nodes"
    huge = {"2.weight": {"dtype": "F32", "shape": [10 ** 6, 10 ** 6], "data_offsets": [0, 8]}}
    yield (project_zip(tmp_path / "huge.plexus", valid_json(), safetensors_bytes(huge, bytes(8))),
           "is 1000000x1000000 F32")


@pytest.mark.slow
def test_bombs_load_under_a_memory_cap(tmp_path):
    for path, expected in bombs(tmp_path):
        done = subprocess.run([sys.executable, "-c", CAPPED_LOAD.format(root=str(ROOT),
                                                                        path=str(path))],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (path.name, lines)
