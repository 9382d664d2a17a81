"""runtime.data: built-in sets, users' files, splits, scaling, laziness and error messages."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch

from graph.settings import DatasetSettings
from runtime import data
from runtime.data import DATASETS, DataBundle, DataError, describe, load_dataset, preview
from runtime.datasets import core

TWO_D = ["xor", "spirals", "circles", "moons", "blobs"]
BUILTIN = [*TWO_D, "house_prices", "digits"]


def settings(name: str, **kw) -> DatasetSettings:
    return DatasetSettings(name=name, **kw)


def arrays(ds) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*(ds[i] for i in range(len(ds))), strict=True)
    return torch.stack(xs).numpy(), torch.stack(ys).numpy()


# -- registry -----------------------------------------------------------------------------------

def test_registry_lists_builtins_and_file_kinds():
    assert set(BUILTIN) | {"csv", "npz", "images", "idx"} <= set(DATASETS)
    for key, info in DATASETS.items():
        assert info.id == key and info.title and info.description
        assert info.task in ("classification", "regression")
        assert info.kind in ("2d", "tabular", "image", "sequence", "file")
    assert DATASETS["house_prices"].task == "regression"
    assert {DATASETS[k].kind for k in TWO_D} == {"2d"}


def test_a_registered_builder_is_loadable():
    info = data.DatasetInfo("tiny_test", "Tiny", "two points", "classification", "2d")

    @data.register(info)
    def tiny(s: DatasetSettings) -> DataBundle:
        return data.from_arrays(s.name, np.array([[0.0, 0], [1, 1], [2, 2], [3, 3]]),
                                np.array([0, 1, 0, 1]), "classification", s,
                                class_names=["a", "b"])

    try:
        bundle = load_dataset(settings("tiny_test", val_split=0.5))
        assert (len(bundle.train), len(bundle.val)) == (2, 2)
        assert describe(bundle) == "tiny_test: 2 train / 2 val, 2 features, 2 classes"
    finally:
        del DATASETS["tiny_test"], data.BUILDERS["tiny_test"]


def test_unknown_name_and_missing_path_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match=r"^dataset 'mnist' is unknown; choose one of: xor, "):
        load_dataset(settings("mnist"))
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv"))
    assert str(err.value) == "dataset 'csv': no file chosen; choose one in the dataset settings"
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv", path=str(missing)))
    assert str(err.value) == f"{missing}: file not found; check the dataset path"


# -- built-in sets ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_shapes_dtypes_and_split(name):
    bundle = load_dataset(settings(name, samples=500, val_split=0.2))
    x, y = bundle.train[0]
    assert x.dtype == torch.float32 and tuple(x.shape) == bundle.input_shape
    assert bundle.input_dtype == "float" and bundle.name == name
    total = 1797 if name == "digits" else 500
    assert len(bundle.train) + len(bundle.val) == total
    assert len(bundle.val) == int(np.ceil(0.2 * total))
    if bundle.task == "classification":
        assert y.dtype == torch.int64 and y.shape == ()
        assert bundle.num_classes == len(bundle.class_names)
    else:
        assert y.dtype == torch.float32 and tuple(y.shape) == (1,)
        assert bundle.num_classes == 0 and bundle.class_names == []
    xs, _ = arrays(bundle.val)
    low, high = bundle.value_range
    assert low <= xs.min() and xs.max() <= high


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_is_deterministic_for_a_seed(name):
    a = load_dataset(settings(name, seed=3, samples=300))
    b = load_dataset(settings(name, seed=3, samples=300))
    c = load_dataset(settings(name, seed=4, samples=300))
    for part in ("train", "val"):
        for ta, tb in zip(getattr(a, part).tensors, getattr(b, part).tensors, strict=True):
            assert torch.equal(ta, tb)
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])


@pytest.mark.parametrize("name", TWO_D)
def test_two_d_sets_are_bounded_balanced_and_stratified(name):
    bundle = load_dataset(settings(name, samples=600, noise=0.1, val_split=0.25))
    assert bundle.input_shape == (2,) and bundle.feature_names == ["x", "y"]
    x, y = bundle.train.tensors
    assert x.abs().max() < 1.6
    k = bundle.num_classes
    counts_train = np.bincount(y.numpy(), minlength=k)
    counts_val = np.bincount(bundle.val.tensors[1].numpy(), minlength=k)
    total = counts_train + counts_val
    assert total.max() - total.min() <= 1  # balanced
    assert np.allclose(counts_val / total, 0.25, atol=0.01)  # same share from every class


def test_xor_label_is_the_sign_product():
    bundle = load_dataset(settings("xor", samples=400, noise=0.3))
    x, y = bundle.train.tensors
    expected = (torch.sign(x[:, 0]) * torch.sign(x[:, 1]) > 0).long()
    assert torch.equal(y, expected)
    assert set(np.round(np.abs(arrays(load_dataset(settings("xor", noise=0.0)).train)[0]),
                        6).ravel()) == {0.5}


def test_noise_spreads_the_points():
    clean = load_dataset(settings("circles", noise=0.0)).train.tensors[0]
    noisy = load_dataset(settings("circles", noise=0.5)).train.tensors[0]
    radius = clean.norm(dim=1)
    assert radius.max() <= 1.0 + 1e-6 and noisy.norm(dim=1).max() > 1.2


def test_blobs_classes_option():
    bundle = load_dataset(settings("blobs", options={"classes": 5}))
    assert bundle.num_classes == 5 and bundle.class_names == ["0", "1", "2", "3", "4"]
    with pytest.raises(DataError) as err:
        load_dataset(settings("blobs", options={"classes": 1}))
    assert str(err.value) == "dataset option 'classes' must be a whole number from 2 to 10, not 1"


def test_digits_are_the_real_1797_images_in_unit_range():
    bundle = load_dataset(settings("digits"))
    assert describe(bundle) == "digits: 1437 train / 360 val, 1x8x8, 10 classes"
    x = torch.cat([bundle.train.tensors[0], bundle.val.tensors[0]])
    y = torch.cat([bundle.train.tensors[1], bundle.val.tensors[1]])
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() == 1.0 and bundle.value_range == (0.0, 1.0)
    assert bundle.class_names == [str(d) for d in range(10)]
    assert np.bincount(y.numpy()).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    val_counts = np.bincount(bundle.val.tensors[1].numpy())
    assert val_counts.min() >= 35 and val_counts.max() <= 37  # stratified


def test_house_prices_are_standardized_with_stats_to_undo_it():
    bundle = load_dataset(settings("house_prices", samples=1000))
    assert bundle.task == "regression" and bundle.target_names == ["price_eur"]
    assert bundle.feature_names[:2] == ["size_m2", "bedrooms"]
    assert "neighbourhood_wealth" in bundle.feature_names
    x, y = bundle.train.tensors
    garden = bundle.feature_names.index("has_garden")
    scaled = [i for i in range(x.shape[1]) if i != garden]
    assert np.allclose(x[:, scaled].mean(0), 0, atol=1e-5)
    assert np.allclose(x[:, scaled].std(0, unbiased=False), 1, atol=1e-4)
    assert set(x[:, garden].unique().tolist()) == {0.0, 1.0}  # a flag stays a flag
    assert abs(float(y.mean())) < 1e-5 and abs(float(y.std(unbiased=False)) - 1) < 1e-4
    prices = bundle.raw_targets(y.numpy())
    assert 20_000 < prices.min() and prices.max() < 3_000_000
    sizes = bundle.raw_features(x.numpy())[:, 0]
    assert 24.99 <= sizes.min() and sizes.max() <= 400.01
    # the features carry the price: even a straight-line fit explains most of it
    xv, yv = bundle.val.tensors
    design = np.c_[x.numpy(), np.ones(len(x))]
    coef, *_ = np.linalg.lstsq(design, y.numpy(), rcond=None)
    pred = np.c_[xv.numpy(), np.ones(len(xv))] @ coef
    r2 = 1 - ((pred - yv.numpy()) ** 2).sum() / ((yv.numpy() - yv.numpy().mean()) ** 2).sum()
    assert r2 > 0.75


def test_preview_and_describe():
    items = preview(settings("digits"), n=5)
    assert len(items) == 5
    image, label = items[0]
    assert isinstance(image, np.ndarray) and image.shape == (1, 8, 8) and label in "0123456789"
    house = preview(settings("house_prices"), n=2)
    features, label = house[0]
    assert features.shape == (7,) and features[0] > 20  # size in square metres, not scaled
    assert label.startswith("price_eur ") and "," in label
    bundle = load_dataset(settings("house_prices", samples=100))
    assert describe(bundle) == "house_prices: 80 train / 20 val, 7 features, regression"
    assert len(preview(bundle, n=3)) == 3


# -- splits -------------------------------------------------------------------------------------

def test_split_is_stratified_and_complete():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = core.split_indices(100, 0.3, 0, labels)
    assert len(val) == 30 and sorted(np.r_[train, val].tolist()) == list(range(100))
    assert np.bincount(labels[val]).tolist() == [15, 9, 6]
    train0, val0 = core.split_indices(100, 0.0, 0, labels)
    assert len(val0) == 0 and len(train0) == 100


# -- CSV ----------------------------------------------------------------------------------------

def write_csv(path, header, rows, sep=","):
    path.write_text("\n".join([sep.join(header)] + [sep.join(map(str, r)) for r in rows]) + "\n")
    return path


def houses(tmp_path, n=40):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        size = 50 + i * 5
        rows.append([size, 1 + i % 4, ["north", "south", "east"][i % 3],
                     round(size * 3000 + rng.normal(0, 1000), 1)])
    return write_csv(tmp_path / "houses.csv", ["size", "rooms", "area", "price"], rows)


def test_csv_regression_one_hot_and_train_only_standardization(tmp_path):
    bundle = load_dataset(settings("csv", path=str(houses(tmp_path)), val_split=0.25))
    assert bundle.name == "houses.csv" and bundle.task == "regression"
    assert bundle.feature_names == ["size", "rooms", "area=east", "area=north", "area=south"]
    assert bundle.target_names == ["price"] and bundle.input_shape == (5,)
    assert (len(bundle.train), len(bundle.val)) == (30, 10)
    x, y = bundle.train.tensors
    assert x.dtype == torch.float32 and y.shape == (30, 1)
    assert np.allclose(x[:, :2].mean(0), 0, atol=1e-5)  # train statistics only ...
    assert not np.allclose(bundle.val.tensors[0][:, :2].mean(0), 0, atol=1e-3)  # ... not val
    assert set(x[:, 2:].unique().tolist()) == {0.0, 1.0}  # one-hot columns stay 0/1
    raw = bundle.raw_features(x.numpy())
    assert set(raw[:, 0].round().astype(int)) <= set(range(50, 250, 5))


def test_csv_scaling_normalize_and_none(tmp_path):
    path = str(houses(tmp_path))
    norm = load_dataset(settings("csv", path=path, scaling="normalize"))
    x = norm.train.tensors[0]
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    raw = load_dataset(settings("csv", path=path, scaling="none", target_column="size"))
    assert raw.feature_offset is None
    assert raw.feature_names[0] == "rooms"
    assert set(raw.train.tensors[0][:, 0].tolist()) <= {1.0, 2.0, 3.0, 4.0}


def test_csv_classification_from_text_or_few_integers(tmp_path):
    path = str(houses(tmp_path))
    by_area = load_dataset(settings("csv", path=path, target_column="area"))
    assert by_area.task == "classification"
    assert by_area.class_names == ["east", "north", "south"] and by_area.num_classes == 3
    assert by_area.train.tensors[1].dtype == torch.int64
    by_rooms = load_dataset(settings("csv", path=path, target_column="rooms"))
    assert by_rooms.task == "classification" and by_rooms.class_names == ["1", "2", "3", "4"]
    forced = load_dataset(settings("csv", path=path, target_column="rooms",
                                   options={"task": "regression"}))
    assert forced.task == "regression"


def test_csv_categorical_option_one_hots_a_numeric_column(tmp_path):
    path = str(houses(tmp_path))
    bundle = load_dataset(settings("csv", path=path, options={"categorical": ["rooms"]}))
    assert bundle.feature_names[1:5] == ["rooms=1", "rooms=2", "rooms=3", "rooms=4"]
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv", path=path, options={"categorical": ["floor"]}))
    assert str(err.value) == ("dataset option 'categorical': houses.csv has no feature column "
                              "'floor'")


def test_csv_semicolons_and_blank_lines(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;label\n1;2;x\n\n3;4;y\n5;6;x\n7;8;y\n")
    bundle = load_dataset(settings("csv", path=str(path), val_split=0.5))
    assert bundle.feature_names == ["a", "b"] and bundle.class_names == ["x", "y"]


def test_csv_bad_cell_names_file_row_and_column(tmp_path):
    rows = [[i, i * 2.0] for i in range(30)]
    rows[15][0] = "abc"  # line 17 of the file: the header is row 1
    path = write_csv(tmp_path / "houses.csv", ["size", "price"], rows)
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv", path=str(path)))
    assert str(err.value) == "houses.csv row 17, column 'size': 'abc' is not a number"


def test_csv_other_errors(tmp_path):
    path = houses(tmp_path)
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv", path=str(path), target_column="cost"))
    assert str(err.value) == ("houses.csv: no column 'cost'; the columns are size, rooms, area, "
                              "price; set the target column to one of them")
    empty = write_csv(tmp_path / "gaps.csv", ["a", "b"], [[1, 2], ["", 3], [4, 5]])
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv", path=str(empty)))
    assert str(err.value) == "gaps.csv row 3, column 'a' is empty; fill it in or remove the row"
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError) as err:
        load_dataset(settings("csv", path=str(ragged)))
    assert str(err.value) == ("ragged.csv row 3: 1 values, but the header has 2 columns; "
                              "fix the row")
    nan = write_csv(tmp_path / "nan.csv", ["a", "b"], [[1, 2], ["nan", 3], [4, 5]])
    with pytest.raises(DataError, match=r"^nan.csv row 3, column 'a': 'nan' is not a finite"):
        load_dataset(settings("csv", path=str(nan)))


# -- NPZ ----------------------------------------------------------------------------------------

def test_npz_classification_and_regression(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "set.npz"
    np.savez(path, X=rng.normal(size=(50, 3)), y=np.arange(50) % 2)
    bundle = load_dataset(settings("npz", path=str(path)))
    assert bundle.task == "classification" and bundle.class_names == ["0", "1"]
    assert bundle.input_shape == (3,) and (len(bundle.train), len(bundle.val)) == (40, 10)
    images = tmp_path / "images.npz"
    np.savez(images, X=rng.random((20, 1, 4, 4)), y=rng.normal(size=(20, 2)))
    reg = load_dataset(settings("npz", path=str(images), scaling="none"))
    assert reg.task == "regression" and reg.input_shape == (1, 4, 4)
    assert reg.train.tensors[1].shape == (16, 2) and reg.target_names == ["y0", "y1"]


def test_npz_integer_labels_keep_their_meaning(tmp_path):
    path = tmp_path / "labels.npz"
    np.savez(path, X=np.zeros((12, 2)), y=np.array([0, 1, 3] * 4))  # class 2 absent
    bundle = load_dataset(settings("npz", path=str(path), val_split=0.25))
    assert bundle.class_names == ["0", "1", "2", "3"]
    assert set(bundle.train.tensors[1].tolist()) == {0, 1, 3}
    text = tmp_path / "text.npz"
    np.savez(text, X=np.zeros((6, 2)), y=np.array(["cat", "dog", "ant"] * 2))
    assert load_dataset(settings("npz", path=str(text))).class_names == ["ant", "cat", "dog"]


def test_npz_missing_key_lists_the_keys_present(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, X=np.zeros((4, 2)), labels=np.zeros(4))
    with pytest.raises(DataError) as err:
        load_dataset(settings("npz", path=str(path)))
    assert str(err.value) == ("wrong.npz: no array named 'y'; the file holds: X, labels. Save "
                              "inputs as 'X' and targets as 'y' (numpy.savez(path, X=inputs, "
                              "y=targets))")


# -- image folders ------------------------------------------------------------------------------

def image_folder(tmp_path, per_class=4, mode="RGB"):
    from PIL import Image

    root = tmp_path / "photos"
    colours = {"cat": (200, 30, 30), "dog": (30, 30, 200)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (12, 10), colour).convert(mode).save(root / name / f"{i}.png")
    return root


def test_image_folder_classes_shapes_and_values(tmp_path):
    root = image_folder(tmp_path)
    bundle = load_dataset(settings("images", path=str(root), val_split=0.25))
    assert bundle.class_names == ["cat", "dog"] and bundle.input_shape == (3, 32, 32)
    assert (len(bundle.train), len(bundle.val)) == (6, 2)
    assert sorted(bundle.val.targets.tolist()) == [0, 1]  # one of each class
    x, y = bundle.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.tensor([200, 30, 30] if y == 0 else [30, 30, 200]) / 255
    assert torch.allclose(x[:, 5, 5], expected, atol=1e-6)
    gray = load_dataset(settings("images", path=str(image_folder(tmp_path / "g", mode="L")),
                                 options={"size": [8, 6]}))
    assert gray.input_shape == (1, 8, 6) and gray.train[0][0].shape == (1, 8, 6)
    forced = load_dataset(settings("images", path=str(root), options={"channels": 1}))
    assert forced.train[0][0].shape == (1, 32, 32)


def test_image_folder_reads_files_per_item(tmp_path, monkeypatch):
    from PIL import Image

    root = image_folder(tmp_path)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: opened.append(p) or real_open(p))
    bundle = load_dataset(settings("images", path=str(root)))
    assert len(opened) <= 1  # at most the first image's header, to pick the channels
    opened.clear()
    bundle.train[2]
    bundle.train[2]
    assert opened == [bundle.train.files[2]] * 2
    victim = bundle.train.files[0]
    (root / victim).unlink()
    with pytest.raises(DataError) as err:
        bundle.train[0]
    relative = victim.split("photos/")[-1]
    assert str(err.value).startswith(f"photos/{relative}: cannot read this image (")
    assert str(err.value).endswith("); replace or remove it")
    assert len(pickle.dumps(bundle.train)) < 5000


def test_empty_image_folder_is_a_clear_error(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    with pytest.raises(DataError) as err:
        load_dataset(settings("images", path=str(root)))
    assert str(err.value) == ("photos: no images found; put each class's images in its own "
                              "subfolder, e.g. photos/cat/001.png")


# -- IDX ----------------------------------------------------------------------------------------

def write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def mnist_like(tmp_path, n=30):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 6, 5), dtype=np.uint8)
    labels = np.arange(n) % 3
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:5])
    return tmp_path / "train-images-idx3-ubyte", images, labels


def test_idx_reads_through_a_memory_map(tmp_path):
    path, images, labels = mnist_like(tmp_path)
    bundle = load_dataset(settings("idx", path=str(path), val_split=0.2))
    assert bundle.input_shape == (1, 6, 5) and bundle.class_names == ["0", "1", "2"]
    assert (len(bundle.train), len(bundle.val)) == (24, 6) and bundle.value_range == (0.0, 1.0)
    assert bundle.train._map is None  # nothing read yet
    x, y = bundle.train[0]
    source = int(bundle.train.indices[0])
    assert isinstance(bundle.train.data(), np.memmap)
    assert torch.allclose(x[0], torch.from_numpy(images[source] / 255).float())
    assert int(y) == labels[source] and x.dtype == torch.float32
    clone = pickle.loads(pickle.dumps(bundle.val))
    assert clone._map is None and torch.equal(clone[1][0], bundle.val[1][0])


def test_idx_labels_option_and_errors(tmp_path):
    path, _, _ = mnist_like(tmp_path)
    with pytest.raises(DataError) as err:
        load_dataset(settings("idx", path=str(path),
                              options={"labels": "t10k-labels-idx1-ubyte"}))
    assert str(err.value) == ("t10k-labels-idx1-ubyte has 5 labels but train-images-idx3-ubyte "
                              "has 30 images; choose matching files")
    bad = tmp_path / "images.idx"
    bad.write_bytes(b"\x12\x34\x56\x78" + bytes(40))
    with pytest.raises(DataError) as err:
        load_dataset(settings("idx", path=str(bad)))
    assert str(err.value) == ("images.idx: not an IDX file (magic bytes 12 34 56 78; expected "
                              "00 00, a type code and the number of dimensions, as in MNIST's "
                              "files)")
    gz = tmp_path / "x.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00" + bytes(8))
    with pytest.raises(DataError, match=r"^x.gz is gzip-compressed; unpack it first"):
        load_dataset(settings("idx", path=str(gz)))
    cut = tmp_path / "cut-images"
    cut.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="the file is truncated"):
        load_dataset(settings("idx", path=str(cut)))
