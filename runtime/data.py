"""Data for training: built-in sets and users' files, split into train and validation.

This is the module the rest of Plexus imports; the implementation lives in runtime/datasets/
(core: bundle, registry, split and scaling; synthetic: built-in sets; tabular: CSV and NPZ;
images: image folders and IDX files, read lazily).
"""

import runtime.datasets  # noqa: F401  (registers every builder, in the picker's order)
from runtime.datasets.core import (
    BUILDERS,
    DATASETS,
    DataBundle,
    DataError,
    DatasetInfo,
    describe,
    from_arrays,
    load_dataset,
    load_preview,
    preview,
    register,
    split_indices,
)

__all__ = ["BUILDERS", "DATASETS", "DataBundle", "DataError", "DatasetInfo", "describe",
           "from_arrays", "load_dataset", "load_preview", "preview", "register", "split_indices"]
