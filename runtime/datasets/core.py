"""What a loaded data set is, the registry of data set builders, and the helpers they share.

Every builder, built-in or file reader, ends in the same split and scaling code here, so that
a seed, a validation share and a scaling choice mean the same thing for every data set, and
statistics always come from the training split only (no validation leakage).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from graph import limits
from graph.catalog import Param
from graph.fields import Field
from graph.settings import DatasetSettings

TASKS = ("classification", "regression")
KINDS = ("2d", "tabular", "image", "sequence", "file")  # sequence: tokens or series

# Independent random streams derived from settings.seed: changing how a set is generated never
# changes which samples land in validation for the same data, and vice versa.
GENERATE_STREAM, SPLIT_STREAM = 0, 1


class DataError(ValueError):
    """A data set that cannot be loaded; the one-line message names the file, row or field and
    says what to do."""


@dataclass(frozen=True)
class ScriptData:
    """How an exported training script rebuilds a data set (runtime/export_data.py).

    ``functions`` are the builder's own, copied into the script with inspect.getsource so
    there is one copy of how the data is made; ``load_data`` is the script's function that
    calls them and returns ``make_split(...)`` (the split and scaling of ``split_arrays``);
    ``constants`` are the settings it reads (SEED and VAL_SPLIT always come), ``imports``
    the script lines the functions need. A set without a ScriptData travels as its split in
    an .npz file beside the script.
    """

    load_data: str
    functions: tuple[Callable[..., Any], ...] = ()
    constants: Callable[[DatasetSettings], dict[str, Any]] | None = None
    imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    """A data set the user can choose, as the dataset picker shows it.

    ``task`` is the task the set is made for; for csv and npz files the loaded bundle's task
    (decided by the file's target values) is the one that counts.
    """

    id: str
    title: str
    description: str
    task: str  # "classification" | "regression"
    kind: str  # "2d" | "tabular" | "image" | "file"
    # DatasetSettings fields that matter for this set besides seed and val_split, so a form
    # can show only those.
    uses: tuple[str, ...] = ()
    # The entries of DatasetSettings.options this set reads, declared as Fields (kind,
    # default, bounds or choices, help), so the inspector builds their widgets and the
    # builder reads their Params with option_int / option_choice. A default of None: decided
    # by the builder ("auto").
    options: tuple[Field, ...] = ()
    # How an exported training script rebuilds the set; None: it ships the split as .npz.
    script: ScriptData | None = None


@dataclass
class DataBundle:
    """A loaded data set: the two splits and what a model and the views need to know about it.

    Items of ``train`` and ``val`` are ``(x, y)``: x float32 of ``input_shape`` (int64 when
    ``input_dtype`` is "long"); y int64 class index (classification) or float32 vector of
    ``len(target_names)`` values (regression).
    """

    train: Dataset
    val: Dataset
    input_shape: tuple[int, ...]
    input_dtype: str  # "float" | "long"
    task: str
    num_classes: int  # 0 for regression
    class_names: list[str]
    feature_names: list[str]  # one per input feature for tabular sets, else empty
    value_range: tuple[float, float]  # valid range of input values (attacks clamp to it)
    name: str
    target_names: list[str] = field(default_factory=list)  # regression outputs
    # raw feature = x * feature_scale + feature_offset (mean and std after standardizing, min
    # and range after normalizing); None when the inputs are not rescaled.
    feature_offset: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    # raw target = y * target_scale + target_offset (regression trains on standardized targets)
    target_offset: np.ndarray | None = None
    target_scale: np.ndarray | None = None

    def raw_features(self, x: Any) -> np.ndarray:
        """Inputs in the units of the source data (undoes the feature scaling)."""
        x = np.asarray(x, dtype=np.float64)
        if self.feature_scale is None:
            return x
        return x * self.feature_scale + self.feature_offset

    def raw_targets(self, y: Any) -> np.ndarray:
        """Regression targets or predictions in the units of the source data."""
        y = np.asarray(y, dtype=np.float64)
        if self.target_scale is None:
            return y
        return y * self.target_scale + self.target_offset


Builder = Callable[[DatasetSettings], DataBundle]
DATASETS: dict[str, DatasetInfo] = {}
BUILDERS: dict[str, Builder] = {}


def register(info: DatasetInfo) -> Callable[[Builder], Builder]:
    """Decorator that makes a builder loadable by ``info.id``; later issues add sets this way."""
    if info.task not in TASKS or info.kind not in KINDS:
        raise ValueError(f"dataset {info.id!r}: bad task {info.task!r} or kind {info.kind!r}")

    def add(builder: Builder) -> Builder:
        DATASETS[info.id] = info
        BUILDERS[info.id] = builder
        return builder

    return add


def load_dataset(settings: DatasetSettings) -> DataBundle:
    """The data set the settings describe, split into train and validation."""
    info = DATASETS.get(settings.name)
    if info is None:
        raise DataError(f"dataset '{settings.name}' is unknown; choose one of: "
                        f"{', '.join(DATASETS)}")
    if info.kind == "file" and not settings.path.strip():
        what = "folder" if info.id == "images" else "file"
        raise DataError(f"dataset '{info.id}': no {what} chosen; choose one in the dataset "
                        "settings")
    return BUILDERS[info.id](settings)


@dataclass(frozen=True)
class Preview:
    """A data set as a preview shows it: ``bundle`` holds at most ``PREVIEW_SAMPLES``
    generated samples; ``train`` and ``val`` are the full set's split sizes, or None when
    only building it would tell (then ``sampled_from`` says how many samples it has)."""

    bundle: DataBundle
    train: int | None
    val: int | None
    sampled_from: int = 0  # samples of the full set when the bundle is a smaller one


def load_preview(settings: DatasetSettings) -> Preview:
    """What the editor's preview shows, built in bounded memory: a generated set of more than
    ``PREVIEW_SAMPLES`` samples is built with that many (the same generator, seed and split),
    so a file declaring millions of samples never builds them in the editor."""
    info = DATASETS.get(settings.name)
    n = settings.samples
    if info is None or "samples" not in info.uses or n <= limits.PREVIEW_SAMPLES:
        bundle = load_dataset(settings)
        return Preview(bundle, len(bundle.train), len(bundle.val))
    small_n = limits.PREVIEW_SAMPLES
    bundle = load_dataset(dataclasses.replace(settings, samples=small_n))
    if len(bundle.train) + len(bundle.val) == small_n:  # one item per sample: sizes scale
        val = len(split_indices(n, settings.val_split, settings.seed)[1])  # indices only
        return Preview(bundle, n - val, val, n)
    return Preview(bundle, None, None, n)


def preview(settings: DatasetSettings | DataBundle, n: int = 8) -> list[tuple[np.ndarray, str]]:
    """A few training samples for the editor's dataset preview: (input, label text).

    Inputs are in the source's units (feature scaling undone); images are (C, H, W) in
    ``value_range``. Accepts an already loaded bundle to avoid loading twice.
    """
    bundle = settings if isinstance(settings, DataBundle) else load_preview(settings).bundle
    source = bundle.train if len(bundle.train) else bundle.val
    items = []
    for i in range(min(n, len(source))):
        x, y = source[i]
        raw = bundle.raw_features(x.numpy()) if bundle.input_dtype == "float" else x.numpy()
        items.append((raw.astype(np.float32, copy=False), label_text(bundle, y)))
    return items


def label_text(bundle: DataBundle, y: Any) -> str:
    """A target as words: the class name, or the regression values in source units."""
    if bundle.task == "classification":
        return bundle.class_names[int(y)]
    values = np.atleast_1d(bundle.raw_targets(np.asarray(y)))
    names = bundle.target_names or [f"y{i}" for i in range(len(values))]
    return ", ".join(f"{name} {_number(v)}" for name, v in zip(names, values, strict=False))


def describe(bundle: DataBundle) -> str:
    """One line about a loaded set, e.g. "digits: 1437 train / 360 val, 1x8x8, 10 classes"."""
    shape = bundle.input_shape
    inputs = f"{shape[0]} features" if len(shape) == 1 else "x".join(map(str, shape))
    if bundle.task == "classification":
        what = f"{bundle.num_classes} classes"
    else:
        k = len(bundle.target_names)
        what = "regression" if k <= 1 else f"regression of {k} targets"
    return f"{bundle.name}: {len(bundle.train)} train / {len(bundle.val)} val, {inputs}, {what}"


def _number(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


# -- split and scaling --------------------------------------------------------------------------

def check_generated_size(settings: DatasetSettings, bytes_per_sample: int) -> None:
    """Refuse to generate a set that would take more than ``MAX_GENERATED_BYTES``, before any
    of it is allocated, naming the samples setting."""
    need = settings.samples * bytes_per_sample
    if need > limits.MAX_GENERATED_BYTES:
        most = limits.MAX_GENERATED_BYTES // bytes_per_sample
        raise DataError(f"dataset '{settings.name}': {settings.samples:,} samples would take "
                        f"{need / 1024 ** 3:.1f} GB; lower samples to {most:,} or fewer")


def split_indices(n: int, val_split: float, seed: int,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices: ``ceil(val_split * n)`` go to validation.

    With ``labels`` the split is stratified: each class gives its share (largest remainders
    settle the rounding), so class balance is the same in both splits.
    """
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    n_val = 0 if val_split <= 0 or n < 2 else min(n - 1, math.ceil(val_split * n - 1e-9))
    if labels is None:
        order = rng.permutation(n)
        return order[n_val:], order[:n_val]
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    exact = counts * (n_val / n)
    quota = np.floor(exact).astype(int)
    # largest fractional parts first; ties go to the lower class index (stable sort)
    extra = np.argsort(-(exact - quota), kind="stable")[: n_val - int(quota.sum())]
    quota[extra] += 1
    val_parts = []
    for c, q in enumerate(quota):
        members = np.flatnonzero(inverse == c)
        val_parts.append(rng.permutation(members)[:q])
    val = rng.permutation(np.concatenate(val_parts)) if val_parts else np.zeros(0, int)
    mask = np.ones(n, bool)
    mask[val] = False
    train = rng.permutation(np.flatnonzero(mask))
    return train, val


def fit_scaling(x: Any, method: str, per_feature: bool = True,
                keep: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(offset, scale) so that ``(x - offset) / scale`` is standardized or normalized.

    Fitted on training rows only. ``per_feature`` False uses one pair for all values (images);
    ``keep`` marks feature columns left as they are (one-hot columns). Constant features get
    scale 1 so they never divide by zero. ``x`` is read in slices of rows, in float64 a slice
    at a time, so a float32 set (or rows read from a file) is never copied whole.
    """
    if method == "none":
        return None, None
    if method not in ("standardize", "normalize"):
        raise DataError(f"dataset scaling must be none, standardize or normalize, not {method!r}")
    axis = 0 if per_feature else None
    step = max(1, (1 << 18) // max(1, int(np.prod(x.shape[1:]))))

    def slices() -> Any:
        return (np.asarray(x[i:i + step], dtype=np.float64) for i in range(0, len(x), step))

    if method == "standardize":
        count = len(x) * (1 if per_feature else int(np.prod(x.shape[1:])))
        offset = sum(part.sum(axis=axis) for part in slices()) / count
        scale = np.sqrt(sum(((part - offset) ** 2).sum(axis=axis) for part in slices()) / count)
    else:
        offset = np.min([part.min(axis=axis) for part in slices()], axis=0)
        scale = np.max([part.max(axis=axis) for part in slices()], axis=0) - offset
    offset = np.asarray(offset, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    scale = np.where(scale > 1e-12, scale, 1.0)
    if keep is not None and keep.any():
        offset = np.where(keep, 0.0, offset)
        scale = np.where(keep, 1.0, scale)
    return offset, scale


def split_arrays(x: np.ndarray, y: np.ndarray, classify: bool, val_split: float, seed: int,
                 scaling: str = "none", per_feature: bool = True, keep: np.ndarray | None = None,
                 scale_target: bool = False, long_inputs: bool = False,
                 in_place: bool = False) -> tuple[Any, ...]:
    """(x, y, train indices, val indices, (offset, scale), (target offset, target scale)):
    the arrays split (stratified for classes) and scaled with the training rows' statistics.

    The rows come back reordered, training rows first (``train`` is 0..n_train-1, ``val`` the
    rest), in one float32 (int64 for token inputs) copy filled and scaled a slice at a time:
    the set costs its own size once more, never a float64 copy. ``in_place``: the caller
    gives ``x`` away, so a C-contiguous array of the right dtype is reordered and scaled where
    it is, with one row of extra memory. Exported training scripts copy this function
    (runtime/export_data.py), so they split and scale exactly as Plexus does.
    """
    x = x if hasattr(x, "shape") else np.asarray(x)
    n = len(x)
    train, val = split_indices(n, val_split, seed, y if classify else None)
    order = np.concatenate([train, val]).astype(np.int64)
    dtype = np.int64 if long_inputs else np.float32
    step = max(1, (1 << 18) // max(1, int(np.prod(x.shape[1:]))))
    if in_place and x.dtype == dtype and x.flags.c_contiguous and x.flags.writeable:
        done, targets = bytearray(n), order.tolist()
        for start in range(n):  # x[:] = x[order], following each cycle of the permutation
            if done[start]:
                continue
            first, i = x[start].copy(), start
            while True:
                done[i], j = 1, targets[i]
                if j == start:
                    x[i] = first
                    break
                x[i], i = x[j], j
        rows = x
    else:
        rows = np.empty((n, *x.shape[1:]), dtype=dtype)
        for i in range(0, n, step):
            rows[i:i + step] = x[order[i:i + step]]
    x, y = rows, np.asarray(y)[order]
    train, val = np.arange(len(train)), np.arange(len(train), n)
    offset = scale = None
    if not long_inputs and scaling != "none":
        offset, scale = fit_scaling(x[:len(train)], scaling, per_feature, keep)
        for i in range(0, n, step):
            x[i:i + step] = (x[i:i + step] - offset) / scale
    y, t_offset, t_scale = prepared_targets(y, classify, scale_target, train)
    return x, y, train, val, (offset, scale), (t_offset, t_scale)


def prepared_targets(y: Any, classify: bool, scale_target: bool, train: np.ndarray
                     ) -> tuple[np.ndarray, Any, Any]:
    """(targets, offset, scale): class indices as int64, or values as float32 N x T,
    standardised on the training rows when ``scale_target`` (offset and scale None else)."""
    if classify:
        return np.asarray(y, dtype=np.int64), None, None
    values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    offset = scale = None
    if scale_target:
        offset, scale = fit_scaling(values[train], "standardize")
        values = (values - offset) / scale
    return values.astype(np.float32), offset, scale


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, task: str, settings: DatasetSettings,
                *, class_names: Sequence[str] = (), feature_names: Sequence[str] = (),
                target_names: Sequence[str] = (), scaling: str = "none",
                per_feature: bool = True, keep: np.ndarray | None = None,
                scale_target: bool = False, value_range: tuple[float, float] | None = None,
                input_dtype: str = "float", owned: bool = False) -> DataBundle:
    """A bundle of in-memory arrays: split (stratified for classes), scaled with train
    statistics, as TensorDatasets (the trainer batches those by indexing, without a loader)
    that share one reordered copy of ``x``.

    ``y`` holds class indices 0..len(class_names)-1 for classification, or (N,) / (N, k)
    values for regression. ``owned``: nothing else holds ``x`` (a file just read), so it is
    reordered and scaled in place instead of copied.
    """
    n = len(x)
    if n < 2:
        raise DataError(f"{name}: needs at least 2 samples, found {n}")
    classify = task == "classification"
    x, y, train_idx, val_idx, (offset, scale), (t_offset, t_scale) = split_arrays(
        x, y, classify, settings.val_split, settings.seed, scaling, per_feature, keep,
        scale_target, long_inputs=input_dtype == "long", in_place=owned)
    if value_range is None:
        value_range = (float(x.min()), float(x.max()))
    if classify:
        target_names = []
    elif not target_names:
        target_names = [f"y{i}" for i in range(y.shape[1])]

    def part(rows: slice) -> TensorDataset:  # split_arrays put the training rows first
        return TensorDataset(torch.from_numpy(x[rows]), torch.from_numpy(y[rows]))

    n_train = len(train_idx)
    return DataBundle(
        train=part(slice(0, n_train)), val=part(slice(n_train, n)),
        input_shape=tuple(x.shape[1:]),
        input_dtype=input_dtype, task=task, num_classes=len(class_names) if classify else 0,
        class_names=list(class_names) if classify else [], feature_names=list(feature_names),
        value_range=value_range, name=name,
        target_names=list(target_names),
        feature_offset=offset, feature_scale=scale, target_offset=t_offset, target_scale=t_scale)


# -- reading options ----------------------------------------------------------------------------

def option_int(settings: DatasetSettings, param: Param, default: int | None = None,
               low: int | None = None) -> int:
    """The integer option ``param`` declares, checked against its bounds (``low`` overrides
    the lower one); ``default`` stands in for an "auto" default. DataError names the option."""
    key = param.name
    low = int(param.minimum if low is None else low)
    high = int(param.maximum if param.maximum is not None else 2**62)
    value = settings.options.get(key, param.default if default is None else default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not low <= value <= high:
        raise DataError(f"dataset option '{key}' must be a whole number from {low} to {high}, "
                        f"not {value!r}")
    return int(value)


def option_choice(settings: DatasetSettings, param: Param) -> str:
    """The choice option ``param`` declares (a number given for a choice such as "3" counts
    as its text)."""
    value = settings.options.get(param.name, param.default)
    text = value if isinstance(value, str) or isinstance(value, bool) else str(value)
    if text not in param.choices:
        raise DataError(f"dataset option '{param.name}' must be one of "
                        f"{', '.join(param.choices)}, not {value!r}")
    return text
