"""The training script export: the module, the project's data, loss, optimizer and loop in
one file that runs as ``python train.py`` and as ``torchrun --nproc_per_node N train.py``.

The script is assembled from small source blocks, keeping only what the project uses (its
dataset's generator, its loss, its schedule), so it reads like a script written for this one
model. The small built-in sets (xor, the 2-D sets, house_prices, digits) are regenerated from
their seed with the same numpy code as ``runtime/datasets`` (a test checks that the arrays are
identical); CSV and NPZ files are read from their path. Every other set (token, sequence,
anomaly, shapes, image and series files) travels as Plexus' own split, already tokenized or
scaled, in "<stem>_data.npz" beside the script (``write_data``). Training follows
``runtime/train.py``: the same batches-per-epoch rules, the loss and metric of the Output
head (classification, regression, tagging, forecasting or reconstruction, as
``runtime/heads.py`` computes them), schedules, early stopping and "keep the weights of the
best validation loss".

With ``torchrun`` the model is wrapped in DistributedDataParallel (nccl on CUDA, gloo on the
CPU) and each process reads its share of every epoch through a DistributedSampler; every
process evaluates the whole validation set, so they all take the same early-stopping and
best-epoch decisions, and rank 0 saves the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from runtime import export

# -- data --------------------------------------------------------------------------------------
_SPLIT_SOURCE = '''
def split_indices(n: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices: ceil(VAL_SPLIT * n) samples go to validation; with
    labels, each class gives its share (the same split Plexus made)."""
    rng = np.random.default_rng([SEED, 1])
    n_val = 0 if VAL_SPLIT <= 0 or n < 2 else min(n - 1, math.ceil(VAL_SPLIT * n - 1e-9))
    if labels is None:
        order = rng.permutation(n)
        return order[n_val:], order[:n_val]
    classes, inverse = np.unique(labels, return_inverse=True)
    exact = np.bincount(inverse, minlength=len(classes)) * (n_val / n)
    quota = np.floor(exact).astype(int)
    quota[np.argsort(-(exact - quota), kind="stable")[: n_val - int(quota.sum())]] += 1
    parts = [rng.permutation(np.flatnonzero(inverse == c))[:q] for c, q in enumerate(quota)]
    val = rng.permutation(np.concatenate(parts)) if parts else np.zeros(0, int)
    mask = np.ones(n, bool)
    mask[val] = False
    return rng.permutation(np.flatnonzero(mask)), val


def fit_scaling(x: np.ndarray, method: str, per_feature: bool = True,
                keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(offset, scale) that standardize or normalize x, from the training rows only."""
    if method == "none":
        return None
    axis = 0 if per_feature else None
    if method == "standardize":
        offset, scale = x.mean(axis=axis), x.std(axis=axis)
    else:
        offset = x.min(axis=axis)
        scale = x.max(axis=axis) - offset
    offset, scale = np.asarray(offset, np.float64), np.asarray(scale, np.float64)
    scale = np.where(scale > 1e-12, scale, 1.0)
    if keep is not None and keep.any():  # one-hot columns stay as they are
        offset, scale = np.where(keep, 0.0, offset), np.where(keep, 1.0, scale)
    return offset, scale


def make_split(x: np.ndarray, y: np.ndarray, classify: bool, scaling: str = "none",
               per_feature: bool = True, keep: np.ndarray | None = None,
               scale_target: bool = False, long_inputs: bool = False,
               ) -> tuple[TensorDataset, TensorDataset]:
    """Split, scale with training statistics, and wrap as tensors."""
    n = len(x)
    train, val = split_indices(n, y if classify else None)
    if long_inputs:
        x = np.asarray(x, dtype=np.int64)
    else:
        x = np.asarray(x, dtype=np.float64)
        fitted = fit_scaling(x[train], scaling, per_feature, keep)
        if fitted is not None:
            x = (x - fitted[0]) / fitted[1]
        x = x.astype(np.float32)
    if classify:
        y = np.asarray(y, dtype=np.int64)
    else:
        y = np.asarray(y, dtype=np.float64).reshape(n, -1)
        fitted = fit_scaling(y[train], "standardize") if scale_target else None
        if fitted is not None:
            y = (y - fitted[0]) / fitted[1]
        y = y.astype(np.float32)
    return (TensorDataset(torch.from_numpy(x[train]), torch.from_numpy(y[train])),
            TensorDataset(torch.from_numpy(x[val]), torch.from_numpy(y[val])))
'''

_GENERATE_RNG = '''
def generator() -> np.random.Generator:
    return np.random.default_rng([SEED, 0])
'''

_XOR = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """XOR: four Gaussian clusters, one per quadrant; class 1 where x and y have the same
    sign."""
    rng = generator()
    labels = rng.permutation(np.arange(SAMPLES) % 2)
    sx = rng.choice([-1.0, 1.0], SAMPLES)
    sy = np.where(labels == 1, sx, -sx)
    points = 0.5 * np.stack([sx, sy], 1) + rng.normal(0.0, NOISE, (SAMPLES, 2))
    labels = (np.sign(points[:, 0]) * np.sign(points[:, 1]) > 0).astype(np.int64)
    return make_split(points, labels, classify=True)
'''

_TWO_D = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """{title}: balanced classes, points from make_points, Gaussian jitter."""
    rng = generator()
    labels = rng.permutation(np.arange(SAMPLES) % CLASSES)
    points = make_points(labels, rng)
    points = points + rng.normal(0.0, NOISE * {jitter!r}, points.shape)
    return make_split(points, labels, classify=True)
'''

_MAKE_POINTS = {
    "spirals": ("Two spirals", 0.4, '''
def make_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved spirals of 1.75 turns."""
    r = rng.uniform(0.05, 1.0, len(labels))
    t = 3.5 * np.pi * r + np.pi * labels
    return np.stack([r * np.sin(t), r * np.cos(t)], 1)
'''),
    "circles": ("Circles", 0.5, '''
def make_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A disc (class 0) inside a ring (class 1)."""
    n = len(labels)
    inner = 0.5 * np.sqrt(rng.uniform(0.0, 1.0, n))
    outer = rng.uniform(0.75, 1.0, n)
    r = np.where(labels == 0, inner, outer)
    a = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)
'''),
    "moons": ("Moons", 0.5, '''
def make_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two interleaving half circles."""
    t = rng.uniform(0.0, np.pi, len(labels))
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1)
    points = np.where(labels[:, None] == 0, upper, lower)
    return (points - [0.5, 0.25]) * 0.6
'''),
    "blobs": ("Gaussian blobs", 1.0, '''
def make_points(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One round cluster per class, evenly spaced on a circle."""
    angle = 2 * np.pi * labels / CLASSES + np.pi / 2
    return 0.6 * np.stack([np.cos(angle), np.sin(angle)], 1)
'''),
}

_HOUSE = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """Made-up houses (size, bedrooms, bathrooms, age, distance to the centre, neighbourhood
    wealth, garden) and their price; features and price standardized."""
    rng = generator()
    n = SAMPLES
    size = np.round(np.clip(rng.lognormal(np.log(95.0), 0.5, n), 25.0, 400.0))
    bedrooms = np.clip(np.round(size / 28.0 + rng.normal(0.0, 0.7, n)), 1, 7)
    bathrooms = np.clip(np.round(1.0 + (size - 60.0) / 70.0 + rng.normal(0.0, 0.5, n)), 1, 4)
    age = np.round(np.clip(rng.gamma(2.0, 15.0, n), 0.0, 120.0))
    distance = np.round(np.clip(rng.gamma(2.0, 4.0, n), 0.2, 50.0), 1)
    wealth = np.round(np.clip(rng.normal(6.0 - 0.1 * distance, 1.8), 1.0, 10.0), 1)
    garden = (rng.random(n) < np.clip(0.15 + 0.04 * distance, 0.0, 0.9)).astype(float)
    per_m2 = 2800.0 * np.exp(0.18 * (wealth - 5.0) - 0.04 * distance)
    age_factor = 1.0 - 0.0045 * age + 0.00002 * age**2
    price = (size**0.95 * per_m2 * age_factor + 9000.0 * bathrooms + 4000.0 * bedrooms
             + 18000.0 * garden)
    price *= np.exp(rng.normal(0.0, NOISE, n))
    features = np.stack([size, bedrooms, bathrooms, age, distance, wealth, garden], 1)
    keep = np.array([False] * 6 + [True])  # has_garden is 0/1: not rescaled
    return make_split(features, price, classify=False, scaling=SCALING, keep=keep,
                      scale_target=True)
'''

_DIGITS = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """1797 handwritten digits, 8x8 pixels scaled to [0, 1] (scikit-learn's copy of the UCI
    set; scikit-learn must be installed)."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is not None and path.is_file():
        table = np.loadtxt(path, delimiter=",")
        pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise SystemExit("the digits data set comes with scikit-learn: "
                             "pip install scikit-learn") from None
        raw = load_digits()
        pixels, labels = raw.data, raw.target.astype(np.int64)
    images = (pixels / 16.0).reshape(-1, 1, 8, 8)
    return make_split(images, labels, classify=True)
'''

_CSV = '''
def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def mostly_numeric(cells: list[str]) -> bool:
    cells = [c for c in cells if c]
    numeric = sum(number(c) is not None for c in cells)
    return numeric > 0 and numeric * 2 >= len(cells)


def load_data() -> tuple[TensorDataset, TensorDataset]:
    """A CSV table: the target column is predicted from the others; text columns (and those
    listed in CATEGORICAL) are one-hot encoded."""
    text = Path(DATA_PATH).expanduser().read_text(encoding="utf-8-sig")
    delimiter = max([",", ";", "\\t"], key=text.split("\\n", 1)[0].count)
    rows = [[cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(text), delimiter=delimiter)
            if any(cell.strip() for cell in row)]
    header = [name or f"column {i + 1}" for i, name in enumerate(rows[0])]
    rows = rows[1:]
    target = TARGET_COLUMN or header[-1]
    columns, keep = [], []
    for j, name in enumerate(header):
        if name == target:
            continue
        cells = [row[j] for row in rows]
        if name not in CATEGORICAL and mostly_numeric(cells):
            columns.append(np.array([float(c) for c in cells])[:, None])
            keep.append(False)
            continue
        values = np.array([float(c) for c in cells]) if mostly_numeric(cells) else cells
        classes, index = np.unique(np.asarray(values), return_inverse=True)
        columns.append(np.eye(len(classes))[index])
        keep += [True] * len(classes)
    x = np.concatenate(columns, 1)
    cells = [row[header.index(target)] for row in rows]
    task = DATA_TASK
    if task == "auto":
        if mostly_numeric(cells):
            y = np.array([float(c) for c in cells])
            few = len(np.unique(y)) <= 20
            task = "classification" if few and np.all(y == np.round(y)) else "regression"
        else:
            task = "classification"
    if task == "classification":
        values = np.array([float(c) for c in cells]) if mostly_numeric(cells) else cells
        labels = np.unique(np.asarray(values), return_inverse=True)[1].astype(np.int64)
        return make_split(x, labels, classify=True, scaling=SCALING, keep=np.array(keep))
    return make_split(x, np.array([float(c) for c in cells]), classify=False, scaling=SCALING,
                      keep=np.array(keep), scale_target=SCALE_TARGET)
'''

_NPZ = '''
def load_data() -> tuple[TensorDataset, TensorDataset]:
    """Inputs X and targets y from a .npz file (integer or text y: classes)."""
    with np.load(Path(DATA_PATH).expanduser(), allow_pickle=False) as archive:
        names = {name.lower(): name for name in archive.files}
        x, y = archive[names["x"]], archive[names["y"]]
    if x.ndim == 1:
        x = x[:, None]
    task = DATA_TASK
    if task == "auto":
        task = "regression" if y.dtype.kind == "f" else "classification"
    common = dict(scaling=SCALING, per_feature=x.ndim == 2, long_inputs=INPUT_DTYPE == "long")
    if task == "classification":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if not (y.dtype.kind in "iu" and y.min() >= 0 and y.max() < 2 * len(np.unique(y))):
            y = np.unique(y, return_inverse=True)[1]
        return make_split(x, y.astype(np.int64), classify=True, **common)
    return make_split(x, y.reshape(len(y), -1).astype(np.float64), classify=False,
                      scale_target=SCALE_TARGET, **common)
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

# data sets load_data() regenerates from their seed (or reads from their file); every other
# set travels as a snapshot of its split beside the script (data_arrays)
REGENERATED = {"xor", *_MAKE_POINTS, "house_prices", "digits", "csv", "npz"}


def start_file(weights_file: str) -> str:
    """The name of the weights a script starts from, beside its own output weights."""
    return weights_file.removesuffix(".safetensors") + "_start.safetensors"


def saves_data(dataset: Any) -> bool:
    """Whether the script reads its data from a file written beside it."""
    return dataset.name not in REGENERATED


def data_arrays(dataset: Any) -> dict[str, np.ndarray]:
    """The project's split as the script's data file holds it: x_train, y_train, x_val,
    y_val, with the dtypes Plexus trains on."""
    from runtime.data import DataError, load_dataset

    try:
        bundle = load_dataset(dataset)
    except (DataError, OSError, ValueError) as exc:
        raise export.ExportError(f"the training data cannot be loaded: {exc}") from None
    arrays = {}
    for part, data in (("train", bundle.train), ("val", bundle.val)):
        tensors = getattr(data, "tensors", None)
        if tensors is None or len(tensors) != 2:  # a lazy set: read every item
            items = [data[i] for i in range(len(data))]
            tensors = [torch.stack([torch.as_tensor(item[k]) for item in items])
                       if items else torch.zeros(0) for k in (0, 1)]
        if not all(isinstance(t, torch.Tensor) for t in tensors):
            raise export.ExportError(f"the '{dataset.name}' data set gives inputs or targets "
                                     "that are not single tensors; training scripts are "
                                     "exported for one input and one target per sample")
        arrays[f"x_{part}"] = tensors[0].detach().cpu().contiguous().numpy()
        arrays[f"y_{part}"] = tensors[1].detach().cpu().contiguous().numpy()
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


def data_source(dataset: Any, input_dtype: str, data_file: str
                ) -> tuple[list[str], str, list[str]]:
    """(constant lines, functions source, extra imports) that load the project's data."""
    name = dataset.name
    consts = [f"DATASET = {export.literal(name)}", f"SEED = {int(dataset.seed)}",
              f"VAL_SPLIT = {float(dataset.val_split)!r}"]
    imports: list[str] = []
    if name == "xor":
        consts += [f"SAMPLES = {int(dataset.samples)}", f"NOISE = {float(dataset.noise)!r}"]
        return consts, _GENERATE_RNG + _XOR + _SPLIT_SOURCE, imports
    if name in _MAKE_POINTS:
        title, jitter, make = _MAKE_POINTS[name]
        classes = int(dataset.options.get("classes", 3)) if name == "blobs" else 2
        consts += [f"SAMPLES = {int(dataset.samples)}", f"NOISE = {float(dataset.noise)!r}",
                   f"CLASSES = {classes}"]
        loader = _TWO_D.replace("{title}", title).replace("{jitter!r}", repr(jitter))
        return consts, _GENERATE_RNG + make + loader + _SPLIT_SOURCE, imports
    if name == "house_prices":
        consts += [f"SAMPLES = {int(dataset.samples)}", f"NOISE = {float(dataset.noise)!r}",
                   f"SCALING = {export.literal(dataset.scaling)}"]
        return consts, _GENERATE_RNG + _HOUSE + _SPLIT_SOURCE, imports
    if name == "digits":
        return consts, _DIGITS + _SPLIT_SOURCE, ["import importlib.util",
                                                 "from pathlib import Path"]
    if name in ("csv", "npz"):
        options = dataset.options
        consts += [f"DATA_PATH = {export.literal(dataset.path)}",
                   f"SCALING = {export.literal(dataset.scaling)}",
                   f"DATA_TASK = {export.literal(str(options.get('task', 'auto')))}",
                   f"SCALE_TARGET = {bool(options.get('scale_target', True))!r}"]
        if name == "csv":
            consts += [f"TARGET_COLUMN = {export.literal(dataset.target_column.strip())}",
                       f"CATEGORICAL = {export.literal(list(options.get('categorical', [])))}"]
            return consts, _CSV + _SPLIT_SOURCE, ["import csv", "import io",
                                                 "from pathlib import Path"]
        dtype = str(options.get("input_dtype", input_dtype))
        consts.append(f"INPUT_DTYPE = {export.literal(dtype)}")
        return consts, _NPZ + _SPLIT_SOURCE, ["from pathlib import Path"]
    what = f"The '{name}' data set".replace('"', "'").replace("\\", "/")
    consts.append(f"DATA_FILE = {export.literal(data_file)}")
    return consts, _SAVED_DATA.replace("{what}", what), ["from pathlib import Path"]


# -- loss and metric -------------------------------------------------------------------------------
def resolved_loss(task: str, loss: str, width: int) -> str:
    """The Output head's loss as ``runtime.train.Head.loss_kind`` resolves "auto"."""
    if loss != "auto":
        return loss
    if task == "classification":
        return "bce" if width <= 1 else "cross_entropy"
    if task == "tagging":
        return "cross_entropy"
    return "mse"


_LOSS_CALLS = {
    "bce": "nn.functional.binary_cross_entropy_with_logits",
    "mse": "nn.functional.mse_loss",
    "l1": "nn.functional.l1_loss",
    "huber": "nn.functional.huber_loss",
}


def loss_source(task: str, loss: str, width: int) -> str:
    if task == "tagging":
        body = ('    """Cross-entropy of every step\'s tag scores (N x L x C) against its tag\n'
                '    (N x L); steps tagged IGNORE (padding, unlabelled) do not count."""\n'
                "    scores, truth = out.reshape(-1, out.shape[-1]), y.reshape(-1).long()\n"
                "    if not bool((truth != IGNORE).any()):  # a batch of padding only\n"
                "        return scores.sum() * 0.0\n"
                "    return nn.functional.cross_entropy(scores, truth, ignore_index=IGNORE)\n")
    elif loss == "cross_entropy":
        body = ('    """Cross-entropy of the class scores against the class labels."""\n'
                "    return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), "
                "y.reshape(-1))\n")
    elif task == "reconstruction":
        call = _LOSS_CALLS[loss]
        what = "the output's logits against the input (in 0..1)" if loss == "bce" else \
            "the output against the input it rebuilds"
        body = (f'    """{loss} loss of {what}."""\n'
                f"    return {call}(out, x.reshape(out.shape).to(out.dtype))\n")
        return ("\n\ndef compute_loss(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:\n"
                + body)
    else:
        call = _LOSS_CALLS[loss]
        one_hot = task == "classification" and width > 1
        target = ("nn.functional.one_hot(y.long(), out.shape[-1]).to(out.dtype)"
                  ".reshape(out.shape)" if one_hot else "y.to(out.dtype).reshape(out.shape)")
        body = (f'    """{loss} loss of the output against the targets."""\n'
                f"    return {call}(out, {target})\n")
    return "\n\ndef compute_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n" + body


_ACCURACY = '''

class Score:
    """Accuracy over the batches seen (as Plexus measures it)."""

    name = "accuracy"

    def __init__(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
{predict}
        self.correct += int((predicted == truth).sum())
        self.count += predicted.numel()

    def value(self) -> float:
        return self.correct / self.count if self.count else float("nan")
'''

_ARGMAX = '''        predicted = out.argmax(-1)
        truth = y.reshape(predicted.shape)'''
_THRESHOLD = '''        predicted = out.reshape(-1) > {threshold}
        truth = y.reshape(-1).to(out.dtype) > 0.5'''

_R2 = '''

class Score:
    """R^2 of each target column, averaged (1.0 is perfect), as Plexus measures it."""

    name = "r2"

    def __init__(self) -> None:
        self.sums: list[torch.Tensor] | None = None
        self.rows = 0

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
        pred = out.double().reshape(out.shape[0], -1)
        truth = y.double().reshape(pred.shape)
        sums = [truth.sum(0), (truth * truth).sum(0), ((truth - pred) ** 2).sum(0)]
        if self.sums is not None:
            sums = [a + b for a, b in zip(self.sums, sums, strict=True)]
        self.sums = sums
        self.rows += pred.shape[0]

    def value(self) -> float:
        if self.sums is None:
            return float("nan")
        sum_y, sum_y2, sse = (s.cpu() for s in self.sums)
        sst = sum_y2 - sum_y * sum_y / self.rows
        scores = [1.0 - float(e) / float(t) if t > 1e-12 else float(e <= 1e-12)
                  for e, t in zip(sse, sst, strict=True)]
        return sum(scores) / len(scores)
'''


_TAGGED_ACCURACY = '''

class Score:
    """Accuracy over the tagged steps (targets other than IGNORE), as Plexus measures it."""

    name = "accuracy"

    def __init__(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
        predicted = out.argmax(-1)
        truth = y.reshape(predicted.shape)
        tagged = truth != IGNORE
        self.correct += int(((predicted == truth) & tagged).sum())
        self.count += int(tagged.sum())

    def value(self) -> float:
        return self.correct / self.count if self.count else float("nan")
'''

_FORECAST_MSE = '''

class Score:
    """Mean squared error of every forecast value, as Plexus measures it."""

    name = "mse"

    def __init__(self) -> None:
        self.sse, self.count = 0.0, 0

    def update(self, out: torch.Tensor, y: torch.Tensor) -> None:
        pred = out.double().reshape(out.shape[0], -1)
        self.sse += float(((pred - y.double().reshape(pred.shape)) ** 2).sum())
        self.count += pred.numel()

    def value(self) -> float:
        return self.sse / self.count if self.count else float("nan")
'''

_RECONSTRUCTION_MSE = '''

class Score:
    """Mean squared error of the reconstruction against the input, per sample and then
    averaged, as Plexus measures it (SIGMOID)."""

    name = "mse"

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, out: torch.Tensor, x: torch.Tensor) -> None:
        rebuilt = RECONSTRUCTION.double()
        error = (rebuilt - x.double().reshape(out.shape)) ** 2
        self.total += float(error.reshape(out.shape[0], -1).mean(1).sum())
        self.count += out.shape[0]

    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")
'''


def score_source(task: str, loss: str, width: int) -> str:
    if task == "tagging":
        return _TAGGED_ACCURACY
    if task == "forecasting":
        return _FORECAST_MSE
    if task == "reconstruction":
        bce = loss == "bce"
        return _RECONSTRUCTION_MSE.replace(
            "RECONSTRUCTION", "torch.sigmoid(out)" if bce else "out").replace(
            " (SIGMOID)", "; the reconstruction is the sigmoid of the logits" if bce else "")
    if task != "classification":
        return _R2
    if width > 1:
        predict = _ARGMAX
    else:
        predict = _THRESHOLD.replace("{threshold}", "0.0" if loss == "bce" else "0.5")
    return _ACCURACY.replace("{predict}", predict)


# -- optimizer, schedule, loop --------------------------------------------------------------------
_OPTIMIZERS = {
    "sgd": "torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)",
    "adam": "torch.optim.Adam(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
    "adamw": "torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
    "rmsprop": "torch.optim.RMSprop(groups, lr=LR, momentum=MOMENTUM, "
               "weight_decay=WEIGHT_DECAY)",
}

_GROUPS_PLAIN = '''

def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    return OPTIMIZER
'''

_GROUPS_NODES = '''

def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Frozen layers are not trained; the others learn at LR times their multiplier."""
    by_mult: dict[float, list[nn.Parameter]] = {}
    for name, module in model.named_children():
        mult = LR_MULT.get(name, 1.0)
        for p in module.parameters():
            if name in FROZEN or mult == 0.0:
                p.requires_grad_(False)
            else:
                by_mult.setdefault(mult, []).append(p)
    groups = [{"params": params, "lr": LR * mult} for mult, params in sorted(
        by_mult.items(), key=lambda item: (item[0] != 1.0, item[0]))]
    return OPTIMIZER
'''

_SCHEDULES = {
    "none": ("None", False),
    "step": ("torch.optim.lr_scheduler.StepLR(optimizer, STEP_SIZE, GAMMA)", False),
    "cosine": ("torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, total_steps))",
               True),
    "onecycle": ("torch.optim.lr_scheduler.OneCycleLR(\n"
                 "            optimizer, max_lr=[g[\"lr\"] for g in optimizer.param_groups],\n"
                 "            total_steps=max(1, total_steps), cycle_momentum={cycle})", True),
}

_MAIN = '''

@torch.no_grad()
def evaluate(model: nn.Module, data: TensorDataset, device: torch.device
             ) -> tuple[float, float]:
    """(mean loss, score) of the whole data set, in eval mode."""
    model.eval()
    total, count, score = 0.0, 0, Score()
    for x, y in DataLoader(data, batch_size=EVAL_BATCH):
        x, y = x.to(device), y.to(device)
        out = model(x)
        total += float(compute_loss(out, y)) * len(x)
        count += len(x)
        score.update(out, y)
    return total / max(1, count), score.value()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=DEVICE)
    parser.add_argument("--out", default=WEIGHTS_FILE, help="weights file rank 0 writes")
    parser.add_argument("--start", default=START_FILE, help="weights to start from (the "
                        "project's, when it was exported trained); '' for random weights")
    args = parser.parse_args()

    # torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; plain python runs one process.
    distributed = "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda and local_rank >= torch.cuda.device_count():
        raise SystemExit(f"process {local_rank} has no GPU of its own ("
                         f"{torch.cuda.device_count()} found): start at most that many "
                         "processes per machine, or train with --device cpu")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")

    torch.manual_seed(SEED)
    train_set, val_set = load_data()
    if len(val_set) == 0:
        val_set = train_set
    model = MODEL()
    if args.start:  # as in Plexus, training goes on from the weights the project had
        model.load_weights(args.start)
    model = model.to(device)
    optimizer = make_optimizer(model)
    net: nn.Module = model
    if distributed:
        net = DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
    sampler = (DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                  seed=SEED) if distributed else None)
    per_process = len(sampler) if sampler is not None else len(train_set)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=sampler is None,
                        sampler=sampler, generator=torch.Generator().manual_seed(SEED),
                        drop_last=per_process % BATCH_SIZE == 1)  # BatchNorm needs 2 samples
    SCHEDULE_LINE
    if rank == 0:
        print(f"training on {device} x {world}: {args.epochs} epochs of {len(loader)} steps, "
              f"{sum(p.numel() for p in model.parameters()):,} parameters")

    best_loss, best_epoch, best_state, stale = math.inf, 0, None, 0
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        net.train()
        FROZEN_EVALsums = torch.zeros(2, dtype=torch.float64, device=device)
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = compute_loss(net(x), y)
            loss.backward()
            GRAD_CLIPoptimizer.step()
            STEP_SCHEDULEsums += torch.tensor([loss.item() * len(x), len(x)], dtype=torch.float64,
                                 device=device)
        if distributed:
            dist.all_reduce(sums)
        EPOCH_SCHEDULEval_loss, val_score = evaluate(model, val_set, device)
        if val_loss < best_loss:
            best_loss, best_epoch, stale = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if rank == 0:
            print(f"epoch {epoch}/{args.epochs}  train loss {float(sums[0] / sums[1]):.4f}  "
                  f"val loss {val_loss:.4f}  val {Score.name} {val_score:.4f}", flush=True)
        if EARLY_STOPPING and stale >= EARLY_STOPPING:
            if rank == 0:
                print(f"stopped early: no better validation loss for {EARLY_STOPPING} epochs")
            break

    if best_state is not None:
        model.load_state_dict(best_state)  # the weights of the best validation loss
    if rank == 0:
        val_loss, val_score = evaluate(model, val_set, device)
        save_weights(model, args.out)
        print(f"best epoch {best_epoch}: val loss {val_loss:.4f}, val {Score.name} "
              f"{val_score:.4f}; saved {args.out}")
    if distributed:
        print(f"rank {rank} of {world} finished", flush=True)
        dist.destroy_process_group()


def save_weights(model: nn.Module, path: str) -> None:
    """Safetensors keyed like the model's state_dict, which the model's load_weights(path)
    reads."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        raise SystemExit("saving the weights needs safetensors: pip install safetensors") from None
    save_file(state, path)


if __name__ == "__main__":
    main()
'''


TASKS = ("classification", "regression", "tagging", "forecasting", "reconstruction")


def script_source(d: Any, name: str, weights_file: str, data_file: str) -> str:
    """The training script for the compiled design ``d`` (runtime.export.Design)."""
    project = d.project
    nodes = d.graph_nodes
    if len(d.compiled.input_nodes) != 1 or len(d.compiled.output_nodes) != 1:
        raise export.ExportError(
            f"'{project.name}' has {len(d.compiled.input_nodes)} Input and "
            f"{len(d.compiled.output_nodes)} Output nodes; training scripts are exported for "
            "networks with one of each (export the module with --to python instead)")
    input_node = nodes[d.compiled.input_nodes[0]]
    head = nodes[d.compiled.output_nodes[0]]
    out_shape = d.outputs[head.id]
    width = int(out_shape[-1]) if len(out_shape) > 1 else 1
    task = str(head.param("task"))
    if task not in TASKS:
        raise export.ExportError(f"{head.label} trains for {task}; training scripts are "
                                 f"exported for {', '.join(TASKS)} heads (export the module "
                                 "with --to python instead)")
    loss = resolved_loss(task, str(head.param("loss")), width)
    if task == "tagging" and loss != "cross_entropy":
        raise export.ExportError(f"{head.label} (tagging) trains with cross_entropy, not "
                                 f"{loss}; set its loss to auto")
    if task == "reconstruction" and loss == "cross_entropy":
        raise export.ExportError(f"{head.label} (reconstruction) cannot train with "
                                 "cross_entropy; choose auto, mse, bce, l1 or huber")
    if task == "reconstruction" and str(input_node.param("dtype")) == "long":
        raise export.ExportError(f"{head.label} (reconstruction) would rebuild integer token "
                                 "ids; reconstruct float inputs, or use task tagging")
    if loss not in _LOSS_CALLS and loss != "cross_entropy":
        raise export.ExportError(f"{head.label}: loss {loss!r} has no training script "
                                 "equivalent; choose auto, cross_entropy, bce, mse, l1 or huber")
    training = project.training
    dataset = project.dataset
    data_consts, data_code, data_imports = data_source(dataset, str(input_node.param("dtype")),
                                                        data_file)

    module_names = d.compiled.module_names
    frozen = sorted(module_names[i] for i in module_names if nodes[i].frozen)
    lr_mult = {module_names[i]: float(nodes[i].lr_mult) for i in sorted(module_names)
               if nodes[i].lr_mult != 1.0}
    optimizer_call = _OPTIMIZERS.get(training.optimizer)
    if optimizer_call is None:
        raise export.ExportError(f"training.optimizer {training.optimizer!r} is unknown; choose "
                                 "sgd, adam, adamw or rmsprop")
    groups = _GROUPS_NODES if frozen or lr_mult else _GROUPS_PLAIN
    groups = groups.replace("OPTIMIZER", optimizer_call)

    schedule, per_step = _SCHEDULES.get(training.schedule, ("None", False))
    cycle = training.optimizer in ("adam", "adamw") or training.momentum > 0
    schedule = schedule.replace("{cycle}", repr(cycle))
    main = _MAIN.replace("MODEL", name)
    if task == "reconstruction":  # the target is the input itself
        main = main.replace("compute_loss(out, y)", "compute_loss(out, x)").replace(
            "compute_loss(net(x), y)", "compute_loss(net(x), x)").replace(
            "score.update(out, y)", "score.update(out, x)")
    if training.schedule == "none":
        main = main.replace("    SCHEDULE_LINE\n", "")
    elif per_step:
        main = main.replace("SCHEDULE_LINE", "total_steps, step = args.epochs * len(loader), 0\n"
                            f"    schedule = {schedule}")
    else:
        main = main.replace("SCHEDULE_LINE", f"schedule = {schedule}")
    main = main.replace("STEP_SCHEDULE", "step += 1\n            if step < total_steps:  # as "
                        "Plexus: no step after the last\n                schedule.step()\n"
                        "            " if per_step else "")
    main = main.replace("EPOCH_SCHEDULE", "schedule.step()\n        "
                        if training.schedule != "none" and not per_step else "")
    main = main.replace("GRAD_CLIP", "nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)\n"
                        "            " if training.grad_clip > 0 else "")
    main = main.replace("FROZEN_EVAL", "for frozen in FROZEN:  # frozen layers keep their "
                        "statistics\n            getattr(model, frozen).eval()\n        "
                        if frozen else "")

    eval_batch = max(training.batch_size, min(1024, 4 * training.batch_size))
    consts = [
        "# -- settings of the Plexus project " + "-" * 60,
        *data_consts,
        f"EPOCHS = {int(training.epochs)}",
        f"BATCH_SIZE = {int(training.batch_size)}",
        f"EVAL_BATCH = {eval_batch}",
        f"LR = {float(training.lr)!r}",
    ]
    if training.optimizer in ("sgd", "rmsprop"):
        consts.append(f"MOMENTUM = {float(training.momentum)!r}")
    consts.append(f"WEIGHT_DECAY = {float(training.weight_decay)!r}")
    if training.schedule == "step":
        consts += [f"STEP_SIZE = {int(training.step_size)}", f"GAMMA = {float(training.gamma)!r}"]
    consts.append(f"EARLY_STOPPING = {int(training.early_stopping)}  # patience in epochs, 0: off")
    if training.grad_clip > 0:
        consts.append(f"GRAD_CLIP = {float(training.grad_clip)!r}")
    consts.append(f"DEVICE = {export.literal(training.device)}")
    if task == "tagging":
        consts.append("IGNORE = -100  # the tag of steps without a label (padding)")
    if frozen:
        consts.append(f"FROZEN = {export.literal(frozen)}")
    if lr_mult and not frozen:
        consts.append("FROZEN: list[str] = []")
    if lr_mult or frozen:
        consts.append(f"LR_MULT = {export.literal(lr_mult)}")
    consts += ["WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),",
               f"                            {export.literal(weights_file)})"]
    if d.trained:
        consts += ["START_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),",
                   f"                          {export.literal(start_file(weights_file))})"]
    else:
        consts.append('START_FILE = ""  # the project had no trained weights: random ones')

    title = (f"Train {name}, the network of the Plexus project "
             f"'{export._safe_text(project.name)}', on {dataset.name}.")
    saved = (f" It reads the data from {data_file}, which the export wrote beside it."
             if saves_data(dataset) else "")
    if d.trained:
        saved += (f" It starts from the project's weights, {start_file(weights_file)} "
                  "beside it (--start '' for random ones).")
    header = [
        *export._wrap('"""' + title),
        "",
        "One process:        python SCRIPT [--epochs N] [--device auto|cpu|cuda]",
        "Several processes:  torchrun --nproc_per_node N SCRIPT",
        "",
        *export._wrap(
            "With torchrun the model trains with DistributedDataParallel (nccl on CUDA GPUs, "
            "gloo on the CPU) and each process reads its share of every epoch through a "
            f"DistributedSampler. Rank 0 saves the weights of the best validation loss to "
            f"{weights_file} (next to this file, or --out), which {name}().load_weights() "
            f"reads.{saved}"),
        '"""',
    ]
    header = [line.replace("SCRIPT", "train.py") for line in header]
    stdlib = sorted({"import argparse", "import math", "import os", *(
        i for i in data_imports if i.startswith("import "))})
    stdlib_from = sorted({"from typing import ClassVar",
                          *(i for i in data_imports if i.startswith("from "))})
    imports = [
        "", "from __future__ import annotations", "",
        *stdlib, *stdlib_from, "",
        "import numpy as np",
        "import torch",
        "import torch.distributed as dist",
        "from torch import nn",
        "from torch.nn.parallel import DistributedDataParallel",
        "from torch.utils.data import DataLoader, DistributedSampler, TensorDataset",
        "",
    ]
    model = export.class_source(d, name)
    sections = [
        *header, *imports, *consts, "",
        "# -- the model " + "-" * 81, *model, "", "",
        "# -- data " + "-" * 86, data_code.strip("\n"), "", "",
        "# -- loss, score and training " + "-" * 66,
        loss_source(task, loss, width).strip("\n"), "",
        score_source(task, loss, width).strip("\n"), "",
        groups.strip("\n"), "",
        main.strip("\n"),
    ]
    return export._join(sections)
