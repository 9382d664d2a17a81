"""The bounds of the .plexus format, declared once.

A project file is read from mail and downloads, so nothing it declares is trusted to be
reasonable: every size and count below is checked while the file is read (graph/project.py),
before anything is built from it, and a file past one of them is refused with a one-line
error naming the file and the field. The settings' own bounds (samples, lengths, epochs) are
declared on their Fields (graph/settings.py, runtime/datasets) and read from here where the
format sets them.

What the editor does at each bound: the file does not open; the message says which count is
too large and what the format allows, and the project already open stays as it was.
"""

from __future__ import annotations

# -- the zip -----------------------------------------------------------------------------------
# Bytes a member may declare. Members are inflated in chunks, never past the declared size (a
# stream that goes on is reported as damaged), so memory stays bounded by these numbers
# whatever the compressed stream holds.
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_WEIGHTS_BYTES = 16 * 1024 ** 3
MAX_WEIGHTS_RATIO = 200  # weights barely compress; a far higher ratio means a bomb
UNPACK_CHUNK = 1024 * 1024  # bytes inflated at a time

# -- weights.safetensors -----------------------------------------------------------------------
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # safetensors' own limit
MAX_TENSORS = 1_000_000
MAX_TENSOR_RANK = 16

# -- project.json ------------------------------------------------------------------------------
MAX_NODES = 100_000
MAX_EDGES = 400_000
MAX_GROUPS = 100_000
MAX_NODE_ID = 2 ** 31 - 1  # ids are whole numbers from 0 to this (they fit every int32)
MAX_NAME_CHARS = 1_000  # project, node and group names
MAX_DESCRIPTION_CHARS = 100_000  # the project's description
MAX_TEXT_CHARS = 10_000  # a text parameter or setting (a path, an equation, a column)
MAX_PARAM_LIST = 64  # values in a list parameter (a shape, a kernel size)
MAX_RUNS = 10_000  # training runs in the history
MAX_RUN_RECORDS = 100_000  # epoch records or loss points in one run
MAX_OPTIONS = 1_000  # entries of the dataset or training options

# -- settings ----------------------------------------------------------------------------------
MAX_SAMPLES = 1_000_000  # samples of a generated data set
MAX_GENERATED_BYTES = 1024 ** 3  # bytes a generated data set's inputs may take
PREVIEW_SAMPLES = 2_000  # samples the editor's dataset preview generates at most
