"""Reading a CSV file: numpy's C reader for clean files, the csv module where a cell is wrong.

``read_csv`` first reads the file column-wise with ``np.loadtxt``: numbers go straight into
float32 (a 105 MB table costs its float32 size, not a list of Python strings per cell). When
that reader meets anything it cannot take (an empty or non-numeric cell, NaN, a ragged row,
a column that is text in one place and numbers in another), the file is read again row by
row by ``_Table``, whose messages name the file, the row (the file's line number, header =
row 1, as a spreadsheet shows it) and the column. Exported training scripts copy these
classes with ``inspect.getsource``.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from runtime.datasets.core import DataError

# A broken file above this size is not read again row by row (that costs about 15x its size
# in memory): its error comes from numpy's reader, with the row it reports.
MAX_EXACT_BYTES = 256 * 1024 * 1024
SAMPLE_ROWS = 200  # rows read first to tell number columns from text columns


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Table:
    """The cells of a CSV file as text, with each data row's line number."""

    def __init__(self, path: Path) -> None:
        self.file = path.name
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.file} is not UTF-8 text; save it as CSV UTF-8") from exc
        except OSError as exc:
            raise DataError(f"{self.file}: cannot read it ({exc.strerror})") from exc
        first = text.split("\n", 1)[0]
        delimiter = max([",", ";", "\t"], key=first.count)
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if not self.header:
                    self.header = [c.strip() or f"column {i + 1}" for i, c in enumerate(row)]
                    continue
                if len(row) != len(self.header):
                    raise DataError(f"{self.file} row {reader.line_num}: {len(row)} values, but "
                                    f"the header has {len(self.header)} columns; fix the row")
                self.rows.append([cell.strip() for cell in row])
                self.lines.append(reader.line_num)
        except csv.Error as exc:
            raise DataError(f"{self.file} row {reader.line_num}: {exc}") from exc
        if not self.header:
            raise DataError(f"{self.file} is empty; it needs a header row and one row per sample")
        for i, name in enumerate(self.header):
            if name in self.header[:i]:
                raise DataError(f"{self.file}: column '{name}' appears twice in the header; "
                                "rename one of them")
        if len(self.rows) < 2:
            raise DataError(f"{self.file}: needs at least 2 data rows below the header, found "
                            f"{len(self.rows)}")

    def column(self, name: str) -> list[str]:
        j = self.header.index(name)
        return [row[j] for row in self.rows]

    def where(self, i: int, name: str) -> str:
        return f"{self.file} row {self.lines[i]}, column '{name}'"

    def numbers(self, name: str) -> np.ndarray:
        """A column as floats; the first empty, non-numeric or infinite cell is an error."""
        values = np.empty(len(self.rows))
        for i, cell in enumerate(self.column(name)):
            if not cell:
                raise DataError(f"{self.where(i, name)} is empty; fill it in or remove the row")
            value = _number(cell)
            if value is None:
                raise DataError(f"{self.where(i, name)}: '{cell}' is not a number")
            if not math.isfinite(value):
                raise DataError(f"{self.where(i, name)}: '{cell}' is not a finite number")
            values[i] = value
        return values

    def texts(self, name: str) -> list[str]:
        cells = self.column(name)
        for i, cell in enumerate(cells):
            if not cell:
                raise DataError(f"{self.where(i, name)} is empty; fill it in or remove the row")
        return cells

    def mostly_numeric(self, name: str) -> bool:
        """Whether a column holds numbers (with perhaps a few typos) rather than text."""
        cells = [c for c in self.column(name) if c]
        numeric = sum(_number(c) is not None for c in cells)
        return numeric > 0 and numeric * 2 >= len(cells)

    def first_error(self, names: list[str]) -> None:
        """Raise for the first bad cell in reading order (row by row) among numeric columns."""
        columns = [(name, self.header.index(name)) for name in names]
        for row in self.rows:
            for name, j in columns:
                cell = row[j]
                value = _number(cell) if cell else None
                if value is None or not math.isfinite(value):
                    self.numbers(name)  # raises with the exact message

    def release_matrix(self, names: list[str]) -> np.ndarray:
        """Numeric columns side by side, float32 (one row per sample)."""
        return np.stack([self.numbers(name) for name in names], 1).astype(np.float32)


class _Unusual(Exception):
    """A file the column reader does not take; ``_Table`` reads it and says what is wrong."""


class _Columns:
    """A clean CSV file read column by column: number columns in one float32 matrix, text
    columns as arrays of strings. The same questions as ``_Table``, answered without a
    Python object per cell; every cell has already been checked when it is built."""

    def __init__(self, path: Path) -> None:
        self.file = path.name
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline()
            delimiter = max([",", ";", "\t"], key=first.count)
            f.seek(0)
            reader = csv.reader(f, delimiter=delimiter)
            header, sample = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if not header:
                    header, header_line = row, reader.line_num
                elif len(sample) < SAMPLE_ROWS:
                    sample.append(row)
                else:
                    break
        self.header = [c.strip() or f"column {i + 1}" for i, c in enumerate(header)]
        width = len(self.header)
        if (len(sample) < 2 or len(set(self.header)) < width
                or any(len(row) != width for row in sample)):
            raise _Unusual
        numeric = [j for j in range(width)
                   if all(_number(row[j]) is not None for row in sample)]
        text = [j for j in range(width) if j not in numeric]
        read = dict(delimiter=delimiter, skiprows=header_line, comments=None, quotechar='"',
                    ndmin=2, encoding="utf-8-sig")
        try:  # every column when all are numbers, so a row with an extra cell is an error
            warnings.filterwarnings("ignore", "Input line", UserWarning)  # blank lines
            strings = (np.char.strip(self._loadtxt(path, dtype=str, usecols=text, **read))
                       if text else None)
            self.data = (self._loadtxt(path, dtype=np.float32,
                                       usecols=numeric if text else None, **read) if numeric
                         else np.zeros((len(strings), 0), np.float32))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Unusual(str(exc)) from exc
        if strings is None:
            strings = np.zeros((len(self.data), 0), str)
        if (self.data.shape != (len(strings), len(numeric)) or not np.isfinite(self.data).all()
                or (strings == "").any()):
            raise _Unusual
        self.rows = len(self.data)
        self.numeric = {self.header[j]: k for k, j in enumerate(numeric)}
        self.strings = {self.header[j]: strings[:, k] for k, j in enumerate(text)}
        if text and self._ragged(path, delimiter, header_line):
            raise _Unusual
        if any(self.mostly_numeric(name) for name in self.strings):
            raise _Unusual  # numbers with a few typos: _Table names the typo

    def _loadtxt(self, path: Path, **read: Any) -> np.ndarray:
        """``np.loadtxt`` (a subclass may read elsewhere: runtime/datasets/csv_child.py)."""
        return np.loadtxt(path, **read)

    def _ragged(self, path: Path, delimiter: str, header_line: int) -> bool:
        """Whether a row has more or fewer cells than the header (reading only some columns
        would not notice)."""
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            return any(len(row) != len(self.header) for row in reader
                       if reader.line_num > header_line and any(c.strip() for c in row))

    def mostly_numeric(self, name: str) -> bool:
        if name in self.numeric:
            return True
        cells = self.strings[name]
        numeric = sum(_number(c) is not None for c in cells)
        return numeric > 0 and numeric * 2 >= len(cells)

    def numbers(self, name: str) -> np.ndarray:
        return self.data[:, self.numeric[name]]

    def texts(self, name: str) -> np.ndarray:
        return self.strings[name]

    def first_error(self, names: list[str]) -> None:
        """Nothing to raise: every cell was checked while reading."""

    def release_matrix(self, names: list[str]) -> np.ndarray:
        """Number columns side by side, one C-ordered float32 array in the memory the file
        was read into (moved there a block of rows at a time), so a table costs its size
        once. The table's numbers are not read again after this."""
        index = [self.numeric[name] for name in names]
        rows, width = len(self.data), len(index)
        flat = self.data.reshape(-1)
        step = max(1, (1 << 18) // max(1, width))
        for start in range(0, rows, step):  # each block lands at or before where it was
            end = min(rows, start + step)
            flat[start * width:end * width] = self.data[start:end][:, index].reshape(-1)
        return flat[:rows * width].reshape(rows, width)


def read_csv(path: Path, columns: type[_Columns] | None = None) -> _Columns | _Table:
    """A CSV file's table: column-wise by numpy (``columns``, default ``_Columns``) when it
    is clean, else row by row (whose errors name the row and column)."""
    try:
        return (columns or _Columns)(path)
    except (_Unusual, OSError, UnicodeDecodeError, csv.Error) as exc:
        if path.is_file() and path.stat().st_size > MAX_EXACT_BYTES and str(exc):
            raise DataError(f"{path.name}: {str(exc).rstrip('.')} (rows counted from 0 below "
                            "the header)") from None
    return _Table(path)
