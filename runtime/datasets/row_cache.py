"""Caches of CSV and NPZ files as .npy rows, for sets too large to load whole.

A file whose float32 inputs do not fit the memory budget is converted once, a block of rows
at a time, into X.npy (float32 inputs) and y.npy (targets) in ``.plexus-cache`` beside it
(or in ~/.cache/plexus when that folder is not writable). The cache folder is named by the
file's name, size and modification time, so a changed file gets a new one and the old one is
removed; a conversion that fails or is interrupted leaves only a ``.partial`` folder, which
the next try removes.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from runtime.datasets.core import DataError
from runtime.datasets.streaming import gigabytes

CACHE_DIR = ".plexus-cache"
# CSV text converted at a time (whole lines): np.loadtxt holds the GIL while it parses a
# block, so in the editor a 50,000-line block (20 MB) froze the window for up to 2 s; half
# a megabyte parses in a few milliseconds at the same total cost
BLOCK_BYTES = 1 << 19
_HEADER_BYTES = 128  # room for any .npy header of a 2-D array: rewritten with the final shape


def cache_folder(source: Path, variant: str = "") -> Path:
    """Where the cache of ``source`` goes (``variant``: what else it depends on, such as the
    target column); stale caches of the same file are removed."""
    stat = source.stat()
    tag = hashlib.sha1(variant.encode()).hexdigest()[:8]
    key = f"{source.name}.{stat.st_size}-{stat.st_mtime_ns}-{tag}"
    home = Path.home() / ".cache" / "plexus"
    place = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    for base in (source.parent / CACHE_DIR, home / place):
        try:
            base.mkdir(parents=True, exist_ok=True)
            probe = base / ".write-test"
            probe.touch()
            probe.unlink()
        except OSError:
            continue
        for old in base.glob(f"{source.name}.*"):
            if old.name != key:
                shutil.rmtree(old, ignore_errors=True)
        return base / key
    raise DataError(f"{source.name}: too large to load whole, and no folder to cache it in "
                    f"({source.parent / CACHE_DIR} and {home} are not writable)")


def cached(source: Path, need: int, variant: str, build: Callable[[Path], None], why: str
           ) -> Path:
    """The cache folder of ``source``, built by ``build(folder)`` unless already complete.
    ``need`` is the disk it takes; a disk without that room refuses with one line that
    starts with ``why`` (the memory loading it whole would take)."""
    folder = cache_folder(source, variant)
    if (folder / "y.npy").is_file():  # written last: the cache is complete
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    free = shutil.disk_usage(partial).free
    if free < need:
        shutil.rmtree(partial, ignore_errors=True)
        raise DataError(f"{why}, and its cache needs {gigabytes(need)} of disk where "
                        f"{gigabytes(free)} is free; free some disk or memory")
    try:
        build(partial)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """A version 1.0 .npy header padded to _HEADER_BYTES."""
    text = repr({"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                 "fortran_order": False, "shape": tuple(shape)})
    text = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


# -- CSV ----------------------------------------------------------------------------------------

def csv_layout(path: Path) -> tuple[str, int, list[str], int]:
    """(delimiter, header line number, header, estimated float32 bytes of all columns)
    from the first 64 KB of a CSV file."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        head = f.read(65536)
    lines = head.splitlines()
    delimiter = max([",", ";", "\t"], key=(lines[0] if lines else "").count)
    header_line, header = 0, []
    for number, row in enumerate(csv.reader(lines, delimiter=delimiter), 1):
        if any(cell.strip() for cell in row):
            header_line, header = number, [c.strip() for c in row]
            break
    body = max(1, len(head.encode("utf-8")) - sum(len(x) + 1 for x in lines[:header_line]))
    rows_in_head = max(1, len(lines) - header_line)
    rows = path.stat().st_size * rows_in_head / body
    return delimiter, header_line, header, int(rows * max(1, len(header)) * 4)


def csv_to_rows(path: Path, folder: Path, target: str, why: str) -> None:
    """Convert a CSV file of numbers into ``folder``/X.npy (the other columns, float32) and
    y.npy (the ``target`` column), a block of rows at a time. ``why`` starts the message of
    a file that cannot be converted (it says how much memory loading it whole would take)."""
    delimiter, header_line, header, _ = csv_layout(path)
    if target not in header:
        raise DataError(f"{path.name}: no column '{target}'; the columns are "
                        f"{', '.join(header)}; set the target column to one of them")
    t = header.index(target)
    inputs = [j for j in range(len(header)) if j != t]
    targets, rows = [], 0
    warnings.filterwarnings("ignore", "Input line", UserWarning)  # blank lines
    with open(path, encoding="utf-8-sig", newline="") as f, open(folder / "X.npy", "wb") as out:
        out.write(_npy_header((0, len(inputs)), np.float32))
        line = header_line
        for _ in range(header_line):
            f.readline()
        while block_lines := f.readlines(BLOCK_BYTES):
            try:
                block = np.loadtxt(block_lines, dtype=np.float32, delimiter=delimiter,
                                   comments=None, quotechar='"', ndmin=2)
            except ValueError as exc:
                found = str(exc).rstrip(".")
                raise DataError(f"{why}; only a table of numbers streams from disk, and near "
                                f"row {line + 1}: {found} (counted from 0 there)") from None
            if block.shape[1] != len(header):
                raise DataError(f"{path.name} near row {line + 1}: {block.shape[1]} values, but "
                                f"the header has {len(header)} columns; fix the row")
            bad = ~np.isfinite(block).all(1)
            if bad.any():
                raise DataError(f"{path.name} near row {line + 1 + int(np.flatnonzero(bad)[0])}"
                                ": NaN or infinity; fix or remove that row")
            out.write(np.ascontiguousarray(block[:, inputs]).tobytes())
            targets.append(block[:, t].copy())
            rows += len(block)
            line += len(block_lines)
        out.seek(0)
        out.write(_npy_header((rows, len(inputs)), np.float32))
    np.save(folder / "y.npy", np.concatenate(targets) if targets else np.zeros(0, np.float32))


# -- NPZ ----------------------------------------------------------------------------------------

def npz_members(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The arrays of an .npz file by name (without .npy), with shape and dtype, from their
    headers only."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith(".npy"):
                continue
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(member)
            found[name[:-4]] = (tuple(shape), dtype)
    return found


def npz_to_rows(path: Path, folder: Path, x_name: str, y_name: str) -> None:
    """Copy the members ``x_name`` and ``y_name`` of an .npz file out as ``folder``/X.npy
    and y.npy (each member is an .npy file already; copied in blocks)."""
    with zipfile.ZipFile(path) as archive:
        for member, out in ((x_name, "X.npy"), (y_name, "y.npy")):
            with archive.open(member + ".npy") as src, open(folder / out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
