"""Data larger than memory: rows of an .npy file read a batch at a time.

A set whose float32 inputs do not fit ``memory_budget()`` is not loaded: its inputs stay in
an .npy file (the user's own, or a cache converted from a CSV or NPZ file, runtime/datasets/
row_cache.py) and ``StreamedRows.batch`` reads the rows of one batch, scaled with statistics
gathered in slices over the training rows. Rows are read through a memory map when the
process may map the whole file, else with ``os.pread`` (under an address-space limit a map
of the file would not fit). Targets are small (one number per sample) and stay in memory.
"""

from __future__ import annotations

import math
import os
import resource
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from runtime.datasets.core import (
    DataBundle,
    DataError,
    fit_scaling,
    prepared_targets,
    split_indices,
)

BUDGET_SHARE = 0.5  # of the memory this process can still get, for one data set
IN_MEMORY_COPIES = 2  # a set loaded whole costs its source array and the split's copy
SPAN_DENSITY = 0.25  # share of a stretch of rows wanted above which the stretch is read whole
SPAN_BYTES = 64 * 1024 * 1024  # the largest stretch read whole


def _meminfo(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """memory.max - memory.current of this process' cgroup (v2), if it has a limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return None


def address_room() -> int | None:
    """Bytes of address space this process may still map (RLIMIT_AS), or None if unlimited."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        status = Path("/proc/self/status").read_text()
        used = next(int(line.split()[1]) * 1024 for line in status.splitlines()
                    if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        used = 0
    return max(0, limit - used)


def memory_budget() -> int:
    """Bytes one data set may take in memory: a share of the least of what the machine has
    available, what this process' cgroup and its address-space limit still allow."""
    rooms = [r for r in (_meminfo("MemAvailable"), _cgroup_room(), address_room())
             if r is not None]
    room = min(rooms) if rooms else 8 * 1024 ** 3
    return int(max(0, room) * BUDGET_SHARE)


def fits_in_memory(data_bytes: int) -> bool:
    """Whether a set of ``data_bytes`` float32 inputs may be loaded whole."""
    return data_bytes * IN_MEMORY_COPIES <= memory_budget()


def gigabytes(n: int) -> str:
    return f"{n / 1024 ** 3:.1f} GB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f} MB"


class NpyRows:
    """The rows of a C-ordered .npy file, read on demand; pickles as its path."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        name = Path(path).name
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
                self.offset = f.tell()
        except (OSError, ValueError) as exc:
            raise DataError(f"{name}: not a readable .npy file ({exc}); save it with "
                            "numpy.save") from None
        if fortran or dtype.hasobject or len(shape) == 0:
            raise DataError(f"{name}: rows cannot be read from it (a Fortran-ordered, object or "
                            "0-d array); save a C-ordered numeric array with numpy.save")
        self.shape, self.dtype = tuple(shape), dtype
        self.row_bytes = dtype.itemsize * math.prod(shape[1:])
        if Path(path).stat().st_size < self.offset + self.row_bytes * shape[0]:
            raise DataError(f"{name}: the file is shorter than its header says; it is "
                            "truncated")
        self._map: np.ndarray | None = None
        self._fd: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_map": None, "_fd": None}

    def _mapped(self) -> np.ndarray | None:
        """The whole file as a read-only memory map, when the address space has room."""
        if self._map is None:
            room = address_room()
            if room is not None and room < 2 * self.row_bytes * self.shape[0]:
                return None
            self._map = np.load(self.path, mmap_mode="r")
        return self._map

    def read(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` (any order, repeats allowed) as a new array."""
        index = np.asarray(index, dtype=np.int64)
        mapped = self._mapped()
        if mapped is not None:
            return np.array(mapped[index])
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        wanted, back = np.unique(index, return_inverse=True)
        span = int(wanted[-1] - wanted[0]) + 1 if len(wanted) else 0
        if span and len(wanted) >= SPAN_DENSITY * span and span * self.row_bytes <= SPAN_BYTES:
            # most rows of a stretch (the scaling statistics read the training rows in
            # order): one read of the stretch, not one per run of consecutive rows
            out = self._pread(int(wanted[0]), span)[wanted - wanted[0]]
        else:
            out = np.empty((len(wanted), *self.shape[1:]), dtype=self.dtype)
            buffer = memoryview(out.reshape(-1).view(np.uint8))
            # one read per run of consecutive rows, straight into the result (plain ints:
            # this loop runs once per row of a shuffled batch)
            size, fd, base = self.row_bytes, self._fd, self.offset
            starts = np.flatnonzero(np.diff(wanted, prepend=-2) != 1).tolist()
            rows = wanted.tolist()
            for first, end in zip(starts, [*starts[1:], len(rows)], strict=True):
                into = buffer[first * size:end * size]
                if os.preadv(fd, [into], base + rows[first] * size) != len(into):
                    self._ended()
        if len(wanted) == len(index) and np.array_equal(wanted, index):
            return out
        return out[back.reshape(-1)]

    def _pread(self, first: int, count: int) -> np.ndarray:
        """Rows first..first+count-1 in one read."""
        out = np.empty((count, *self.shape[1:]), dtype=self.dtype)
        into = memoryview(out.reshape(-1).view(np.uint8))
        if os.preadv(self._fd, [into], self.offset + first * self.row_bytes) != len(into):
            self._ended()
        return out

    def _ended(self) -> None:
        raise DataError(f"{Path(self.path).name}: the file ended early; it changed while "
                        "training")

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.read(np.arange(len(self))[rows])


class RowSelection:
    """Some rows of an NpyRows file, sliceable like an array (for ``fit_scaling``)."""

    def __init__(self, rows: NpyRows, index: np.ndarray) -> None:
        self.rows, self.index = rows, np.sort(index)
        self.shape = (len(self.index), *rows.shape[1:])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, part: slice) -> np.ndarray:
        return self.rows.read(self.index[part])


class StreamedRows(Dataset):
    """Samples whose inputs are rows of an .npy file, read when asked for and scaled with the
    training rows' statistics; targets in memory. ``batch`` reads a whole batch at once."""

    def __init__(self, rows: NpyRows, index: np.ndarray, targets: np.ndarray,
                 offset: np.ndarray | None, scale: np.ndarray | None) -> None:
        self.rows, self.index = rows, np.asarray(index, dtype=np.int64)
        self.targets = torch.from_numpy(np.ascontiguousarray(targets))
        self.offset, self.scale = offset, scale  # float64, as split_arrays scales

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of the samples at ``positions`` (float32, scaled)."""
        positions = np.asarray(positions, dtype=np.int64)
        x = self.rows.read(self.index[positions]).astype(np.float32, copy=False)
        if self.offset is not None:  # float64 arithmetic, then float32: as in memory
            x = ((x - self.offset) / self.scale).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x)), self.targets[positions]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.batch(np.array([i]))
        return x[0], y[0]


def _value_range(rows: RowSelection, offset: np.ndarray | None,
                 scale: np.ndarray | None) -> tuple[float, float]:
    """The scaled inputs' range over the training rows (per-feature bounds, scaled)."""
    low, high = fit_scaling(rows, "normalize")
    high = low + high
    if offset is not None:
        low, high = (low - offset) / scale, (high - offset) / scale
    return float(np.min(low)), float(np.max(high))


def streamed_bundle(name: str, rows: NpyRows, y: np.ndarray, task: str, settings: Any, *,
                    class_names: list[str] | None = None,
                    feature_names: list[str] | None = None,
                    target_names: list[str] | None = None, scale_target: bool = False
                    ) -> DataBundle:
    """A bundle whose inputs stay in ``rows``: split as ``from_arrays`` splits (the same
    samples land in validation, in the same order), scaled with statistics gathered from the
    training rows a slice at a time."""
    n = len(rows)
    if n < 2:
        raise DataError(f"{name}: needs at least 2 samples, found {n}")
    classify = task == "classification"
    train, val = split_indices(n, settings.val_split, settings.seed, y if classify else None)
    per_feature = len(rows.shape) == 2
    offset, scale = fit_scaling(RowSelection(rows, train), settings.scaling, per_feature)
    y, t_offset, t_scale = prepared_targets(y, classify, scale_target, train)
    train_set = StreamedRows(rows, train, y[train], offset, scale)
    return DataBundle(
        train=train_set, val=StreamedRows(rows, val, y[val], offset, scale),
        input_shape=tuple(rows.shape[1:]), input_dtype="float", task=task,
        num_classes=len(class_names or []) if classify else 0,
        class_names=list(class_names or []) if classify else [],
        feature_names=list(feature_names or []),
        value_range=_value_range(RowSelection(rows, train), offset, scale), name=name,
        target_names=[] if classify else list(target_names or
                                              [f"y{i}" for i in range(y.shape[1])]),
        feature_offset=offset, feature_scale=scale, target_offset=t_offset,
        target_scale=t_scale)
