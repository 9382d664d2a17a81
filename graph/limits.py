"""The bounds of the .plexus format, declared once and checked here.

A project file is read from mail and downloads, so nothing it declares is trusted to be
reasonable: graph/project.py checks the zip's sizes while reading and ``check_project_json``
checks every count of project.json before anything is built from it; a file past one of them
is refused with a one-line error naming the file and the field. The settings' own bounds
(samples, lengths, epochs) are declared on their Fields (graph/settings.py, runtime/datasets)
and read from here where the format sets them.

What the editor does at each bound: past a zip or project.json bound the file does not open
(the message says which count is too large and what the format allows; the open project
stays); saving past one is refused the same way, so every file Plexus writes opens again.
A generated set past MAX_GENERATED_BYTES is refused before it is allocated, naming
the samples to lower to; the dataset preview builds at most PREVIEW_SAMPLES samples. A
description up to MAX_DESCRIPTION_CHARS opens in bounded time: a text with a run of more than
gui.text.UNBROKEN_RUN characters without spaces wraps anywhere (word wrapping such a run is
quadratic), and ``info`` prints its first lines only. Weights
that do not fit the graph (runtime/weights_check.py) open with a notice listing the layers
that start fresh.
"""

from __future__ import annotations

import math
from typing import Any

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
MAX_DESCRIPTION_CHARS = 1024 * 1024  # the project's description: the editor lays it out in
# linear time (a run without spaces wraps anywhere), about 3 s at this bound
MAX_TEXT_CHARS = 10_000  # a text parameter or setting (a path, an equation, a column)
MAX_PARAM_LIST = 64  # values in a list parameter (a shape, a kernel size)
MAX_RUNS = 10_000  # training runs in the history
MAX_RUN_RECORDS = 100_000  # epoch records or loss points in one run
MAX_OPTIONS = 1_000  # entries of the dataset or training options

# -- settings ----------------------------------------------------------------------------------
MAX_SAMPLES = 1_000_000  # samples of a generated data set
MAX_GENERATED_BYTES = 1024 ** 3  # bytes a generated data set's inputs may take
PREVIEW_SAMPLES = 2_000  # samples the editor's dataset preview generates at most


class LimitError(ValueError):
    """A count or size past the format's bounds; the message names the field."""


# -- checks of project.json, before anything is built from it ----------------------------------
def check_project_json(data: dict[str, Any]) -> None:
    """LimitError naming the field when a project.json dict passes one of the bounds above.
    Only sizes are checked here; types and values are checked where they are read."""
    _check_text(data.get("name"), "'name'", MAX_NAME_CHARS)
    _check_text(data.get("description"), "'description'", MAX_DESCRIPTION_CHARS)
    graph = data.get("graph")
    if isinstance(graph, dict):
        _check_graph(graph)
    for key in ("dataset", "training"):
        settings = data.get(key)
        if isinstance(settings, dict):
            _check_settings(settings, key)
    history = data.get("history")
    _check_len(history, "'history'", MAX_RUNS, "training runs")
    for index, run in enumerate(history if isinstance(history, list) else ()):
        for key in ("epochs", "steps"):
            value = run.get(key) if isinstance(run, dict) else None
            _check_len(value, f"history run {index + 1} field '{key}'", MAX_RUN_RECORDS,
                       "records")


def _check_graph(graph: dict[str, Any]) -> None:
    nodes, edges = graph.get("nodes"), graph.get("edges")
    _check_len(nodes, "'graph.nodes'", MAX_NODES, "nodes")
    _check_len(edges, "'graph.edges'", MAX_EDGES, "edges")
    _check_len(graph.get("groups"), "'graph.groups'", MAX_GROUPS, "groups")
    _check_id(graph.get("next_id"), "'graph.next_id'", MAX_NODE_ID + 1)
    for raw in nodes if isinstance(nodes, list) else ():
        if not isinstance(raw, dict):
            continue
        _check_id(raw.get("id"), "a node id")
        what = f"node {raw.get('id')}"
        _check_text(raw.get("name"), f"{what} name", MAX_NAME_CHARS)
        params = raw.get("params")
        for name, value in params.items() if isinstance(params, dict) else ():
            _check_len(value, f"{what} parameter '{name}'", MAX_PARAM_LIST, "values")
            _check_text(value, f"{what} parameter '{name}'", MAX_TEXT_CHARS)
    for raw in edges if isinstance(edges, list) else ():
        if isinstance(raw, dict):
            _check_id(raw.get("src"), "an edge's source id")
            _check_id(raw.get("dst"), "an edge's target id")


def _check_settings(settings: dict[str, Any], key: str) -> None:
    for name, value in settings.items():
        if isinstance(value, dict):
            _check_len(value, f"'{key}.{name}'", MAX_OPTIONS, "entries")
            for option, entry in value.items():
                _check_text(entry, f"'{key}.{name}.{option}'", MAX_TEXT_CHARS)
                _check_len(entry, f"'{key}.{name}.{option}'", MAX_PARAM_LIST, "values")
        else:
            _check_text(value, f"'{key}.{name}'", MAX_TEXT_CHARS)


def _check_len(value: Any, what: str, most: int, unit: str) -> None:
    if isinstance(value, (list, dict)) and len(value) > most:
        raise LimitError(f"{what} holds {len(value):,} {unit}; the format allows at most "
                         f"{most:,}")


def _check_text(value: Any, what: str, most: int) -> None:
    if isinstance(value, str) and len(value) > most:
        raise LimitError(f"{what} is {len(value):,} characters long; the format allows at "
                         f"most {most:,}")


def _check_id(value: Any, what: str, most: int = MAX_NODE_ID) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        return  # never a number: reading the graph says so
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and not 0 <= value <= most:
        shown = f"{value}" if isinstance(value, float) or abs(value) < 10 ** 30 \
            else f"a {len(str(abs(value)))}-digit number"
        raise LimitError(f"{what} is {shown}; ids are whole numbers from 0 to {most:,}")
