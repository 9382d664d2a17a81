"""The long-memory set: the class is the token right after a marker, read 30+ steps later.

A sequence is a run of the two tokens "a" and "b" with one marker token "mark" near its start;
the class is the token after the marker. The tokens before and after carry no information but
are the very tokens that carry it, so a network cannot learn to ignore them (an Embedding could
zero distinct filler words, after which even a plain RNN keeps the answer): it must store the
token when a marker came just before and hold it, unchanged by the rest, to the end. An LSTM's
input and forget gates do that; a tanh RNN's state is rewritten by every token, and the
gradient that would teach it to hold vanishes over the distance (``long_memory_rnn`` against
``long_memory_lstm`` in the examples).
"""

from __future__ import annotations

import numpy as np

from graph.catalog import INT, Param
from graph.fields import Field
from graph.settings import DatasetSettings
from runtime.datasets.core import (
    GENERATE_STREAM,
    DataError,
    DatasetInfo,
    from_arrays,
    option_int,
    register,
)
from runtime.datasets.sequences import PAD_TEXT, SequenceBundle, extend

A, B, MARK = 1, 2, 3  # token ids; 0 is padding, which these sequences never use
VOCABULARY = [PAD_TEXT, "a", "b", "mark"]
CLASSES = ["a", "b"]

MEMORY_LENGTH = Param("length", INT, 40, "Tokens in each sequence.", 8, 1000,
                      label="Sequence length")
MARKER_WINDOW = Param("marker_within", INT, 5, "The marker is among the first this many "
                      "tokens, so the answer lies at least length - this - 1 steps back.",
                      1, 998, label="Marker within")


def long_memory_arrays(n: int, length: int, marker_within: int, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(tokens N x length, classes N): random a/b tokens, one marker at a random position
    below ``marker_within``; the class is the token after it (0 for a, 1 for b)."""
    if marker_within > length - 1:
        raise DataError(f"dataset option 'marker_within' ({marker_within}) must leave a token "
                        f"after the marker: at most length - 1 ({length - 1})")
    tokens = rng.integers(A, B + 1, (n, length))
    rows = np.arange(n)
    marker_at = rng.integers(0, marker_within, n)
    tokens[rows, marker_at] = MARK
    classes = tokens[rows, marker_at + 1] - A
    return tokens.astype(np.int64), classes.astype(np.int64)


@register(DatasetInfo(
    "long_memory", "Long memory (token after a marker)",
    "Sequences of the tokens a and b with one marker near the start; the class is the token "
    "right after the marker, 30 or more steps before the end. The other tokens are a and b as "
    "well, so they cannot be ignored: the network must store the marked token and keep it. "
    "An LSTM learns it; a plain RNN stays at chance (50%).",
    "classification", "sequence", ("samples",),
    options=(Field(MEMORY_LENGTH), Field(MARKER_WINDOW))))
def long_memory(settings: DatasetSettings) -> SequenceBundle:
    length = option_int(settings, MEMORY_LENGTH)
    marker_within = option_int(settings, MARKER_WINDOW)
    rng = np.random.default_rng([settings.seed, GENERATE_STREAM])
    tokens, classes = long_memory_arrays(settings.samples, length, marker_within, rng)
    bundle = from_arrays(settings.name, tokens, classes, "classification", settings,
                         class_names=CLASSES, value_range=(0.0, float(len(VOCABULARY) - 1)),
                         input_dtype="long", owned=True)
    return extend(bundle, vocabulary=list(VOCABULARY), tokenizer="word")
