"""Data sets: the built-in ones and readers for users' files, behind one registry.

``runtime.data`` is the public entry point: it imports this package, which registers every
builder. A module that adds data sets (sequences, shapes, ...) registers its builders with
``core.register`` and is imported below.
"""

# importing a module registers its builders
from runtime.datasets import (  # noqa: F401
    anomaly,
    gan,
    images,
    long_memory,
    multitask,
    sequences,
    shapes,
    synthetic,
    tabular,
)
from runtime.datasets.core import DATASETS

# Built-in sets first, then the kinds of users' files: the order the dataset picker lists them.
for _id in sorted(DATASETS, key=lambda key: DATASETS[key].kind == "file"):
    DATASETS[_id] = DATASETS.pop(_id)
