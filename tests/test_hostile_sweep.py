"""The acceptance sweep of issue 15, short: a few hostile files through the CLI and the
editor's open path, each in a capped subprocess (benchmarks/hostile_files.py runs them all).
Time is printed by the benchmark, not asserted here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_sweep():
    """benchmarks/hostile_files.py (its name is this folder's test helpers' too)."""
    spec = importlib.util.spec_from_file_location("hostile_sweep",
                                                  ROOT / "benchmarks" / "hostile_files.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile_sweep"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_hostile_files_get_one_line_in_bounded_memory(tmp_path):
    """The sweep runs in its own small process: a child forked from this test process would
    count this process' memory in its peak (ru_maxrss holds what a fork inherited)."""
    sweep = load_sweep()
    result = tmp_path / "sweep.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "hostile_files.py"),
                           "--short", "--json", str(result)], cwd=ROOT, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    print(done.stdout)
    runs = {(row.pop("case"), row.pop("path")): sweep.Outcome(**row)
            for row in json.loads(result.read_text())}
    assert len(runs) == 12
    for (name, path), outcome in runs.items():
        assert not outcome.traceback, (name, path, outcome.stderr)
        assert outcome.one_line, (name, path, outcome.messages)
        assert outcome.peak_bytes <= sweep.TARGET_BYTES, (name, path, outcome.peak_bytes)
    bomb = runs[("zip bomb 2 MB -> 1.9 GiB, headers 4 KB", "cli validate")]
    assert bomb.code == 2 and "project.json is damaged" in bomb.messages[-1]
    assert runs[("zip bomb 2 MB -> 1.9 GiB, headers 4 KB", "editor")].stdout.startswith(
        "refused")
    assert runs[("shapes dataset, 100,000 samples", "editor")].stdout.startswith("opened")
    past_end = runs[("safetensors offsets past the end", "editor")]
    assert "every layer starts fresh" in past_end.messages[-1]
    assert "its data holds 10,000 bytes" in runs[("safetensors offsets past the end",
                                                   "cli info")].stdout
    description = runs[("description 1 MB, no spaces", "editor")]
    assert description.code == 0 and description.stdout.startswith("opened")
    assert runs[("train --epochs 0", "cli train")].code == 2
    exits = runs[("import of a .py raising SystemExit(7)", "cli import")]
    assert exits.code == 1 and "sys.exit(7)" in exits.messages[-1]
