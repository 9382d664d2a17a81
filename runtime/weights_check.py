"""Check a project's weights before anything uses them: the safetensors framing, then each
tensor against the graph.

The weights are read from mail and downloads like the rest of the file, so their header is
parsed here by hand (8-byte length, then JSON) instead of trusting a loader: every dtype must
be known, every shape must fill exactly its byte range, and the ranges must lie inside the
data without overlapping. A damaged framing makes the whole file unusable, and every layer
starts fresh. A well-framed tensor that does not fit the graph (no such node, no such
parameter, another shape than the compiled layer's, found on the meta device so nothing is
allocated) leaves that layer to start fresh. Both come back as diagnostics naming the layer
and the tensor, for ``validate``, ``info`` and the editor's notice on open.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

from graph import limits
from graph.model import Graph
from graph.validate import ERROR, Diagnostic

# bytes per element of each dtype safetensors writes
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8,
               "F64": 8, "C64": 8}
MEMBER = "weights.safetensors"


class WeightsError(ValueError):
    """Weights whose framing is broken; the one-line message names the tensor."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header declares it; ``begin``/``end`` count from the data start."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class WeightsCheck:
    """What a project's weights hold: ``usable`` False when the framing is broken (every
    layer starts fresh); ``diagnostics`` name each problem; ``fresh`` the names of the layers
    that start fresh because of one."""

    usable: bool
    diagnostics: list[Diagnostic]
    fresh: list[str]


def read_header(data: bytes) -> list[TensorEntry]:
    """The tensors a safetensors file declares, checked against its own size; WeightsError."""
    if len(data) < 8:
        raise WeightsError(f"{MEMBER} is too short ({len(data)} bytes) to hold weights")
    (size,) = struct.unpack("<Q", data[:8])
    if size > limits.MAX_SAFETENSORS_HEADER or 8 + size > len(data):
        raise WeightsError(f"{MEMBER} declares a header of {size:,} bytes in a file of "
                           f"{len(data):,}")
    try:
        header = json.loads(bytes(data[8:8 + size]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WeightsError(f"{MEMBER}: the header is not JSON ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{MEMBER}: the header must be an object")
    header.pop("__metadata__", None)
    if len(header) > limits.MAX_TENSORS:
        raise WeightsError(f"{MEMBER} declares {len(header):,} tensors; at most "
                           f"{limits.MAX_TENSORS:,} are allowed")
    entries = [_entry(key, value) for key, value in header.items()]
    _check_ranges(entries, len(data) - 8 - size)
    return entries


def _entry(key: str, value: object) -> TensorEntry:
    where = f"{MEMBER}: tensor '{key[:200]}'"
    if not isinstance(value, dict):
        raise WeightsError(f"{where} must be described by an object")
    dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise WeightsError(f"{where} has an unknown dtype {str(dtype)[:40]!r}")
    if (not isinstance(shape, list) or len(shape) > limits.MAX_TENSOR_RANK
            or not all(_whole(v) for v in shape)):
        raise WeightsError(f"{where} has no valid shape (up to {limits.MAX_TENSOR_RANK} whole "
                           "numbers)")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_whole(v) for v in offsets):
        raise WeightsError(f"{where} has no valid data_offsets (two whole numbers)")
    begin, end = offsets
    if end < begin:
        raise WeightsError(f"{where} ends (byte {end:,}) before it begins (byte {begin:,})")
    expected = math.prod(shape) * DTYPE_BYTES[dtype]
    if expected != end - begin:
        raise WeightsError(f"{where} is {format_shape(shape)} {dtype} ({_bytes(expected)}) but "
                           f"its data holds {_bytes(end - begin)}")
    return TensorEntry(key, dtype, tuple(shape), begin, end)


def _check_ranges(entries: list[TensorEntry], data_size: int) -> None:
    previous: TensorEntry | None = None
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        if entry.end > data_size:
            raise WeightsError(f"{MEMBER}: tensor '{entry.key[:200]}' ends at byte "
                               f"{entry.end:,}, past the end of the data ({data_size:,} bytes)")
        if previous is not None and entry.begin < previous.end:
            raise WeightsError(f"{MEMBER}: tensors '{previous.key[:200]}' and "
                               f"'{entry.key[:200]}' overlap")
        previous = entry


def check_weights(graph: Graph, data: bytes | None) -> WeightsCheck:
    """Check ``data`` (a project's safetensors bytes, or None) against ``graph``."""
    if data is None:
        return WeightsCheck(True, [], [])
    try:
        entries = read_header(data)
    except WeightsError as exc:
        return WeightsCheck(False, [Diagnostic(ERROR, f"{exc}; the weights cannot be used and "
                                                      "every layer starts fresh")], ["every layer"])
    expected = expected_shapes(graph)
    if expected is None:  # the graph does not compile: nothing to compare with
        return WeightsCheck(True, [], [])
    diagnostics: list[Diagnostic] = []
    fresh: list[str] = []
    for entry in entries:
        node_text, _, path = entry.key.partition(".")
        node_id = int(node_text) if node_text.isascii() and node_text.isdigit() \
            and len(node_text) < 12 else None
        node = graph.nodes.get(node_id) if node_id is not None else None
        if node is None:
            diagnostics.append(Diagnostic(ERROR, f"weights: tensor '{entry.key[:200]}' belongs "
                                                 "to no layer of the graph; it is ignored"))
            continue
        layer = expected.get(node.id)
        if layer is None:  # not compiled: a merge, or a layer leading to no Output
            continue
        if path not in layer:
            diagnostics.append(Diagnostic(ERROR, f"{node.name}: has no parameter '{path}'; "
                                                 f"tensor '{entry.key}' is ignored", node.id))
        elif layer[path] != entry.shape:
            diagnostics.append(Diagnostic(
                ERROR, f"{node.name}: {path.rsplit('.', 1)[-1]} is {format_shape(entry.shape)} "
                f"but the layer has {format_shape(layer[path])}; it will start fresh", node.id))
            if node.name not in fresh:
                fresh.append(node.name)
    return WeightsCheck(True, diagnostics, fresh)


def fresh_sentence(check: WeightsCheck) -> str:
    """Which layers start fresh and why, as one sentence ("" when every layer keeps its
    weights): what the editor says on open and the training session when a run starts."""
    if not check.fresh:
        return ""
    reasons = "; ".join(d.message for d in check.diagnostics[:5])
    return (f"{', '.join(check.fresh)} start{'s' * (len(check.fresh) == 1)} fresh, because "
            f"the saved weights do not fit ({reasons})")


def expected_shapes(graph: Graph) -> dict[int, dict[str, tuple[int, ...]]] | None:
    """Each compiled layer's parameter and buffer shapes, by node id and path; built on the
    meta device, so a layer of any size costs no memory. None when the graph does not
    compile."""
    import torch

    from runtime.compile import compile_graph, node_state

    try:
        with torch.device("meta"):
            compiled = compile_graph(graph)
    except Exception:  # noqa: BLE001 - an invalid graph: validation reports why
        return None
    shapes: dict[int, dict[str, tuple[int, ...]]] = {i: {} for i in compiled.module_names}
    for key, tensor in node_state(compiled).items():
        node_text, _, path = key.partition(".")
        shapes[int(node_text)][path] = tuple(tensor.shape)
    return shapes


def format_shape(shape: tuple[int, ...] | list[int]) -> str:
    return "x".join(str(v) for v in shape) if shape else "a scalar"


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 63


def _bytes(n: int) -> str:
    return f"{n:,} bytes"
