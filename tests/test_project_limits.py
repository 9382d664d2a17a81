"""Hardening of the project file (issue 15): decompression bounded by the bytes a member
really produces, the format's bounds on every declared count, and stale save files removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from hostile_files import (
    DEFLATED,
    STORED,
    bomb_project,
    deflate_zeros,
    error_of,
    lying_zip,
    project_zip,
    valid_json,
)

from graph import limits
from graph.project import Project, ProjectError, load_project, remove_stale_temps, save_project

ROOT = Path(__file__).resolve().parents[1]


# -- decompression -----------------------------------------------------------------------------
def test_deflate_bomb_with_lying_header_stops_at_the_declared_size(tmp_path):
    target = bomb_project(tmp_path / "bomb.plexus", expanded=256 << 20, claimed=4096)
    assert target.stat().st_size < 1 << 20
    start = time.perf_counter()
    assert "project.json is damaged (Bad CRC-32" in error_of(target)
    assert time.perf_counter() - start < 2.0


def test_stored_member_longer_than_declared_is_damaged(tmp_path):
    target = tmp_path / "stored.plexus"
    target.write_bytes(lying_zip([("project.json", b"{" + b" " * 100_000, 10, STORED, 0)]))
    assert "project.json is damaged" in error_of(target)


def test_weights_bomb_with_lying_header(tmp_path):
    target = tmp_path / "wbomb.plexus"
    body = json.dumps(valid_json()).encode()
    packed = zlib.compressobj(9, zlib.DEFLATED, -15)
    json_stream = packed.compress(body) + packed.flush()
    target.write_bytes(lying_zip([
        ("project.json", json_stream, len(body), DEFLATED, zlib.crc32(body)),
        ("weights.safetensors", deflate_zeros(64 << 20), 64, DEFLATED, 0)]))
    assert "weights.safetensors is damaged (Bad CRC-32" in error_of(target)


def test_declared_size_over_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 1000)
    target = tmp_path / "big.plexus"
    target.write_bytes(lying_zip([("project.json", b"{}", 5000, STORED, 0)]))
    assert "project.json would unpack to 5 KB, more than the 1000 bytes a project may hold" \
        in error_of(target)


# The peak resident memory of this process image: VmHWM restarts at exec, while getrusage's
# ru_maxrss keeps the forking pytest process's peak.
PEAK_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from graph.project import ProjectError, load_project
try:
    load_project({path!r})
except ProjectError as exc:
    print(str(exc))
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_bomb_peak_memory_stays_small(tmp_path):
    """The issue's case: ~2 MB inflating to 1.9 GiB, headers claiming 4 KB. Before, the CLI
    peaked at 2.3 GB; now the load stops after one chunk."""
    target = bomb_project(tmp_path / "bomb.plexus")
    assert target.stat().st_size < 3 << 20
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(root=str(ROOT),
                                                                    path=str(target))],
                          capture_output=True, text=True, timeout=60)
    message, peak_kb = done.stdout.strip().splitlines()
    assert "project.json is damaged" in message
    assert int(peak_kb) < 1024 * 1024  # under 1 GB (in KB)
    assert int(peak_kb) < 200 * 1024  # in fact little more than the interpreter


# -- declared counts ---------------------------------------------------------------------------
def with_nodes(data: dict, nodes: list) -> dict:
    data["graph"]["nodes"] = nodes
    data["graph"]["edges"] = []
    data["layout"]["positions"] = {}
    return data


@pytest.mark.parametrize("node_id, shown", [
    (10 ** 20, "100000000000000000000"),
    (-1, "-1"),
    (2 ** 31, "2147483648"),
    (10 ** 40, "a 41-digit number"),
])
def test_node_id_out_of_bounds_is_refused(tmp_path, node_id, shown):
    data = with_nodes(valid_json(), [{"id": node_id, "type": "Input", "name": "x",
                                      "params": {"shape": [2]}}])
    message = error_of(project_zip(tmp_path / "id.plexus", data))
    assert message.endswith(f": a node id is {shown}; ids are whole numbers from 0 to "
                            "2,147,483,647")


def test_edge_ids_and_next_id_are_bounded(tmp_path):
    data = valid_json()
    data["graph"]["edges"][0]["dst"] = 10 ** 20
    assert "an edge's target id is 100000000000000000000" in error_of(
        project_zip(tmp_path / "e.plexus", data))
    data = valid_json()
    data["graph"]["next_id"] = 2 ** 31  # one past the largest id: still fine
    assert load_project(project_zip(tmp_path / "n.plexus", data)).graph.next_id == 2 ** 31
    data["graph"]["next_id"] = 2 ** 31 + 1
    assert "'graph.next_id' is 2147483649" in error_of(project_zip(tmp_path / "n.plexus", data))
    data["graph"]["next_id"] = 1e20  # a float would become an id once the user adds a node
    assert "'graph.next_id' is 1e+20; ids are whole numbers" in error_of(
        project_zip(tmp_path / "n.plexus", data))


def test_largest_node_id_still_opens(tmp_path):
    data = with_nodes(valid_json(), [{"id": limits.MAX_NODE_ID, "type": "Input", "name": "x",
                                      "params": {"shape": [2]}}])
    project = load_project(project_zip(tmp_path / "max.plexus", data))
    assert list(project.graph.nodes) == [limits.MAX_NODE_ID]


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.update(description="x" * (1024 * 1024 + 1)),
     "'description' is 1,048,577 characters long; the format allows at most 1,048,576"),
    (lambda d: d.update(name="n" * 1001),
     "'name' is 1,001 characters long; the format allows at most 1,000"),
    (lambda d: d["graph"]["nodes"][1].update(name="c" * 1001),
     "node 2 name is 1,001 characters long"),
    (lambda d: d["graph"]["nodes"][0]["params"].update(shape=[1] * 65),
     "node 1 parameter 'shape' holds 65 values; the format allows at most 64"),
    (lambda d: d["graph"].update(edges=[{}] * 400_001),
     "'graph.edges' holds 400,001 edges; the format allows at most 400,000"),
    (lambda d: d.update(history=[{}] * 10_001),
     "'history' holds 10,001 training runs; the format allows at most 10,000"),
    (lambda d: d.update(history=[{"steps": [[1, 0.5]] * 100_001}]),
     "history run 1 field 'steps' holds 100,001 records"),
    (lambda d: d["dataset"].update(path="p" * 10_001),
     "'dataset.path' is 10,001 characters long"),
    (lambda d: d["dataset"].update(options={str(i): 0 for i in range(1001)}),
     "'dataset.options' holds 1,001 entries; the format allows at most 1,000"),
    (lambda d: d["training"].update(options={"classes": "c" * 10_001}),
     "'training.options.classes' is 10,001 characters long"),
    (lambda d: d["dataset"].update(samples=1_000_001),
     "dataset.samples must be between 10 and 1000000, not 1000001"),
])
def test_declared_counts_are_bounded(tmp_path, change, expected):
    data = valid_json()
    change(data)
    message = error_of(project_zip(tmp_path / "counts.plexus", data))
    assert expected in message


def test_too_many_nodes_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_NODES", 3)
    message = error_of(project_zip(tmp_path / "nodes.plexus"))  # five nodes
    assert "'graph.nodes' holds 5 nodes; the format allows at most 3" in message


def test_saving_past_a_bound_is_refused_so_every_saved_file_opens(tmp_path):
    target = tmp_path / "long.plexus"
    with pytest.raises(ProjectError) as info:
        save_project(Project(description="d" * (limits.MAX_DESCRIPTION_CHARS + 1)), target)
    assert str(info.value) == (f"cannot save {target}: 'description' is 1,048,577 characters "
                               "long; the format allows at most 1,048,576")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    save_project(Project(description="d" * limits.MAX_DESCRIPTION_CHARS), target)
    assert len(load_project(target).description) == limits.MAX_DESCRIPTION_CHARS


# -- temporary files of killed saves ------------------------------------------------------------
def test_stale_temps_are_removed_at_the_next_save(tmp_path):
    target = tmp_path / "project.plexus"
    old = tmp_path / ".project.plexus.0a1b2c3d.tmp"
    fresh = tmp_path / ".project.plexus.99aa88bb.tmp"  # a save running right now elsewhere
    other = tmp_path / ".other.plexus.0a1b2c3d.tmp"  # another file's leftover
    lookalike = tmp_path / ".project.plexus.notahex!.tmp"
    for path in (old, fresh, other, lookalike):
        path.write_bytes(b"x" * 100)
    hour_ago = time.time() - 3600
    for path in (old, other, lookalike):
        os.utime(path, (hour_ago, hour_ago))
    save_project(Project(name="p"), target)
    assert not old.exists()
    assert fresh.exists() and other.exists() and lookalike.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name, fresh.name, other.name, lookalike.name])


def test_remove_stale_temps_reports_what_it_removed(tmp_path):
    target = tmp_path / "a.plexus"
    left = tmp_path / ".a.plexus.deadbeef.tmp"
    left.write_bytes(b"")
    assert remove_stale_temps(target) == []  # younger than a minute
    os.utime(left, (time.time() - 61, time.time() - 61))
    assert remove_stale_temps(target) == [left]
    assert remove_stale_temps(tmp_path / "missing" / "a.plexus") == []
