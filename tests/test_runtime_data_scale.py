"""Data at scale: the column-wise CSV reader, float32 splits, streaming from .npy row caches,
refusals, and the image-folder cache."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from graph.settings import DatasetSettings
from runtime.batches import Batches
from runtime.data import DataError, load_dataset
from runtime.datasets import core, csv_text, row_cache, streaming
from runtime.datasets.images import CachedImageFolder, ImageFolderDataset
from runtime.datasets.streaming import NpyRows, StreamedRows
from runtime.datasets.tabular import csv_table

CPU = torch.device("cpu")


def write_table(path: Path, x: np.ndarray, y: np.ndarray, header: list[str] | None = None
                ) -> Path:
    header = header or [f"f{i}" for i in range(x.shape[1])] + ["label"]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row, label in zip(x, y, strict=True):
            f.write(",".join(f"{v:.5g}" for v in row) + f",{label}\n")
    return path


def table(tmp_path: Path, n: int = 300, name: str = "t.csv", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    return write_table(tmp_path / name, rng.normal(size=(n, 4)), rng.integers(0, 3, n))


def csv_settings(path: Path, **kw) -> DatasetSettings:
    return DatasetSettings(**{"name": "csv", "path": str(path), "scaling": "standardize", **kw})


def batches(dataset, shuffle: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(Batches(dataset, 32, CPU, shuffle=shuffle, seed=5))


@pytest.fixture
def small_budget(monkeypatch):
    """Memory for nothing: every file set streams."""
    monkeypatch.setattr(streaming, "memory_budget", lambda: 1000)


# -- the CSV reader -----------------------------------------------------------------------------

def test_clean_csv_is_read_column_wise_into_float32(tmp_path):
    path = write_table(tmp_path / "v.csv", np.array([[1.5, -2], [3, 4e3], [0.25, 7]]),
                       np.array(["b", "a", "b"]))
    found = csv_text.read_csv(path)
    assert isinstance(found, csv_text._Columns)
    assert found.data.dtype == np.float32
    assert list(found.texts("label")) == ["b", "a", "b"]
    x = found.release_matrix(["f1", "f0"])
    assert x.tolist() == [[-2, 1.5], [4000, 3], [7, 0.25]] and x.flags.c_contiguous
    assert np.shares_memory(x, found.data)  # moved within the memory it was read into
    tab = csv_table(path, "", [], "auto")
    assert tab["task"] == "classification" and tab["class_names"] == ["a", "b"]
    assert tab["y"].tolist() == [1, 0, 1] and tab["x"].dtype == np.float32
    bundle = load_dataset(csv_settings(path, val_split=0.0))
    assert bundle.train.tensors[0].dtype == torch.float32


def test_column_reader_and_row_reader_give_the_same_table(tmp_path, monkeypatch):
    path = tmp_path / "mixed.csv"
    path.write_text("size;colour;price\n" + "".join(
        f"{i * 1.5};{'red' if i % 3 else 'blue'};{i % 4}\n" for i in range(40)))
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,target,b\n" + "".join(f"{i / 7:.4f},{i % 5},{-i}\n"
                                                 for i in range(60)))
    fast = [csv_table(path, "", [], "auto"), csv_table(numbers, "target", [], "auto")]
    monkeypatch.setattr(csv_text, "_Columns", lambda p: (_ for _ in ()).throw(
        csv_text._Unusual()))
    slow = [csv_table(path, "", [], "auto"), csv_table(numbers, "target", [], "auto")]
    assert fast[0]["feature_names"] == slow[0]["feature_names"] == ["size", "colour=blue",
                                                                    "colour=red"]
    assert fast[0]["class_names"] == slow[0]["class_names"] == ["0", "1", "2", "3"]
    assert fast[1]["class_names"] == slow[1]["class_names"] == ["0", "1", "2", "3", "4"]
    for a, b in zip(fast, slow, strict=True):
        assert a["x"].dtype == b["x"].dtype == np.float32
        assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["y"], b["y"])


def test_an_error_past_the_sampled_rows_names_its_row_and_column(tmp_path):
    lines = ["a,b,y"] + [f"{i},{i * 2},{i % 2}" for i in range(1500)]
    lines[1234] = "5,oops,1"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_dataset(csv_settings(path))
    assert str(err.value) == "late.csv row 1235, column 'b': 'oops' is not a number"


def test_a_row_with_an_extra_cell_past_the_sample_is_found(tmp_path):
    lines = ["a,t,y"] + [f"{i},w{i % 3},{i % 2}" for i in range(400)]
    lines[300] = "1,w1,0,9"
    path = tmp_path / "extra.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_dataset(csv_settings(path))
    assert str(err.value) == ("extra.csv row 301: 4 values, but the header has 3 columns; "
                              "fix the row")


def test_split_keeps_float32_and_scales_like_float64(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(500, 3)) * [1, 100, 0.01] + [5, -7, 0]).astype(np.float32)
    y = rng.integers(0, 2, 500)
    out, _, train, val, (offset, scale), _ = core.split_arrays(x, y, True, 0.2, 0,
                                                               "standardize")
    assert out.dtype == np.float32 and train.tolist() == list(range(400))
    order = np.concatenate(core.split_indices(500, 0.2, 0, y))
    expected = ((x[order].astype(np.float64) - x[order[:400]].astype(np.float64).mean(0))
                / x[order[:400]].astype(np.float64).std(0))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(offset, x[order[:400]].astype(np.float64).mean(0), rtol=1e-12)
    assert len(val) == 100


def test_an_owned_array_is_reordered_and_scaled_in_place_like_a_copy():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(257, 3)).astype(np.float32)
    y = rng.integers(0, 3, 257)
    copied = core.split_arrays(x, y, True, 0.3, 7, "normalize")
    given = x.copy()
    moved = core.split_arrays(given, y, True, 0.3, 7, "normalize", in_place=True)
    assert moved[0] is given  # no second array
    assert np.array_equal(moved[0], copied[0]) and np.array_equal(moved[1], copied[1])
    assert not np.array_equal(x, given)  # the copy path left x alone


# -- streaming ----------------------------------------------------------------------------------

def test_a_csv_too_large_for_memory_streams_the_same_batches(tmp_path, monkeypatch):
    path = table(tmp_path, 300)
    held = load_dataset(csv_settings(path))
    monkeypatch.setattr(streaming, "memory_budget", lambda: 1000)
    streamed = load_dataset(csv_settings(path))
    assert isinstance(streamed.train, StreamedRows)
    assert (streamed.task, streamed.class_names) == (held.task, held.class_names)
    assert streamed.feature_names == held.feature_names == ["f0", "f1", "f2", "f3"]
    np.testing.assert_array_equal(streamed.feature_offset, held.feature_offset)
    for shuffle in (True, False):
        a, b = batches(held.train, shuffle), batches(streamed.train, shuffle)
        assert len(a) == len(b) == 8
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            assert xb.dtype == torch.float32
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert len(list((tmp_path / ".plexus-cache").iterdir())) == 1


def test_rows_read_with_pread_equal_the_memory_map(tmp_path, monkeypatch):
    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "X.npy", x)
    index = np.array([7, 3, 4, 5, 19, 3])
    mapped = NpyRows(tmp_path / "X.npy").read(index)
    monkeypatch.setattr(streaming, "address_room", lambda: 10)  # no room for a map
    rows = NpyRows(tmp_path / "X.npy")
    assert np.array_equal(rows.read(index), x[index]) and np.array_equal(mapped, x[index])
    assert rows._map is None and rows._fd is not None


def test_a_dense_stretch_is_one_read_and_scattered_rows_one_read_per_run(tmp_path,
                                                                         monkeypatch):
    x = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    np.save(tmp_path / "X.npy", x)
    monkeypatch.setattr(streaming, "address_room", lambda: 10)  # no room for a map
    reads = []
    real = os.preadv
    monkeypatch.setattr(streaming.os, "preadv",
                        lambda fd, buffers, offset: reads.append(offset) or real(fd, buffers,
                                                                                 offset))
    rows = NpyRows(tmp_path / "X.npy")
    dense = np.arange(100, 300, 2)[::-1]  # half the rows of a stretch, in any order
    assert np.array_equal(rows.read(dense), x[dense]) and len(reads) == 1
    reads.clear()
    scattered = np.array([900, 5, 6, 7, 500, 5])  # three runs: 5-7, 500, 900
    assert np.array_equal(rows.read(scattered), x[scattered]) and len(reads) == 3


def test_an_npy_folder_streams_and_matches_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    folder = tmp_path / "arrays"
    folder.mkdir()
    np.save(folder / "X.npy", rng.normal(size=(200, 5)).astype(np.float32))
    np.save(folder / "y.npy", rng.integers(0, 4, 200))
    settings = DatasetSettings(name="npz", path=str(folder / "X.npy"), scaling="standardize")
    held = load_dataset(settings)
    monkeypatch.setattr(streaming, "memory_budget", lambda: 1000)
    streamed = load_dataset(settings)
    assert isinstance(streamed.train, StreamedRows) and streamed.num_classes == 4
    for (xa, ya), (xb, yb) in zip(batches(held.val, False), batches(streamed.val, False),
                                  strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_a_large_npz_is_copied_into_a_cache_and_streamed(tmp_path, small_budget):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(100, 6)), rng.normal(size=100)
    np.savez_compressed(tmp_path / "big.npz", X=x, y=y)
    bundle = load_dataset(DatasetSettings(name="npz", path=str(tmp_path / "big.npz"),
                                          scaling="none", options={"scale_target": False}))
    assert bundle.task == "regression" and bundle.name == "big.npz"
    cache = next((tmp_path / ".plexus-cache").iterdir())
    assert np.array_equal(np.load(cache / "X.npy"), x)
    xb, yb = bundle.train.batch(np.arange(3))
    index = core.split_indices(100, 0.2, 0)[0][:3]
    np.testing.assert_array_equal(xb.numpy(), x[index].astype(np.float32))
    np.testing.assert_array_equal(yb.numpy()[:, 0], y[index].astype(np.float32))


def test_the_cache_is_rebuilt_when_the_file_changes(tmp_path, small_budget):
    path = table(tmp_path, 100, seed=0)
    first = load_dataset(csv_settings(path, scaling="none"))
    caches = list((tmp_path / ".plexus-cache").iterdir())
    assert len(caches) == 1
    again = load_dataset(csv_settings(path, scaling="none"))  # unchanged: reused
    assert list((tmp_path / ".plexus-cache").iterdir()) == caches
    assert torch.equal(first.train.batch(np.arange(4))[0], again.train.batch(np.arange(4))[0])
    time.sleep(0.01)
    table(tmp_path, 120, seed=9)  # same name, new contents
    os.utime(path, ns=(time.time_ns(), time.time_ns()))
    changed = load_dataset(csv_settings(path, scaling="none"))
    now = list((tmp_path / ".plexus-cache").iterdir())
    assert len(now) == 1 and now != caches
    assert len(changed.train) + len(changed.val) == 120


def test_a_set_that_can_neither_fit_nor_stream_is_refused_in_one_line(tmp_path, small_budget,
                                                                      monkeypatch):
    path = table(tmp_path, 100)
    monkeypatch.setattr(row_cache.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(0, 0, 10))
    with pytest.raises(DataError) as err:
        load_dataset(csv_settings(path))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("t.csv: too large to load whole (")
    assert "of disk where 0 MB is free; free some disk or memory" in message
    assert not list((tmp_path / ".plexus-cache").iterdir())  # no partial cache left


def test_a_large_csv_with_text_is_refused_naming_the_memory(tmp_path, small_budget):
    path = tmp_path / "words.csv"
    path.write_text("a,colour,y\n" + "".join(f"{i},red,{i % 2}\n" for i in range(50)))
    with pytest.raises(DataError) as err:
        load_dataset(csv_settings(path))
    assert str(err.value).startswith("words.csv: too large to load whole (")
    assert "only a table of numbers streams from disk, and near row 2: could not convert " \
           "string 'red'" in str(err.value)


def test_conversion_in_small_blocks_gives_the_same_cache_and_error_rows(tmp_path, monkeypatch):
    path = table(tmp_path, 500, seed=4)
    caches = []
    for block in (1 << 30, 300):  # one block; blocks of a few lines (the GIL is let go between)
        monkeypatch.setattr(row_cache, "BLOCK_BYTES", block)
        folder = tmp_path / f"cache{block}"
        folder.mkdir()
        row_cache.csv_to_rows(path, folder, "label", "why")
        caches.append((np.load(folder / "X.npy"), np.load(folder / "y.npy")))
    (x1, y1), (x2, y2) = caches
    assert x1.shape == (500, 4) and x1.dtype == np.float32
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    lines = path.read_text().splitlines()
    lines[401] = "nan," + lines[401].split(",", 1)[1]  # the file's line 402
    path.write_text("\n".join(lines) + "\n")
    for block in (1 << 30, 300):
        monkeypatch.setattr(row_cache, "BLOCK_BYTES", block)
        with pytest.raises(DataError) as err:
            row_cache.csv_to_rows(path, tmp_path, "label", "why")
        assert str(err.value) == "t.csv near row 402: NaN or infinity; fix or remove that row"


def test_budget_is_a_share_of_the_tightest_room(monkeypatch):
    monkeypatch.setattr(streaming, "_meminfo", lambda key: 8 * 1024 ** 3)
    monkeypatch.setattr(streaming, "_cgroup_room", lambda: None)
    monkeypatch.setattr(streaming, "address_room", lambda: 2 * 1024 ** 3)
    assert streaming.memory_budget() == 1024 ** 3
    assert streaming.fits_in_memory(512 * 1024 ** 2)
    assert not streaming.fits_in_memory(512 * 1024 ** 2 + 1)


# -- image folders ------------------------------------------------------------------------------

def test_image_batches_decode_each_file_once(tmp_path, monkeypatch):
    from PIL import Image

    root = tmp_path / "photos"
    for c, colour in enumerate([(250, 0, 0), (0, 0, 250)]):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (9, 7), (colour[0], 10 * i, colour[2])).save(
                root / f"c{c}" / f"{i}.png")
    bundle = load_dataset(DatasetSettings(name="images", path=str(root), val_split=0.2,
                                          options={"size": 8}))
    assert isinstance(bundle.train, CachedImageFolder) and len(bundle.train) == 8
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: opened.append(p) or real_open(p))
    first = batches(bundle.train, True)
    second = batches(bundle.train, True)
    assert len(opened) == 8  # every image once, over two epochs
    items = torch.stack([bundle.train[i][0] for i in range(8)])
    x, _ = bundle.train.batch(np.arange(8))
    assert torch.equal(x, items) and x.dtype == torch.float32
    assert sum(len(b[0]) for b in first) == sum(len(b[0]) for b in second) == 8
    monkeypatch.setattr(streaming, "memory_budget", lambda: 10)
    lazy = load_dataset(DatasetSettings(name="images", path=str(root), options={"size": 8}))
    assert type(lazy.train) is ImageFolderDataset and not hasattr(lazy.train, "batch")
