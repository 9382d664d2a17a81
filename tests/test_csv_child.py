"""A large CSV read off the main thread parses in a child process (runtime/datasets/
csv_child.py): the same arrays and the same error messages as parsing in process, and the
main thread never spawns one."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from graph.settings import DatasetSettings
from runtime.data import DataError, load_dataset
from runtime.datasets import csv_child, csv_text
from runtime.datasets.csv_child import ColumnsInChild, loadtxt_in_child
from runtime.datasets.tabular import csv_table


def on_worker(job):
    """``job()`` run on a thread that is not the main one: (result, exception)."""
    found: dict = {}

    def run() -> None:
        try:
            found["value"] = job()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            found["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    return found.get("value"), found.get("error")


@pytest.fixture
def spawned(monkeypatch):
    """Every file goes to the child; the list counts the children started."""
    monkeypatch.setattr(csv_child, "CHILD_BYTES", 0)
    runs: list[list[str]] = []
    real = subprocess.run

    def counting(command, *args, **kwargs):
        runs.append(command)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(csv_child.subprocess, "run", counting)
    return runs


def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.csv"
    path.write_text("size;colour;price\n" + "".join(
        f"{i * 1.25 - 3};{'red' if i % 3 else ' blue'};{i % 4}\n" for i in range(300)))
    return path


def test_a_worker_thread_gets_the_same_arrays_from_a_child(tmp_path, spawned):
    path = mixed(tmp_path)
    here = csv_text.read_csv(path)
    there, error = on_worker(lambda: csv_text.read_csv(path, ColumnsInChild))
    assert error is None and isinstance(there, ColumnsInChild)
    assert len(spawned) == 2  # the text column and the number columns
    assert there.data.dtype == np.float32 and there.data.shape == (300, 2)
    assert np.array_equal(there.data, here.data)
    assert there.texts("colour").tolist() == here.texts("colour").tolist()
    assert there.texts("colour")[:3].tolist() == ["blue", "red", "red"]
    a = csv_table(path, "", [], "auto")
    b, error = on_worker(lambda: csv_table(path, "", [], "auto", ColumnsInChild))
    assert error is None and np.array_equal(a["x"], b["x"]) and np.array_equal(a["y"], b["y"])


def test_the_main_thread_parses_in_process(tmp_path, spawned):
    table = csv_text.read_csv(mixed(tmp_path), ColumnsInChild)
    assert isinstance(table, ColumnsInChild) and table.rows == 300 and spawned == []


def test_an_error_found_by_the_child_still_names_row_and_column(tmp_path, spawned):
    lines = ["a,b,y"] + [f"{i},{i * 2},{i % 2}" for i in range(1500)]
    lines[1234] = "5,oops,1"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n")
    settings = DatasetSettings(name="csv", path=str(path))
    _, error = on_worker(lambda: load_dataset(settings))
    assert spawned  # the child refused it; the row reader said where
    assert isinstance(error, DataError)
    assert str(error) == "late.csv row 1235, column 'b': 'oops' is not a number"


def test_the_childs_message_is_numpys(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("1,2\n3,4\n5,6,7\n")
    with pytest.raises(ValueError) as here:
        np.loadtxt(path, dtype=np.float32, delimiter=",")
    with pytest.raises(ValueError) as there:
        loadtxt_in_child(path, np.float32, delimiter=",")
    assert str(there.value) == str(here.value).replace("\n", " ")
    assert "row 3" in str(there.value) or "line 3" in str(there.value)


def test_a_child_that_cannot_start_parses_here(tmp_path, monkeypatch):
    path = tmp_path / "n.csv"
    path.write_text("1,2\n3,4\n")

    def broken(*args, **kwargs):
        raise OSError("no interpreter")

    monkeypatch.setattr(csv_child.subprocess, "run", broken)
    assert loadtxt_in_child(path, np.float32, delimiter=",").tolist() == [[1, 2], [3, 4]]
