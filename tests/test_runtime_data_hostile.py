"""Users' data files that used to give internal errors (issue 15): a PNG bomb, IDX files with
no samples or absurd headers, NPZ arrays of the wrong kind. Each is one DataError naming the
file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from graph.settings import DatasetSettings
from runtime.data import DataError, load_dataset


def png_bomb(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims width x height greyscale pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def image_folder(root: Path) -> Path:
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        Image.new("L", (8, 8)).save(root / name / "1.png")
    return root


BOMB = ("its header claims 900,000,000 pixels, over the limit of 178,956,970 (Pillow's "
        "MAX_IMAGE_PIXELS guard against decompression bombs); shrink the image or remove it")


def test_png_bomb_is_named_when_it_is_the_first_image(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "photos")
    png_bomb(root / "a" / "0.png", 30000, 30000)
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSettings(name="images", path=str(root)))
    assert str(err.value) == f"photos/a/0.png: {BOMB}"


def test_png_bomb_is_named_when_an_item_is_read(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "photos")
    png_bomb(root / "b" / "2.png", 30000, 30000)
    bundle = load_dataset(DatasetSettings(name="images", path=str(root), val_split=0.0))
    items = {Path(f).name + Path(f).parent.name: i for i, f in enumerate(bundle.train.files)}
    with pytest.raises(DataError) as err:
        bundle.train[items["2.pngb"]]
    assert str(err.value) == f"photos/b/2.png: {BOMB}"


def write_idx(path: Path, code: int, dims: tuple[int, ...], data: bytes = b"") -> Path:
    path.write_bytes(b"\0\0" + bytes([code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
                     + data)
    return path


@pytest.mark.parametrize("dims, labels, message", [
    ((0, 28, 28), 0, "x-images: its IDX header says 0 x 28 x 28, so there are no samples; "
     "choose a file with data"),
    ((3, 0, 28), 3, "x-images: its IDX header says 3 x 0 x 28, so there are no pixels in each "
     "image; choose a file with data"),
])
def test_idx_without_data_is_one_line(tmp_path: Path, dims, labels, message) -> None:
    images = write_idx(tmp_path / "x-images", 8, dims)
    write_idx(tmp_path / "x-labels", 8, (labels,), bytes(labels))
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSettings(name="idx", path=str(images)))
    assert str(err.value) == message


def test_idx_sizes_that_overflow_int64_are_truncation(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "y-images", 8, (4_000_000_000, 65535, 65535))
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSettings(name="idx", path=str(images)))
    assert str(err.value) == ("y-images: the header promises 17179344900000000016 bytes but "
                              "the file has 16; the file is truncated")


def test_idx_label_that_would_mean_billions_of_classes(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "z-images", 8, (2, 2, 2), bytes(8))
    write_idx(tmp_path / "z-labels", 0x0C, (2,), struct.pack(">2i", 0, 2 ** 31 - 1))
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSettings(name="idx", path=str(images)))
    assert str(err.value) == ("z-labels: label 2,147,483,647 is not a class index (labels are "
                              "0 to 65,535); choose the labels file")


@pytest.mark.parametrize("arrays, options, message", [
    ({"X": np.zeros((0, 3)), "y": np.zeros(0, int)}, {},
     "d.npz: X holds no samples (shape (0, 3)); add some"),
    ({"X": np.float32(3), "y": np.int64(1)}, {}, "d.npz: X is a single value; it needs one row "
     "per sample"),
    ({"X": np.zeros((4, 2)), "y": np.int64(1)}, {}, "d.npz: y is a single value; it needs one "
     "row per sample"),
    ({"X": np.zeros((4, 0)), "y": np.arange(4)}, {}, "d.npz: X has no values per sample (shape "
     "(4, 0)); each sample needs at least one feature"),
    ({"X": np.zeros((4, 2)), "y": np.array([0.0, np.nan, 1.0, 0.0])},
     {"task": "classification"}, "d.npz: y[1] is NaN or infinite, not a class label; fix or "
     "remove that sample"),
    ({"y": np.arange(4)}, {}, "d.npz: no array named 'X'; the file holds: y. Save inputs as "
     "'X' and targets as 'y' (numpy.savez(path, X=inputs, y=targets))"),
    ({"X": np.array([[1], [2], [3], [4]], dtype=object), "y": np.arange(4)}, {},
     "d.npz: array 'X' holds Python objects, which are not loaded for safety; save plain "
     "numbers or text"),
])
def test_npz_of_the_wrong_kind_is_one_line(tmp_path: Path, arrays, options, message) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSettings(name="npz", path=str(path), options=options))
    assert str(err.value) == message


@pytest.mark.parametrize("text, message", [
    ("", "e.csv is empty; it needs a header row and one row per sample"),
    ("a\n1\n2\n3\n", "e.csv: no feature columns besides the target 'a'"),
    ("a,b,y\nnan,1,0\nnan,2,1\nnan,3,0\n", "e.csv row 2, column 'a': 'nan' is not a finite "
     "number"),
    ("a,b,y\n,1,0\n,2,1\n,3,0\n", "e.csv row 2, column 'a' is empty; fill it in or remove the "
     "row"),
])
def test_csv_of_the_wrong_shape_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSettings(name="csv", path=str(path)))
    assert str(err.value) == message
