"""Data sets: the built-in ones and readers for users' files, behind one registry.

``runtime.data`` is the public entry point. Importing this package registers every builder;
a module that adds data sets (sequences, shapes, ...) registers its builders with
``core.register`` and is imported below.
"""

# importing a module registers its builders
from runtime.datasets import (  # noqa: F401
    anomaly,
    gan,
    images,
    multitask,
    sequences,
    shapes,
    synthetic,
    tabular,
)
from runtime.datasets.core import (
    BUILDERS,
    DATASETS,
    DataBundle,
    DataError,
    DatasetInfo,
    describe,
    from_arrays,
    load_dataset,
    preview,
    register,
    split_indices,
)

# Built-in sets first, then the kinds of users' files: the order the dataset picker lists them.
for _id in sorted(DATASETS, key=lambda key: DATASETS[key].kind == "file"):
    DATASETS[_id] = DATASETS.pop(_id)

__all__ = ["BUILDERS", "DATASETS", "DataBundle", "DataError", "DatasetInfo", "describe",
           "from_arrays", "load_dataset", "preview", "register", "split_indices"]
