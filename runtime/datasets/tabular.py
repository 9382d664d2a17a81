"""Users' tables: CSV files (a header row, one sample per row), NPZ arrays (X and y) and
folders of X.npy and y.npy.

A table that fits the memory budget (runtime/datasets/streaming.py) is read whole, in
float32 (CSV through numpy's C reader, runtime/datasets/csv_text.py), and ends in
``from_arrays``, so it splits and scales like the built-in sets. A larger one streams: CSV
and NPZ files are converted once into an .npy row cache (runtime/datasets/row_cache.py),
.npy folders are read in place. Every problem is reported as one line naming the file, and
for CSV the row (the file's line number, header = row 1, as a spreadsheet shows it) and the
column.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from graph.catalog import BOOL, CHOICE, STR, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    DataBundle,
    DataError,
    DatasetInfo,
    ScriptData,
    from_arrays,
    option_choice,
    register,
)
from runtime.datasets.csv_child import ColumnsInChild
from runtime.datasets.csv_text import (
    MAX_EXACT_BYTES,
    SAMPLE_ROWS,
    _Columns,
    _number,
    _Table,
    _Unusual,
    read_csv,
)
from runtime.datasets.row_cache import cached, csv_layout, csv_to_rows, npz_members, npz_to_rows
from runtime.datasets.streaming import (
    NpyRows,
    fits_in_memory,
    gigabytes,
    memory_budget,
    streamed_bundle,
)

MAX_CATEGORIES = 50  # text feature columns with more distinct values are refused, not one-hot
MAX_INTEGER_CLASSES = 20  # an integer target with at most this many values is a class label
TASK = Param("task", CHOICE, "auto", "What to do with the target: auto decides from its "
             "values (text or small integers: classification).",
             choices=("auto", "classification", "regression"), label="Task",
             choice_labels=("Auto", "Classification", "Regression"))
SCALE_TARGET = Param("scale_target", BOOL, True, "Train regression on standardized targets "
                     "(results are shown in the target's own units).", label="Scale target")
CATEGORICAL = Param("categorical", STR, "", "Numeric columns to one-hot encode as categories, "
                    "separated by commas.", label="Categorical")
INPUT_DTYPE = Param("input_dtype", CHOICE, "float", "float, or long to keep integer inputs as "
                    "token ids (for an Embedding).", choices=("float", "long"),
                    label="Input type", choice_labels=("float", "long (indices)"))


def existing(settings: DatasetSettings) -> Path:
    """The settings' path, which must exist."""
    path = Path(settings.path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: file not found; check the dataset path")
    return path


def _task_option(settings: DatasetSettings) -> str:
    return option_choice(settings, TASK)


def _scale_target(settings: DatasetSettings) -> bool:
    value = settings.options.get("scale_target", True)
    if not isinstance(value, bool):
        raise DataError(f"dataset option 'scale_target' must be true or false, not {value!r}")
    return value


# -- CSV ----------------------------------------------------------------------------------------

def _class_index(values: list[str] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class indices and names for labels (numbers sort by value, text alphabetically)."""
    classes, index = np.unique(np.asarray(values), return_inverse=True)
    if classes.dtype.kind == "f":
        names = [f"{int(c)}" if float(c).is_integer() else f"{c:g}" for c in classes]
    else:
        names = [str(c) for c in classes]
    return index.astype(np.int64), names


def csv_table(path: Path, target_column: str, categorical: list[str], task: str,
              columns: type[_Columns] | None = None) -> dict[str, Any]:
    """A CSV table as arrays: x (numeric columns as they are, text and ``categorical``
    columns one-hot; ``keep`` marks those), y (class indices or numbers), the task ("auto"
    decided from the target) and the names of classes, features and target. ``columns``:
    the column reader (``read_csv``'s)."""
    table = read_csv(path, columns)
    target = target_column.strip() or table.header[-1]
    if target not in table.header:
        raise DataError(f"{table.file}: no column '{target}'; the columns are "
                        f"{', '.join(table.header)}; set the target column to one of them")
    inputs = [name for name in table.header if name != target]
    if not inputs:
        raise DataError(f"{table.file}: no feature columns besides the target '{target}'")
    for name in categorical:
        if name not in inputs:
            raise DataError(f"dataset option 'categorical': {table.file} has no feature column "
                            f"'{name}'")

    numeric = [n for n in inputs if n not in categorical and table.mostly_numeric(n)]
    table.first_error(numeric)
    if numeric == inputs:  # a table of numbers: y first, then x where the file was read
        found = _target({"file": table.file, "keep": np.zeros(len(inputs), bool),
                         "feature_names": inputs, "target_names": [target],
                         "class_names": []}, table, target, task)
        return {**found, "x": table.release_matrix(inputs)}
    columns, names, keep = [], [], []
    for name in inputs:
        if name in numeric:
            columns.append(table.numbers(name)[:, None])
            names.append(name)
            keep.append(False)
            continue
        cells = table.numbers(name) if table.mostly_numeric(name) else table.texts(name)
        index, values = _class_index(cells)
        if len(values) > MAX_CATEGORIES and name not in categorical:
            raise DataError(f"{table.file}: column '{name}' holds text with {len(values)} "
                            f"different values (e.g. '{values[0]}'); remove the column or "
                            "make it numeric")
        columns.append(np.eye(len(values))[index])
        names += [f"{name}={value}" for value in values]
        keep += [True] * len(values)
    found = {"file": table.file, "x": np.concatenate(columns, 1).astype(np.float32),
             "keep": np.array(keep), "feature_names": names, "target_names": [target],
             "class_names": []}
    return _target(found, table, target, task)


def _target(found: dict[str, Any], table: _Columns | _Table, target: str, task: str
            ) -> dict[str, Any]:
    """``found`` with y (class indices or numbers) and the task ("auto" decided from the
    target's values)."""
    if task == "auto":
        if table.mostly_numeric(target):
            y = table.numbers(target)
            few = len(np.unique(y)) <= MAX_INTEGER_CLASSES
            task = "classification" if few and np.all(y == np.round(y)) else "regression"
        else:
            task = "classification"
    if task == "classification":
        labels = table.numbers(target) if table.mostly_numeric(target) else table.texts(target)
        found["y"], found["class_names"] = _class_index(labels)
    else:
        found["y"] = np.array(table.numbers(target), dtype=np.float64)
    return {**found, "task": task}


def _categorical(settings: DatasetSettings) -> list[str]:
    """The columns option 'categorical' names (the inspector writes "a, b")."""
    categorical = settings.options.get("categorical", [])
    if isinstance(categorical, str):
        categorical = [c.strip() for c in categorical.split(",") if c.strip()]
    if not isinstance(categorical, list) or not all(isinstance(c, str) for c in categorical):
        raise DataError("dataset option 'categorical' must be a list of column names")
    return categorical


def _file_constants(settings: DatasetSettings) -> dict[str, Any]:
    """What a script reading the user's file needs from the settings."""
    return {"DATA_PATH": settings.path, "SCALING": settings.scaling,
            "DATA_TASK": _task_option(settings),
            "SCALE_TARGET": bool(settings.options.get("scale_target", True))}


@register(DatasetInfo(
    "csv", "CSV file",
    "A table with a header row and one sample per row. The target column (default: the last) "
    "is predicted from the others; text feature columns are one-hot encoded. A text or small "
    "integer target means classification, other numbers regression.",
    "classification", "file", ("path", "target_column", "scaling"),
    options=(Field(TASK), Field(SCALE_TARGET), Field(CATEGORICAL)),
    script=ScriptData('''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """A CSV table: the target column is predicted from the others; text columns (and those
    listed in CATEGORICAL) are one-hot encoded."""
    table = csv_table(Path(DATA_PATH).expanduser(), TARGET_COLUMN, CATEGORICAL, DATA_TASK)
    return make_split(table["x"], table["y"], table["task"] == "classification",
                      scaling=SCALING, keep=table["keep"], scale_target=SCALE_TARGET)
''', (_number, _Table, _Unusual, _Columns, read_csv, _class_index, csv_table, _target),
        lambda settings: {**_file_constants(settings),
                          "TARGET_COLUMN": settings.target_column.strip(),
                          "CATEGORICAL": _categorical(settings),
                          "MAX_CATEGORIES": MAX_CATEGORIES,
                          "MAX_EXACT_BYTES": MAX_EXACT_BYTES, "SAMPLE_ROWS": SAMPLE_ROWS,
                          "MAX_INTEGER_CLASSES": MAX_INTEGER_CLASSES},
        ("import csv", "import io", "import warnings", "from pathlib import Path"))))
def load_csv(settings: DatasetSettings) -> DataBundle:
    path = existing(settings)
    need = csv_layout(path)[3]
    if not fits_in_memory(need):
        return _streamed_csv(path, settings, need)
    table = csv_table(path, settings.target_column, _categorical(settings),
                      _task_option(settings), ColumnsInChild)
    task = table["task"]
    common = dict(feature_names=table["feature_names"], scaling=settings.scaling,
                  keep=table["keep"], owned=True)
    if task == "classification":
        return from_arrays(table["file"], table["x"], table["y"], task, settings,
                           class_names=table["class_names"], **common)
    return from_arrays(table["file"], table["x"], table["y"], task, settings,
                       target_names=table["target_names"],
                       scale_target=_scale_target(settings), **common)


# -- NPZ ----------------------------------------------------------------------------------------

def _array(archive: np.lib.npyio.NpzFile, file: str, key: str) -> np.ndarray:
    found = [k for k in archive.files if k.lower() == key.lower()]
    if not found:
        present = ", ".join(archive.files) or "no arrays"
        raise DataError(f"{file}: no array named '{key}'; the file holds: {present}. Save inputs "
                        "as 'X' and targets as 'y' (numpy.savez(path, X=inputs, y=targets))")
    try:
        return archive[found[0]]
    except ValueError as exc:
        raise DataError(f"{file}: array '{found[0]}' holds Python objects, which are not loaded "
                        "for safety; save plain numbers or text") from exc


def npz_table(path: Path, input_dtype: str, task: str) -> dict[str, Any]:
    """Inputs x and targets y of a .npz file (X and y, any case), checked, with the task
    ("auto": float y is regression) and the class names."""
    file = path.name
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{file}: not a readable .npz file ({exc}); save it with "
                        "numpy.savez(path, X=inputs, y=targets)") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{file} holds a single array; save inputs and targets together with "
                        "numpy.savez(path, X=inputs, y=targets)")
    with archive:
        x = _array(archive, file, "X")
        y = _array(archive, file, "y")
    return arrays_table(file, x, y, input_dtype, task)


def arrays_table(file: str, x: np.ndarray, y: np.ndarray, input_dtype: str, task: str
                 ) -> dict[str, Any]:
    """Inputs x and targets y (from an .npz file or a folder of .npy files), checked, with the
    task ("auto": float y is regression) and the class names."""
    for key, array in (("X", x), ("y", y)):
        if array.ndim == 0:
            raise DataError(f"{file}: {key} is a single value; it needs one row per sample")
    if len(x) == 0:
        raise DataError(f"{file}: X holds no samples (shape {x.shape}); add some")
    if x.ndim == 1:
        x = x[:, None]
    if x[0].size == 0:
        raise DataError(f"{file}: X has no values per sample (shape {x.shape}); each sample "
                        "needs at least one feature")
    if len(x) != len(y):
        raise DataError(f"{file}: X has {len(x)} samples but y has {len(y)}; they must match")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{file}: X must hold numbers, found {x.dtype} values")
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(1) if x.dtype.kind == "f" else None
    if bad is not None and bad.any():
        raise DataError(f"{file}: X[{int(np.flatnonzero(bad)[0])}] contains NaN or infinity; "
                        "fix or remove that sample")
    if input_dtype == "long" and x.dtype.kind not in "biu":
        raise DataError(f"{file}: option input_dtype 'long' needs integer X, found {x.dtype}")

    return {"file": file, "x": x, **array_targets(file, y, task)}


def array_targets(file: str, y: np.ndarray, task: str) -> dict[str, Any]:
    """y as class indices (with class names) or float64 values, and the task ("auto": float
    y is regression)."""
    if task == "auto":
        task = "regression" if y.dtype.kind == "f" else "classification"
    if task == "classification":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise DataError(f"{file}: y must hold one class label per sample, found shape "
                            f"{y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError(f"{file}: y[{int(np.flatnonzero(~np.isfinite(y))[0])}] is NaN or "
                            "infinite, not a class label; fix or remove that sample")
        if y.dtype.kind in "iu" and y.min() >= 0 and y.max() < 2 * len(np.unique(y)):
            # integer labels keep their meaning: label 7 is class "7" even if a few classes
            # are absent from the file
            labels, names = y.astype(np.int64), [str(c) for c in range(int(y.max()) + 1)]
        else:
            labels, names = _class_index(y)
        return {"y": labels, "task": task, "class_names": names}
    if y.dtype.kind not in "biuf":
        raise DataError(f"{file}: regression needs numeric y, found {y.dtype} values")
    y = y.reshape(len(y), -1).astype(np.float64)
    if not np.isfinite(y).all():
        raise DataError(f"{file}: y[{int(np.flatnonzero(~np.isfinite(y).all(1))[0])}] contains "
                        "NaN or infinity; fix or remove that sample")
    return {"y": y, "task": task, "class_names": []}


@register(DatasetInfo(
    "npz", "NPZ arrays",
    "A numpy .npz file with inputs X (one row per sample, any shape after it) and targets y, "
    "or a folder holding X.npy and y.npy (read in place, so it may be larger than memory). "
    "Integer or text y means classification, floats regression.",
    "classification", "file", ("path", "scaling"),
    options=(Field(TASK), Field(SCALE_TARGET), Field(INPUT_DTYPE)),
    script=ScriptData('''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """Inputs X and targets y from a .npz file (integer or text y: classes)."""
    table = npz_table(Path(DATA_PATH).expanduser(), INPUT_DTYPE, DATA_TASK)
    x = table["x"]
    return make_split(x, table["y"], table["task"] == "classification", scaling=SCALING,
                      per_feature=x.ndim == 2, long_inputs=INPUT_DTYPE == "long",
                      scale_target=SCALE_TARGET)
''', (_array, _class_index, npz_table, arrays_table, array_targets),
        lambda settings: {**_file_constants(settings),
                          "INPUT_DTYPE": option_choice(settings, INPUT_DTYPE)},
        ("import zipfile", "from pathlib import Path"))))
def load_npz(settings: DatasetSettings) -> DataBundle:
    input_dtype = option_choice(settings, INPUT_DTYPE)
    path = existing(settings)
    if path.is_dir() or path.suffix.lower() == ".npy":
        return _npy_folder(path if path.is_dir() else path.parent, settings, input_dtype)
    x_member, y_member = _members(path)
    if x_member is not None and not fits_in_memory(x_member[2]):
        folder = cached(path, x_member[2], "",
                        lambda f: npz_to_rows(path, f, x_member[0], y_member[0]),
                        _too_large(path.name, x_member[2]))
        return _npy_folder(folder, settings, input_dtype, path.name)
    return _npz_bundle(npz_table(path, input_dtype, _task_option(settings)), settings,
                       input_dtype)


def _npz_bundle(table: dict[str, Any], settings: DatasetSettings, input_dtype: str
                ) -> DataBundle:
    x, task = table["x"], table["task"]
    common = dict(scaling=settings.scaling, per_feature=x.ndim == 2, input_dtype=input_dtype,
                  owned=True)
    if task == "classification":
        return from_arrays(table["file"], x, table["y"], task, settings,
                           class_names=table["class_names"], **common)
    return from_arrays(table["file"], x, table["y"], task, settings,
                       scale_target=_scale_target(settings), **common)


# -- sets too large to load whole ---------------------------------------------------------------

def _members(path: Path) -> tuple[Any, Any]:
    """(name, shape, float32 bytes) of the X and y arrays of an .npz file, from their headers;
    Nones when the file is not a readable .npz (npz_table then says why)."""
    try:
        members = npz_members(path)
    except (OSError, ValueError, zipfile.BadZipFile):
        return None, None
    found = []
    for key in ("X", "y"):
        name = next((k for k in members if k.lower() == key.lower()), None)
        if name is None:
            return None, None
        shape = members[name][0]
        found.append((name, shape, 4 * int(np.prod(shape))))
    return found[0], found[1]


def _too_large(file: str, need: int) -> str:
    return (f"{file}: too large to load whole ({gigabytes(need)} as float32, "
            f"{gigabytes(memory_budget())} may be used)")


def _npy_folder(folder: Path, settings: DatasetSettings, input_dtype: str,
                name: str | None = None) -> DataBundle:
    """X.npy and y.npy in ``folder``: loaded whole when they fit the memory budget, else
    their rows are read a batch at a time, never all at once."""
    name = name or folder.name
    paths = [folder / "X.npy", folder / "y.npy"]
    if not all(p.is_file() for p in paths):
        raise DataError(f"{name}: a folder of arrays needs X.npy (inputs) and y.npy (targets); "
                        "save them with numpy.save")
    rows = NpyRows(paths[0])
    try:
        y = np.load(paths[1], allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{name}: y.npy is not a readable array ({exc})") from None
    need = 4 * int(np.prod(rows.shape))
    task = _task_option(settings)
    if fits_in_memory(need):
        x = np.load(paths[0], mmap_mode="r", allow_pickle=False)
        return _npz_bundle(arrays_table(name, x, y, input_dtype, task), settings, input_dtype)
    if input_dtype == "long":
        raise DataError(f"{_too_large(name, need)}; only float inputs stream from disk")
    if len(y) != len(rows):
        raise DataError(f"{name}: X has {len(rows)} samples but y has {len(y)}; they must match")
    if rows.dtype.kind not in "biuf":
        raise DataError(f"{name}: X must hold numbers, found {rows.dtype} values")
    targets = array_targets(name, y, task)
    return streamed_bundle(name, rows, targets["y"], targets["task"], settings,
                           class_names=targets["class_names"],
                           scale_target=_scale_target(settings))


def _streamed_csv(path: Path, settings: DatasetSettings, need: int) -> DataBundle:
    """A CSV file too large for memory, converted once into a row cache and streamed."""
    header = csv_layout(path)[2]
    target = settings.target_column.strip() or (header[-1] if header else "")
    if _categorical(settings):
        raise DataError(f"{_too_large(path.name, need)}; only a table of numbers streams from "
                        "disk, so option 'categorical' cannot be used")
    why = _too_large(path.name, need)
    folder = cached(path, need, target, lambda f: csv_to_rows(path, f, target, why), why)
    y = np.load(folder / "y.npy")
    task = _task_option(settings)
    if task == "auto":
        few = len(np.unique(y)) <= MAX_INTEGER_CLASSES
        task = "classification" if few and np.all(y == np.round(y)) else "regression"
    names: list[str] = []
    if task == "classification":
        y, names = _class_index(y)
    return streamed_bundle(path.name, NpyRows(folder / "X.npy"), y, task, settings,
                           class_names=names, feature_names=[h for h in header if h != target],
                           target_names=[target], scale_target=_scale_target(settings))
