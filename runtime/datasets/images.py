"""Users' image data, read lazily: image folders (one subfolder per class) and MNIST IDX files.

Image sets can be far larger than memory, so loading only lists files (or reads an IDX
header) and each item is read when the trainer asks for it: an image file is decoded once
into a uint8 cache when the whole set fits the memory budget, else every time by DataLoader
workers; an IDX file is memory-mapped. The datasets keep paths, not open handles, so they pickle
cheaply into the training process.
"""

from __future__ import annotations

import math
import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from graph.catalog import CHOICE, INT, STR, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    DataBundle,
    DataError,
    DatasetInfo,
    register,
    split_indices,
)
from runtime.datasets.streaming import fits_in_memory
from runtime.datasets.tabular import existing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a dependency
        raise DataError("reading image folders needs Pillow; install it with "
                        "pip install pillow") from exc
    return Image


# What Pillow raises on a broken or hostile file: its plugins use SyntaxError, struct.error and
# EOFError for bad headers, and DecompressionBombError (an Exception) for a header that claims
# more than twice Image.MAX_IMAGE_PIXELS, before any pixel is decoded.
_BROKEN: tuple[type[BaseException], ...] = (OSError, ValueError, SyntaxError, EOFError,
                                            struct.error, IndexError, TypeError)


def unreadable() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "this image file cannot be read" (Pillow imported lazily)."""
    return (*_BROKEN, _pil().DecompressionBombError)
_BOMB_TEXT = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+) pixels")


def unreadable_image(name: str, exc: BaseException) -> DataError:
    """The one-line error for an image file Pillow cannot (or will not) read, naming it."""
    found = _BOMB_TEXT.search(str(exc))
    if isinstance(exc, _pil().DecompressionBombError) or found:
        size = f"{int(found.group(1)):,} pixels, over the limit of {int(found.group(2)):,}" \
            if found else f"more than {2 * (_pil().MAX_IMAGE_PIXELS or 0):,} pixels"
        return DataError(f"{name}: its header claims {size} (Pillow's MAX_IMAGE_PIXELS guard "
                         "against decompression bombs); shrink the image or remove it")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{name}: cannot read this image ({text}); replace or remove it")


class ImageFolderDataset(Dataset):
    """Images read from their files one item at a time, resized, as float32 (C, H, W) in
    [0, 1]. ``targets`` holds every item's class index without reading any image."""

    def __init__(self, files: list[str], targets: np.ndarray, size: tuple[int, int],
                 channels: int, root: str) -> None:
        self.files = files
        self.targets = np.asarray(targets, dtype=np.int64)
        self.size = size
        self.channels = channels
        self.root = root  # for error messages: files are named relative to it

    def __len__(self) -> int:
        return len(self.files)

    # A DataLoader reads this set with this many worker processes (decoding is the cost).
    loader_workers = max(0, min(4, (os.cpu_count() or 1) - 1))

    def decode(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8 (C, H, W), resized."""
        image_module = _pil()
        path = self.files[i]
        try:
            with image_module.open(path) as image:
                image = image.convert("L" if self.channels == 1 else "RGB")
                image = image.resize((self.size[1], self.size[0]), image_module.BILINEAR)
                pixels = np.array(image, dtype=np.uint8)
        except unreadable() as exc:
            name = Path(path).relative_to(Path(self.root).parent).as_posix()
            raise unreadable_image(name, exc) from None
        return pixels[None] if self.channels == 1 else pixels.transpose(2, 0, 1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = torch.from_numpy(np.ascontiguousarray(self.decode(i)))
        return pixels.float() / 255.0, torch.tensor(self.targets[i])


class CachedImageFolder(ImageFolderDataset):
    """An image folder small enough for memory: for training batches each image is decoded
    once, the first time a batch holds it, into a uint8 array of the whole set, and later
    batches are gathered from it (single items, for previews, are read from their files).
    The cache is not pickled (a training process decodes its own)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._cache: np.ndarray | None = None
        self._decoded: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": None, "_decoded": None}

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The images at ``positions`` (decoding those not decoded yet) and their targets."""
        if self._cache is None:
            self._cache = np.empty((len(self), self.channels, *self.size), np.uint8)
            self._decoded = np.zeros(len(self), bool)
        positions = np.asarray(positions, dtype=np.int64)
        for i in positions[~self._decoded[positions]]:
            self._cache[i] = self.decode(int(i))
            self._decoded[i] = True
        pixels = torch.from_numpy(self._cache[positions])
        return pixels.float() / 255.0, torch.from_numpy(self.targets[positions])


def _image_size(settings: DatasetSettings) -> tuple[int, int]:
    value = settings.options.get("size", 32)
    pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and 4 <= v <= 1024 for v in pair)):
        raise DataError(f"dataset option 'size' must be a whole number or [height, width] from "
                        f"4 to 1024, not {value!r}")
    return int(pair[0]), int(pair[1])


def _channels(settings: DatasetSettings, first: Path, folder: str) -> int:
    value = settings.options.get("channels", "auto")
    named = {"grayscale": 1, "gray": 1, "rgb": 3, 1: 1, 3: 3, "1": 1, "3": 3}
    if value in named and not isinstance(value, bool):
        return named[value]
    if value != "auto":
        raise DataError(f"dataset option 'channels' must be auto, 1 (grayscale) or 3 (RGB), "
                        f"not {value!r}")
    try:  # auto: from the first image's mode (reads its header only)
        with _pil().open(first) as image:
            return 1 if image.mode in _GRAY_MODES else 3
    except unreadable() as exc:
        raise unreadable_image(f"{folder}/{first.parent.name}/{first.name}", exc) from None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


@register(DatasetInfo(
    "images", "Image folder",
    "A folder with one subfolder per class (e.g. photos/cat/1.png, photos/dog/2.jpg). Images "
    "are read from disk as needed, resized, with pixels in [0, 1].",
    "classification", "file", ("path",),
    options=(Field(Param("size", INT, 32, "Side of the square images the network sees (each "
                         "image is resized); a file may also give [height, width].", 4, 1024,
                         label="Image size")),
             Field(Param("channels", CHOICE, "auto", "Grey (1) or colour (3); auto follows the "
                         "first image.", choices=("auto", "1", "3"), label="Channels",
                         choice_labels=("Auto", "1 (grey)", "3 (colour)"))))))
def load_images(settings: DatasetSettings) -> DataBundle:
    root = existing(settings)
    folder = root.name
    if not root.is_dir():
        raise DataError(f"{folder} is a file; choose a folder with one subfolder of images per "
                        "class")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    per_class = {d.name: _images_in(d) for d in class_dirs}
    if not any(per_class.values()):
        loose = " (the images directly in it need to move into them)" if _images_in(root) else ""
        raise DataError(f"{folder}: no images found; put each class's images in its own "
                        f"subfolder{loose}, e.g. {folder}/cat/001.png")
    for name, files in per_class.items():
        if not files:
            raise DataError(f"{folder}/{name}: no images ({', '.join(IMAGE_SUFFIXES)}); add "
                            "some or remove the folder")
    if len(per_class) < 2:
        raise DataError(f"{folder}: only one class folder ('{class_dirs[0].name}'); add a "
                        "subfolder for each other class")
    class_names = list(per_class)
    files = [str(p) for name in class_names for p in per_class[name]]
    targets = np.concatenate([np.full(len(per_class[name]), c, dtype=np.int64)
                              for c, name in enumerate(class_names)])
    size = _image_size(settings)
    channels = _channels(settings, per_class[class_names[0]][0], folder)
    train, val = split_indices(len(files), settings.val_split, settings.seed, targets)
    # decoded once into memory when the uint8 pixels fit the budget, else read by workers
    kind = (CachedImageFolder if fits_in_memory(len(files) * channels * size[0] * size[1])
            else ImageFolderDataset)

    def part(index: np.ndarray) -> ImageFolderDataset:
        return kind([files[i] for i in index], targets[index], size, channels, str(root))

    return DataBundle(train=part(train), val=part(val), input_shape=(channels, *size),
                      input_dtype="float", task="classification", num_classes=len(class_names),
                      class_names=class_names, feature_names=[], value_range=(0.0, 1.0),
                      name=folder)


# -- IDX (MNIST's file format) ------------------------------------------------------------------

MAX_IDX_CLASSES = 65536  # labels are class indices: one of 2**31 would mean 2**31 classes
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx_header(path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, dims, data offset) of an IDX file: 00 00, a type code, the number of
    dimensions, then each dimension as a big-endian uint32."""
    with open(path, "rb") as f:
        magic = f.read(4)
        if magic[:2] == b"\x1f\x8b":
            raise DataError(f"{path.name} is gzip-compressed; unpack it first "
                            f"(gunzip {path.name})")
        if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in _IDX_TYPES or not magic[3]:
            raise DataError(f"{path.name}: not an IDX file (magic bytes {magic.hex(' ') or 'none'}"
                            "; expected 00 00, a type code and the number of dimensions, as in "
                            "MNIST's files)")
        ndim = magic[3]
        raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path.name}: the IDX header is cut short; the file is truncated")
    dims = struct.unpack(f">{ndim}I", raw)
    dtype = _IDX_TYPES[magic[2]]
    offset = 4 + 4 * ndim
    expected = offset + math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    actual = path.stat().st_size
    if actual < expected:
        raise DataError(f"{path.name}: the header promises {expected} bytes but the file has "
                        f"{actual}; the file is truncated")
    return dtype, dims, offset


class IdxDataset(Dataset):
    """Samples of an IDX images file, read through a memory map when an item is asked for.

    The map is opened on first use (and again after unpickling), so only the pages of the
    items read are ever loaded.
    """

    def __init__(self, path: str, dtype: np.dtype, offset: int, dims: tuple[int, ...],
                 indices: np.ndarray, targets: np.ndarray, scale: float) -> None:
        self.path = path
        self.dtype = dtype
        self.offset = offset
        self.dims = dims
        self.indices = np.asarray(indices, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.scale = scale
        self.item_shape = (1, *dims[1:]) if len(dims) == 3 else tuple(dims[1:])
        self._map: np.memmap | None = None

    def data(self) -> np.memmap:
        """The whole file's samples as a read-only memory map."""
        if self._map is None:
            self._map = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset,
                                  shape=self.dims)
        return self._map

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.data()[self.indices[i]]
        x = np.asarray(raw, dtype=np.float32).reshape(self.item_shape)
        if self.scale != 1.0:
            x = x * np.float32(self.scale)
        return torch.from_numpy(x), torch.tensor(self.targets[i])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_map"] = None
        return state


def _labels_file(images: Path, settings: DatasetSettings) -> Path:
    """options['labels'] (relative to the images file's folder), or the sibling whose name
    contains "labels" and shares the longest prefix with the images file's name."""
    given = settings.options.get("labels")
    if given:
        path = Path(str(given)).expanduser()
        path = path if path.is_absolute() else images.parent / path
        if not path.is_file():
            raise DataError(f"dataset option 'labels': {path} not found; choose the IDX labels "
                            "file")
        return path
    guess = images.with_name(images.name.replace("images", "labels"))
    if guess != images and guess.is_file():
        return guess
    candidates = [p for p in images.parent.iterdir()
                  if p.is_file() and "labels" in p.name.lower() and p != images]

    def shared(p: Path) -> int:
        n = 0
        while n < min(len(p.name), len(images.name)) and p.name[n] == images.name[n]:
            n += 1
        return n

    if not candidates:
        raise DataError(f"{images.name}: no labels file found beside it; set the dataset option "
                        "'labels' to the IDX labels file")
    return max(sorted(candidates), key=shared)


@register(DatasetInfo(
    "idx", "IDX files (MNIST format)",
    "An IDX images file (path) and its labels file (found beside it, or options 'labels'), "
    "as MNIST and Fashion-MNIST ship them, unpacked. Read lazily through a memory map; byte "
    "pixels are scaled to [0, 1].",
    "classification", "file", ("path",),
    options=(Field(Param("labels", STR, "", "The IDX labels file; empty: the file beside the "
                         "images whose name contains 'labels'.", label="Labels file")),)))
def load_idx(settings: DatasetSettings) -> DataBundle:
    images = existing(settings)
    dtype, dims, offset = read_idx_header(images)
    if len(dims) not in (2, 3):
        raise DataError(f"{images.name}: IDX images must have 2 or 3 dimensions (samples, "
                        f"height, width), found {len(dims)}; choose the images file")
    if 0 in dims:
        what = "samples" if dims[0] == 0 else "pixels in each image"
        raise DataError(f"{images.name}: its IDX header says {' x '.join(map(str, dims))}, so "
                        f"there are no {what}; choose a file with data")
    labels_path = _labels_file(images, settings)
    l_dtype, l_dims, l_offset = read_idx_header(labels_path)
    if len(l_dims) != 1 or l_dtype.kind not in "iu":
        raise DataError(f"{labels_path.name}: an IDX labels file holds one integer per sample, "
                        f"found {l_dtype} values of shape {l_dims}")
    if l_dims[0] != dims[0]:
        raise DataError(f"{labels_path.name} has {l_dims[0]} labels but {images.name} has "
                        f"{dims[0]} images; choose matching files")
    targets = np.array(np.memmap(labels_path, dtype=l_dtype, mode="r", offset=l_offset,
                                 shape=l_dims), dtype=np.int64)
    if targets.min() < 0:
        raise DataError(f"{labels_path.name}: labels must not be negative")
    if targets.max() >= MAX_IDX_CLASSES:
        raise DataError(f"{labels_path.name}: label {int(targets.max()):,} is not a class index "
                        f"(labels are 0 to {MAX_IDX_CLASSES - 1:,}); choose the labels file")
    num_classes = int(targets.max()) + 1
    if dtype == np.uint8:
        scale, value_range = 1.0 / 255.0, (0.0, 1.0)
    else:  # rare: other pixel types stay as stored; one pass over the map finds their range
        scale = 1.0
        data = np.memmap(images, dtype=dtype, mode="r", offset=offset, shape=dims)
        value_range = (float(data.min()), float(data.max()))
        del data
    train, val = split_indices(dims[0], settings.val_split, settings.seed, targets)

    def part(index: np.ndarray) -> IdxDataset:
        return IdxDataset(str(images), dtype, offset, dims, index, targets[index], scale)

    train_set = part(train)
    return DataBundle(train=train_set, val=part(val), input_shape=train_set.item_shape,
                      input_dtype="float", task="classification", num_classes=num_classes,
                      class_names=[str(c) for c in range(num_classes)], feature_names=[],
                      value_range=value_range, name=images.name)
