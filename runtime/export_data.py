"""The data part of an exported training script, asked of each data set's declaration.

A set whose ``DatasetInfo.script`` says how (runtime/datasets/core.ScriptData) is rebuilt by
the script from its seed or its file with the builder's own functions, copied with
``inspect.getsource``, and split and scaled by a copy of ``split_arrays``: the same numbers as
Plexus, with one copy of the code (a test checks the arrays are identical). Every other set
(token, sequence, anomaly, shapes, image and series files) travels as Plexus' own split,
already tokenized or scaled, in "<stem>_data.npz" beside the script (``write_data``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runtime import export
from runtime.batches import tensor_pair
from runtime.datasets.core import (
    GENERATE_STREAM,
    SPLIT_STREAM,
    DataError,
    fit_scaling,
    prepared_targets,
    split_arrays,
    split_indices,
)

# The script's own glue around split_arrays: the tensors it trains on.
_MAKE_SPLIT = '''
def make_split(x: np.ndarray, y: np.ndarray, classify: bool, **scaling: Any
               ) -> tuple[TensorDataset, TensorDataset]:
    """Split and scale as Plexus does (split_arrays), as tensors."""
    x, y, train, val, _, _ = split_arrays(x, y, classify, VAL_SPLIT, SEED, **scaling)
    return (TensorDataset(torch.from_numpy(x[train]), torch.from_numpy(y[train])),
            TensorDataset(torch.from_numpy(x[val]), torch.from_numpy(y[val])))
'''

_SAVED_DATA = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """{what} as Plexus split it (already scaled or tokenized),
    saved beside this script as DATA_FILE when it was exported: x_train, y_train, x_val,
    y_val."""
    path = Path(__file__).with_name(DATA_FILE)
    if not path.is_file():
        raise SystemExit(f"{path} is missing: it holds the training data; export the "
                         "training script from Plexus again to write it")
    with np.load(path, allow_pickle=False) as arrays:
        parts = [torch.from_numpy(arrays[key]) for key in ("x_train", "y_train", "x_val",
                                                          "y_val")]
    return TensorDataset(parts[0], parts[1]), TensorDataset(parts[2], parts[3])
'''

# Several heads: the targets of each head, in the order the model returns them (HEADS).
_SAVED_TARGETS = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """{what} as Plexus split it, saved beside this script as
    DATA_FILE when it was exported: x_train, x_val and each head's targets, y_train.<head>
    and y_val.<head>. Batches are [x, targets of HEADS[0], targets of HEADS[1], ...]."""
    path = Path(__file__).with_name(DATA_FILE)
    if not path.is_file():
        raise SystemExit(f"{path} is missing: it holds the training data; export the "
                         "training script from Plexus again to write it")
    with np.load(path, allow_pickle=False) as arrays:
        return tuple(TensorDataset(torch.from_numpy(arrays[f"x_{part}"]), *(
            torch.from_numpy(arrays[f"y_{part}.{head}"]) for head in HEADS))
            for part in ("train", "val"))
'''


def merged_from(lines: list[str]) -> list[str]:
    """``from m import a`` lines, one per module with its names sorted (as isort wants)."""
    names: dict[str, set[str]] = {}
    for line in lines:
        module, _, imported = line.removeprefix("from ").partition(" import ")
        names.setdefault(module, set()).update(n.strip() for n in imported.split(","))
    return [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(names.items())]


def _declaration(dataset: Any) -> Any:
    """The set's ScriptData, or None when the script reads the saved split."""
    from runtime.data import DATASETS

    info = DATASETS.get(dataset.name)
    return info.script if info is not None else None


def saves_data(dataset: Any, several_heads: bool = False) -> bool:
    """Whether the script reads its data from a file written beside it (always for several
    heads: a set's script code gives one target)."""
    return several_heads or _declaration(dataset) is None


def data_source(dataset: Any, data_file: str, heads: list[str] | None = None
                ) -> tuple[list[str], str, list[str]]:
    """(constant lines, functions source, extra imports) that load the project's data;
    ``heads`` names the Output heads of a network with several."""
    consts = [f"DATASET = {export.literal(dataset.name)}", f"SEED = {int(dataset.seed)}",
              f"VAL_SPLIT = {float(dataset.val_split)!r}"]
    script = _declaration(dataset)
    if script is None or heads:
        what = f"The '{dataset.name}' data set".replace('"', "'").replace("\\", "/")
        consts.append(f"DATA_FILE = {export.literal(data_file)}")
        template = _SAVED_TARGETS if heads else _SAVED_DATA
        return consts, template.replace("{what}", what), ["from pathlib import Path"]
    try:
        values = script.constants(dataset) if script.constants else {}
    except (DataError, ValueError) as exc:
        raise export.ExportError(f"the training data cannot be exported: {exc}") from None
    consts += [_constant(name, value) for name, value in values.items()]
    consts.append(f"GENERATE_STREAM, SPLIT_STREAM = {GENERATE_STREAM}, {SPLIT_STREAM}")
    copied = [*script.functions, DataError, split_indices, fit_scaling, prepared_targets,
              split_arrays]
    code = "\n\n\n".join(inspect.getsource(f).strip("\n") for f in copied)
    source = "\n" + code + "\n\n" + _MAKE_SPLIT + script.load_data
    return consts, source, [*script.imports, "from typing import Any"]


def _constant(name: str, value: Any) -> str:
    """``NAME = value``; a list too long for one line has an item per line."""
    line = f"{name} = {export.literal(value)}"
    if len(line) <= 100 or not isinstance(value, list):
        return line
    return f"{name} = [\n" + "".join(f"    {export.literal(v)},\n" for v in value) + "]"


def data_arrays(dataset: Any) -> dict[str, np.ndarray]:
    """The project's split as the script's data file holds it: x_train, y_train, x_val,
    y_val, with the dtypes Plexus trains on."""
    from runtime.data import load_dataset

    try:
        bundle = load_dataset(dataset)
    except (DataError, OSError, ValueError) as exc:
        raise export.ExportError(f"the training data cannot be loaded: {exc}") from None
    arrays = {}
    for part, data in (("train", bundle.train), ("val", bundle.val)):
        tensors = tensor_pair(data)
        if tensors is None:  # a lazy set: read every item
            items = [data[i] for i in range(len(data))]
            tensors = [torch.stack([torch.as_tensor(item[k]) for item in items])
                       if items else torch.zeros(0) for k in (0, 1)]
        x, y = tensors
        targets = {f"y_{part}.{key}": t for key, t in y.items()} if isinstance(y, dict) \
            else {f"y_{part}": y}
        if not all(isinstance(t, torch.Tensor) for t in (x, *targets.values())):
            raise export.ExportError(f"the '{dataset.name}' data set gives inputs or targets "
                                     "that are not single tensors; training scripts are "
                                     "exported for one input and one target per head")
        for key, tensor in {f"x_{part}": x, **targets}.items():
            arrays[key] = tensor.detach().cpu().contiguous().numpy()
    return arrays


def write_data(dataset: Any, path: Path) -> Path:
    """Save the project's split (data_arrays) as the script's .npz data file."""
    arrays = data_arrays(dataset)
    try:
        with open(path, "wb") as file:
            np.savez_compressed(file, **arrays)
    except OSError as exc:
        raise export.ExportError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    return path
