"""Sequence data sets: token sequences (text, a tagging task) and time series to forecast.

Built-in sets, each made to show one idea:

- ``future_context``: a tagging task where a name's role (a character of a novel or an actor
  on screen) is given only by a word *after* it, so a bidirectional recurrent layer tags it and
  a one-directional one can only guess.
- ``sines``: windows of noisy sums of sines; predict the next values.
- ``sentiment_reviews``: the three-class product-review CSV shipped in resources/.

Users' files: ``text_csv`` (a text column and a label; word or character tokens, a vocabulary
built from the training split only, padding and truncation to a fixed length, an
out-of-vocabulary token) and ``series`` (CSV columns or an NPZ array over time, cut into
windows; the last share of the time steps is the validation part, so no window of the future
leaks into training).

Token ids: 0 is padding (``PAD``), 1 the out-of-vocabulary token (``OOV``); a ``SequenceReduce``
node with the token Input on its mask port leaves padding out. Tagging targets use -100
(``runtime.heads.IGNORE``) for steps without a tag.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from graph.catalog import BOOL, CHOICE, INT, STR, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    GENERATE_STREAM,
    DataBundle,
    DataError,
    DatasetInfo,
    check_generated_size,
    fit_scaling,
    from_arrays,
    option_choice,
    option_int,
    register,
    split_indices,
)
from runtime.datasets.csv_text import _Table
from runtime.datasets.tabular import existing

PAD, OOV = 0, 1
PAD_TEXT, OOV_TEXT = "<pad>", "<oov>"
IGNORE = -100  # tagging target of an untagged step (runtime.heads.IGNORE)
REVIEWS = Path(__file__).resolve().parents[2] / "resources" / "sentiment_reviews.csv"


@dataclass
class SequenceBundle(DataBundle):
    """A ``DataBundle`` with what the sequence views need besides the tensors.

    ``vocabulary[i]`` is the text of token id i (0 padding, 1 out-of-vocabulary); ``tokenizer``
    is "word" or "char" for text, "" otherwise. Series sets keep ``window`` and ``horizon``
    and ``val_series``: the validation part of each series, scaled like the inputs (T x F),
    for forecast-against-actual plots.
    """

    vocabulary: list[str] = field(default_factory=list)
    tokenizer: str = ""
    window: int = 0
    horizon: int = 0
    val_series: list[np.ndarray] = field(default_factory=list)

    def decode(self, ids: Sequence[int], keep_padding: bool = False) -> list[str]:
        """Token ids as their texts (padding dropped unless ``keep_padding``)."""
        out = []
        for i in ids:
            i = int(i)
            if i == PAD and not keep_padding:
                continue
            out.append(self.vocabulary[i] if 0 <= i < len(self.vocabulary) else OOV_TEXT)
        return out


def extend(bundle: DataBundle, **extra: Any) -> SequenceBundle:
    """``bundle`` as a SequenceBundle with ``extra`` fields set."""
    base = {f.name: getattr(bundle, f.name) for f in fields(DataBundle)}
    return SequenceBundle(**base, **extra)


def _rng(settings: DatasetSettings) -> np.random.Generator:
    return np.random.default_rng([settings.seed, GENERATE_STREAM])


def _tensor_bundle(name: str, x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                   **kwargs: Any) -> SequenceBundle:
    """A bundle of already split arrays (x int64 tokens or float32 values)."""
    def part(index: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(np.ascontiguousarray(x[index])),
                             torch.from_numpy(np.ascontiguousarray(y[index])))

    return SequenceBundle(train=part(train), val=part(val), input_shape=tuple(x.shape[1:]),
                          name=name, **kwargs)


# -- future context: tagging that needs the words after each name ------------------------------

NAMES = ("jean", "marie", "paul", "anne", "louis", "claire", "victor", "lucie")
NOVEL_CUES = ("novel", "chapter", "book", "page")
FILM_CUES = ("film", "screen", "cast", "movie")
FILLERS = ("the", "a", "in", "of", "and", "was", "said", "then", "walked", "smiled", "there",
           "again", "later", "home", "slowly", "that")
CONTEXT_VOCABULARY = [PAD_TEXT, OOV_TEXT, *NAMES, *NOVEL_CUES, *FILM_CUES, *FILLERS]
ROLES = ["character", "actor"]


def future_context_arrays(n: int, length: int, rng: np.random.Generator
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(tokens N x L, tags N x L) of made-up sentences.

    A sentence is a run of clauses "name, 0-2 fillers, cue, 0-2 fillers". The cue is a novel
    word (the name is a character, tag 0) or a film word (an actor, tag 1), chosen at random,
    so only the words after a name tell its role; every other word is untagged (-100), as is a
    name whose cue was cut off by the end of the sentence.
    """
    index = {word: i for i, word in enumerate(CONTEXT_VOCABULARY)}
    tokens = np.full((n, length), PAD, np.int64)
    tags = np.full((n, length), IGNORE, np.int64)
    for row in range(n):
        words: list[int] = [index[w] for w in rng.choice(FILLERS, rng.integers(0, 3))]
        roles: list[int] = [IGNORE] * len(words)
        while len(words) < length:
            role = int(rng.integers(0, 2))
            gap = int(rng.integers(0, 3))
            cue = rng.choice(NOVEL_CUES if role == 0 else FILM_CUES)
            clause = [rng.choice(NAMES), *rng.choice(FILLERS, gap), cue,
                      *rng.choice(FILLERS, rng.integers(0, 3))]
            ids = [index[str(w)] for w in clause]
            cue_at = len(words) + gap + 1
            roles += [role if cue_at < length else IGNORE] + [IGNORE] * (len(ids) - 1)
            words += ids
        tokens[row] = words[:length]
        tags[row] = roles[:length]
    return tokens, tags


SENTENCE_LENGTH = Param("length", INT, 16, "Words per sentence.", 6, 64,
                        label="Sentence length")
SINES_WINDOW = Param("window", INT, 24, "Past steps in each sample.", 4, 512, label="Window")
SINES_HORIZON = Param("horizon", INT, 4, "Steps ahead to predict.", 1, 64, label="Horizon")
SERIES_LENGTH = Param("length", INT, 100, "Steps in each generated series.", 2, 100_000,
                      label="Series length")
FILE_WINDOW = Param("window", INT, 32, "Past steps in each sample.", 2, 4096, label="Window")
FILE_HORIZON = Param("horizon", INT, 1, "Steps ahead to predict.", 1, 512, label="Horizon")


@register(DatasetInfo(
    "future_context", "Future context (tagging)",
    "Sentences of made-up words where each name is tagged as a character of a novel or an "
    "actor on screen. Only a word after the name tells which, so a bidirectional LSTM tags "
    "it and a one-directional one can only guess. Other words are untagged (ignored).",
    "classification", "sequence", ("samples",),
    options=(Field(SENTENCE_LENGTH),)))
def future_context(settings: DatasetSettings) -> SequenceBundle:
    length = option_int(settings, SENTENCE_LENGTH)
    tokens, tags = future_context_arrays(settings.samples, length, _rng(settings))
    train, val = split_indices(len(tokens), settings.val_split, settings.seed)
    return _tensor_bundle(
        settings.name, tokens, tags, train, val, input_dtype="long", task="classification",
        num_classes=len(ROLES), class_names=list(ROLES), feature_names=[],
        value_range=(0.0, float(len(CONTEXT_VOCABULARY) - 1)),
        vocabulary=list(CONTEXT_VOCABULARY), tokenizer="word")


# -- series -------------------------------------------------------------------------------------

def windows(series: np.ndarray, window: int, horizon: int, first_target: int = 0,
            targets: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows of a (T, F) series: x (K, window, F) and y (K, horizon) for one target
    feature or (K, horizon, targets) for several; the targets are the first ``targets``
    features. Only windows whose first target step is at ``first_target`` or later."""
    t_len, features = series.shape
    targets = features if targets is None else targets
    starts = np.arange(max(0, first_target - window), t_len - window - horizon + 1)
    if len(starts) == 0:
        shape_y = (0, horizon) if targets == 1 else (0, horizon, targets)
        return np.zeros((0, window, features), np.float32), np.zeros(shape_y, np.float32)
    steps = np.arange(window)
    x = series[starts[:, None] + steps]
    y = series[starts[:, None] + window + np.arange(horizon), :targets]
    if targets == 1:
        y = y[..., 0]
    return x.astype(np.float32), y.astype(np.float32)


def _series_bundle(name: str, train_parts: list[np.ndarray], val_parts: list[np.ndarray],
                   window: int, horizon: int, targets: int, scaling: str,
                   feature_names: list[str], per_feature: bool = True,
                   val_context: list[np.ndarray] | None = None) -> SequenceBundle:
    """Windows of already split series (each T x F), scaled with training statistics.

    ``val_context[i]``: the steps before ``val_parts[i]`` its first windows may read (the end
    of the training part of the same series); their targets always lie in the val part.
    """
    stacked = np.concatenate(train_parts, 0).astype(np.float64)
    offset, scale = fit_scaling(stacked, scaling, per_feature=per_feature)

    def scaled(part: np.ndarray) -> np.ndarray:
        part = part.astype(np.float64)
        return part if offset is None else (part - offset) / scale

    def cut(parts: list[np.ndarray], contexts: list[np.ndarray] | None) -> tuple[Any, Any]:
        xs, ys = [], []
        for i, part in enumerate(parts):
            before = contexts[i][-window:] if contexts else part[:0]
            whole = scaled(np.concatenate([before, part], 0))
            x, y = windows(whole, window, horizon, first_target=len(before), targets=targets)
            xs.append(x)
            ys.append(y)
        return np.concatenate(xs, 0), np.concatenate(ys, 0)

    x_train, y_train = cut(train_parts, None)
    x_val, y_val = cut(val_parts, val_context)
    if len(x_train) < 2:
        raise DataError(f"{name}: the training part is too short for windows of {window} steps "
                        f"and {horizon} ahead; lower the window or the validation split")
    features = stacked.shape[1]
    t_offset = t_scale = None
    if offset is not None:
        full_offset = np.broadcast_to(offset, (features,)).astype(np.float64)
        full_scale = np.broadcast_to(scale, (features,)).astype(np.float64)
        t_offset, t_scale = full_offset[:targets], full_scale[:targets]
        offset, scale = full_offset, full_scale
    value = np.concatenate([x_train.reshape(-1), x_val.reshape(-1)]) if len(x_val) else \
        x_train.reshape(-1)
    val_series = [scaled(np.concatenate([(val_context[i][-window:] if val_context else
                                          part[:0]), part], 0)).astype(np.float32)
                  for i, part in enumerate(val_parts)]
    return SequenceBundle(
        train=TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
        val=TensorDataset(torch.from_numpy(x_val), torch.from_numpy(y_val)),
        input_shape=tuple(x_train.shape[1:]), input_dtype="float", task="regression",
        num_classes=0, class_names=[], feature_names=feature_names,
        value_range=(float(value.min()), float(value.max())), name=name,
        target_names=feature_names[:targets],
        feature_offset=offset, feature_scale=scale, target_offset=t_offset, target_scale=t_scale,
        window=window, horizon=horizon, val_series=val_series)


def sine_series(count: int, length: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """(count, length) noisy sums of two sines with random periods (6 to 30 steps),
    amplitudes (0.4 to 1) and phases; ``noise`` is the std of the Gaussian jitter."""
    t = np.arange(length)[None, :]
    total = np.zeros((count, length))
    for _ in range(2):
        period = rng.uniform(6.0, 30.0, (count, 1))
        amplitude = rng.uniform(0.4, 1.0, (count, 1))
        phase = rng.uniform(0.0, 2 * np.pi, (count, 1))
        total += amplitude * np.sin(2 * np.pi * t / period + phase)
    return total + rng.normal(0.0, noise, total.shape)


@register(DatasetInfo(
    "sines", "Sums of sines (forecasting)",
    "Noisy sums of two sines with random periods; each sample is a window of past values and "
    "the target the next values. Whole series go to training or validation. Compare val_mse "
    "with val_baseline_mse, the error of repeating the last value.",
    "regression", "sequence", ("samples", "noise", "scaling"),
    options=(Field(SINES_WINDOW), Field(SINES_HORIZON), Field(SERIES_LENGTH))))
def sines(settings: DatasetSettings) -> SequenceBundle:
    window = option_int(settings, SINES_WINDOW)
    horizon = option_int(settings, SINES_HORIZON)
    length = option_int(settings, SERIES_LENGTH, low=window + horizon + 1)
    check_generated_size(settings, (window + horizon) * 4)
    per_series = length - window - horizon + 1
    count = max(2, math.ceil(settings.samples / per_series))
    series = sine_series(count, length, settings.noise, _rng(settings))
    train, val = split_indices(count, settings.val_split, settings.seed)
    return _series_bundle(settings.name, [series[i][:, None] for i in train],
                          [series[i][:, None] for i in val], window, horizon, 1,
                          settings.scaling, ["value"], per_feature=False)


def _read_series(settings: DatasetSettings) -> tuple[np.ndarray, list[str], int, str]:
    """(series T x F with the target features first, feature names, number of targets,
    file name) from a CSV (numeric columns) or an NPZ (one array over time)."""
    path = existing(settings)
    file = path.name
    if path.suffix.lower() == ".npz":
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{file}: not a readable .npz file ({exc}); save the series with "
                            "numpy.savez(path, series=values)") from exc
        with archive:
            keys = [k for k in archive.files if k.lower() in ("series", "x")] or archive.files
            if not keys:
                raise DataError(f"{file} holds no arrays; save the series with "
                                "numpy.savez(path, series=values)")
            try:
                values = np.asarray(archive[keys[0]])
            except ValueError as exc:
                raise DataError(f"{file}: array '{keys[0]}' holds Python objects, which are not "
                                "loaded for safety; save plain numbers") from exc
        if values.dtype.kind not in "biuf":
            raise DataError(f"{file}: array '{keys[0]}' must hold numbers, found {values.dtype}")
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise DataError(f"{file}: array '{keys[0]}' must be one series (T) or T x features, "
                            f"found shape {values.shape}")
        if not np.isfinite(values).all():
            raise DataError(f"{file}: step {int(np.flatnonzero(~np.isfinite(values).all(1))[0])}"
                            " of the series is NaN or infinite; fix or remove it")
        names = [f"x{i}" for i in range(values.shape[1])]
        return values.astype(np.float64), names, values.shape[1], file
    table = _Table(path)
    numeric = [n for n in table.header if table.mostly_numeric(n)]
    if not numeric:
        raise DataError(f"{file}: no numeric column to forecast; the columns are "
                        f"{', '.join(table.header)}")
    target = settings.target_column.strip()
    if target and target not in numeric:
        raise DataError(f"{file}: no numeric column '{target}'; set the target column to one of "
                        f"{', '.join(numeric)}")
    ordered = [target, *[n for n in numeric if n != target]] if target else numeric
    values = np.stack([table.numbers(n) for n in ordered], 1)
    return values, ordered, 1 if target else len(ordered), file


@register(DatasetInfo(
    "series", "Time series file",
    "A CSV with one row per time step (numeric columns are the features; text columns such as "
    "dates are skipped) or an NPZ with one array, T or T x features. Samples are windows of "
    "past steps; targets the next steps of the target column (default: every feature). The "
    "last share of the steps (the validation split) is validation.",
    "regression", "file", ("path", "target_column", "scaling"),
    options=(Field(FILE_WINDOW), Field(FILE_HORIZON))))
def load_series(settings: DatasetSettings) -> SequenceBundle:
    window = option_int(settings, FILE_WINDOW)
    horizon = option_int(settings, FILE_HORIZON)
    values, names, targets, file = _read_series(settings)
    steps = len(values)
    n_val = 0 if settings.val_split <= 0 else math.ceil(settings.val_split * steps - 1e-9)
    boundary = steps - n_val
    if boundary < window + horizon + 1:
        raise DataError(f"{file}: {steps} steps leave {boundary} for training, too few for a "
                        f"window of {window} and {horizon} ahead; lower the window, the horizon "
                        "or the validation split")
    train = [values[:boundary]]
    val = [values[boundary:]] if n_val else []
    if not val:
        val, context = [values[:0]], [values[:boundary]]
    else:
        context = [values[:boundary]]
    return _series_bundle(file, train, val, window, horizon, targets, settings.scaling, names,
                          val_context=context)


# -- text ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)


def tokenize(text: str, tokenizer: str = "word", lowercase: bool = True) -> list[str]:
    """Words (letters and digits, with an inner apostrophe) and punctuation marks, or single
    characters."""
    if lowercase:
        text = text.lower()
    if tokenizer == "char":
        return list(text)
    return _WORD.findall(text)


def build_vocabulary(token_lists: Sequence[list[str]], size: int) -> list[str]:
    """Padding, the out-of-vocabulary token, then the ``size - 2`` most frequent tokens (ties
    alphabetically, so the order never depends on the row order)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(counts, key=lambda token: (-counts[token], token))
    return [PAD_TEXT, OOV_TEXT, *ranked[:max(0, size - 2)]]


def encode(token_lists: Sequence[list[str]], vocabulary: Sequence[str], length: int,
           truncate: str = "end") -> np.ndarray:
    """(N, length) int64 ids, padded with 0 at the end; longer texts lose their end (or their
    beginning with ``truncate="start"``); unknown tokens become 1."""
    index = {token: i for i, token in enumerate(vocabulary)}
    out = np.zeros((len(token_lists), length), np.int64)
    for row, tokens in enumerate(token_lists):
        ids = [index.get(token, OOV) for token in tokens]
        ids = ids[-length:] if truncate == "start" else ids[:length]
        out[row, :len(ids)] = ids
    return out


def text_bundle(name: str, texts: list[str], labels: list[str], settings: DatasetSettings
                ) -> SequenceBundle:
    """Tokenized, padded texts with class labels; the vocabulary comes from the training
    split only (validation words it never saw become the out-of-vocabulary token)."""
    tokenizer = option_choice(settings, TOKENIZER)
    size = option_int(settings, VOCAB_SIZE)
    length = option_int(settings, MAX_LENGTH, default=200 if tokenizer == "char" else 40)
    truncate = option_choice(settings, TRUNCATE)
    lowercase = settings.options.get("lowercase", True)
    if not isinstance(lowercase, bool):
        raise DataError(f"dataset option 'lowercase' must be true or false, not {lowercase!r}")
    class_names = sorted(set(labels))
    y = np.array([class_names.index(label) for label in labels], np.int64)
    token_lists = [tokenize(text, tokenizer, lowercase) for text in texts]
    train, _ = split_indices(len(texts), settings.val_split, settings.seed, y)
    vocabulary = build_vocabulary([token_lists[i] for i in train], size)
    x = encode(token_lists, vocabulary, length, truncate)
    bundle = from_arrays(name, x, y, "classification", settings, class_names=class_names,
                         input_dtype="long", value_range=(0.0, float(len(vocabulary) - 1)))
    return extend(bundle, vocabulary=vocabulary, tokenizer=tokenizer)


TEXT_COLUMN = Param("text_column", STR, "", "The column holding the text; empty: 'text', "
                    "else the first text column.", label="Text column")
TOKENIZER = Param("tokenizer", CHOICE, "word", "Split texts into words or single characters.",
                  choices=("word", "char"), label="Tokens",
                  choice_labels=("Words", "Characters"))
VOCAB_SIZE = Param("vocab_size", INT, 2000, "Tokens kept (the most frequent in training), "
                   "padding and out-of-vocabulary included; rarer ones become "
                   "out-of-vocabulary.", 3, 1_000_000, label="Vocabulary size")
MAX_LENGTH = Param("max_length", INT, None, "Tokens per sample: longer texts are cut, shorter "
                   "ones padded; auto is 40 words or 200 characters.", 0, 100_000,
                   label="Length")
TRUNCATE = Param("truncate", CHOICE, "end", "Which part of a long text is cut off: the end "
                 "(keep the beginning) or the start (keep the end).", choices=("end", "start"),
                 label="Cut off", choice_labels=("The end", "The start"))
LOWERCASE = Param("lowercase", BOOL, True, "Read every text in lower case.", label="Lowercase")
_TEXT_OPTIONS = (TEXT_COLUMN, TOKENIZER, VOCAB_SIZE, MAX_LENGTH, TRUNCATE, LOWERCASE)


def _read_texts(path: Path, settings: DatasetSettings) -> tuple[list[str], list[str], str]:
    table = _Table(path)
    target = settings.target_column.strip() or table.header[-1]
    if target not in table.header:
        raise DataError(f"{table.file}: no column '{target}'; the columns are "
                        f"{', '.join(table.header)}; set the target column to one of them")
    column = settings.options.get("text_column") or (
        "text" if "text" in table.header and target != "text" else next(
            (n for n in table.header if n != target and not table.mostly_numeric(n)), ""))
    if not column or column not in table.header or column == target:
        raise DataError(f"{table.file}: no text column{f' {column!r}' if column else ''}; set "
                        f"the dataset option text_column to one of {', '.join(table.header)}")
    labels = table.column(target)
    for i, label in enumerate(labels):
        if not label:
            raise DataError(f"{table.where(i, target)} is empty; give every text a label")
    return table.column(column), labels, table.file


@register(DatasetInfo(
    "text_csv", "Text CSV file",
    "A CSV with a text column and a label column (the target column, default the last). "
    "Texts become word or character token ids, padded or cut to a fixed length; the "
    "vocabulary is built from the training split. Token 0 is padding, 1 out-of-vocabulary.",
    "classification", "file", ("path", "target_column"),
    options=tuple(Field(p) for p in _TEXT_OPTIONS)))
def load_text_csv(settings: DatasetSettings) -> SequenceBundle:
    texts, labels, file = _read_texts(existing(settings), settings)
    return text_bundle(file, texts, labels, settings)


# The text options with the reviews' own defaults (a small vocabulary, short texts).
_REVIEW_OPTIONS = (
    TOKENIZER, replace(VOCAB_SIZE, default=300),
    replace(MAX_LENGTH, default=32, help="Tokens per sample: longer texts are cut, shorter "
            "ones padded."), TRUNCATE, LOWERCASE)


@register(DatasetInfo(
    "sentiment_reviews", "Product reviews (sentiment)",
    "Several hundred short product reviews written for Plexus, each satisfied, neutral or "
    "dissatisfied (resources/sentiment_reviews.csv). Word tokens, padded to 32.",
    "classification", "sequence", (),
    options=tuple(Field(p) for p in _REVIEW_OPTIONS)))
def sentiment_reviews(settings: DatasetSettings) -> SequenceBundle:
    if not REVIEWS.is_file():
        raise DataError(f"{REVIEWS}: the shipped review file is missing; reinstall Plexus")
    options = {**{p.name: p.default for p in _REVIEW_OPTIONS}, **settings.options}
    local = DatasetSettings(**{**settings.__dict__, "options": options})
    texts, labels, _ = _read_texts(REVIEWS, local)
    return text_bundle(settings.name, texts, labels, local)
