"""Why a layer could not run, in user words: torch's reasons and the prechecks' problem codes
turned into one line that names the layer, what it received and what to change."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from graph.catalog import INPUT, MERGE
from graph.model import Node
from runtime.shape_text import BATCH, format_shape

Shape = tuple[int, ...]
Source = tuple[Shape, Any, str]  # (shape, dtype, label of the node it comes from)


def _received(source: Source) -> str:
    return f"{format_shape(source[0])} from {source[2]}"


def _listing(sources: Sequence[Source]) -> str:
    parts = [_received(s) for s in sources]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def problem_message(node: Node, params: dict[str, Any], problem: str, detail: str,
             sources: Sequence[Source]) -> str:
    label = node.label
    first = sources[0] if sources else ((), None, "its input")
    shape = first[0]
    if problem == "float_tokens":
        return (f"{label} expects integer token ids but receives float values from {first[2]}; "
                "feed it from an Input whose dtype is long")
    if problem == "int_input":
        src = next(s for s in sources if s[1] is not None and not s[1].is_floating_point)
        return (f"{label} receives integer token ids from {src[2]}; add an Embedding before it "
                "or set the Input's dtype to float")
    if problem == "rank":
        spec = node.spec
        ranks, words = (spec.ranks, spec.rank_words) if spec and spec.ranks else (
            (len(shape),), "")
        if len(shape) > max(ranks):
            advice = "add a Flatten or Reshape before it"
        elif "sequence" in words:
            advice = "add a Reshape (to L x F) or an Embedding before it"
        else:
            advice = "add a Reshape before it"
        return f"{label} expects {words} but receives {_received(first)}; {advice}"
    if problem == "dim_range":
        dim, rank = params.get("dim"), len(shape)
        return (f"{label}: dimension {dim} does not exist in its input {_received(first)}; "
                f"choose a dimension from {-rank} to {rank - 1}")
    if problem == "output_padding":
        return (f"{label}: output padding {_dims(params.get('output_padding'))} must be smaller "
                f"than the stride {_dims(params.get('stride'))}; lower the output padding or "
                "raise the stride")
    if problem == "merge_rank":
        return (f"{label} cannot {node.type.lower()} {_listing(sources)}: they have different "
                "numbers of dimensions; add a Reshape so they match (sizes of 1 broadcast)")
    if problem == "groups":
        groups, out, channels = params.get("groups"), params.get("out_channels"), shape[1]
        wrong = [f"its {what} ({count})" for what, count in (
            ("input channels", channels), ("output channels", out)) if count % groups]
        return (f"{label} has {groups} groups, which do not divide {' or '.join(wrong)} "
                f"(input {_received(first)}); choose groups that divide both (groups = input "
                f"channels, {channels}, with output channels a multiple of it, is depthwise)")
    if problem == "batch_dim":
        return (f"{label} cannot join along dimension {params.get('dim')}, the batch; join "
                "along dimension 1 (channels or features) or a later one")
    return _explain_torch(node, params, detail, sources)


_KERNEL = re.compile(r"padded input size per channel: \(([^)]*)\)\. Kernel size: \(([^)]*)\)")
_DIM_RANGE = re.compile(r"Dimension out of range \(expected to be in range of \[(-?\d+), "
                        r"(-?\d+)\], but got (-?\d+)\)")
_MATMUL = (re.compile(r"cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)"),
           re.compile(r"same reduction dim, but got \[[\d, ]*?(\d+)\] X \[(\d+), \d+\]"))


def _explain_torch(node: Node, params: dict[str, Any], detail: str,
                   sources: Sequence[Source]) -> str:
    label = node.label
    first = sources[0] if sources else ((), None, "its input")
    shape = first[0]
    spec = node.spec
    merge = spec is not None and spec.role == MERGE
    if merge and not spec.merge_dim and len(sources) > 1:
        verb = spec.title.lower()  # "add", "multiply"
        return (f"{label} cannot {verb} {_listing(sources)}; the shapes must be equal (or 1 "
                "where they differ), so change the layers before it to match")
    if merge and spec.merge_dim and len(sources) > 1:
        if len({len(s[0]) for s in sources}) > 1:
            return (f"{label} cannot join {_listing(sources)}: they have different numbers of "
                    "dimensions; add a Flatten or Reshape so they match")
        return (f"{label} cannot join {_listing(sources)} along dimension {params.get('dim')}: "
                "all other dimensions must be equal; change the layers before it to match")
    if spec is not None and spec.role != INPUT and "shape" in params:  # a reshape
        message = _reshape_message(label, params, first)
        if message:
            return message
    match = _KERNEL.search(detail)
    if match:
        size = match.group(1)
        padded = " with padding" if any(_nonzero(params.get("padding", 0))) else ""
        return (f"{label} has a {match.group(2)} kernel but its input is only {size}{padded} "
                f"({_received(first)}); use a smaller kernel, add padding or remove a pooling "
                "layer before it")
    if "Output size is too small" in detail:
        return (f"{label} would shrink its input {_received(first)} to nothing; use a smaller "
                "kernel, stride or padding, or remove a pooling layer before it")
    if "pad should be at most half" in detail:
        return (f"{label}: padding must be at most half the kernel size; lower the padding or "
                "enlarge the kernel")
    if "divisible by num_heads" in detail:
        heads, features = params.get("nhead"), shape[-1] if shape else "?"
        return (f"{label} has {heads} heads, which do not divide its {features} input "
                f"features ({_received(first)}); choose a number of heads that divides "
                f"{features}")
    match = _DIM_RANGE.search(detail)
    if match:
        return (f"{label}: dimension {match.group(3)} does not exist in its input "
                f"{_received(first)}; choose a dimension from {match.group(1)} to "
                f"{match.group(2)}")
    for pattern in _MATMUL:
        match = pattern.search(detail)
        if match:
            if pattern is _MATMUL[0]:
                got, expected = match.group(2), match.group(3)
            else:
                got, expected = match.group(1), match.group(2)
            return f"{label} expects {expected} input features but receives {got} from {first[2]}"
    return f"{label}: {detail}"


def _dims(value: Any) -> str:
    return " x ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _nonzero(value: Any) -> list[bool]:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return [bool(v) for v in values]


def _reshape_message(label: str, params: dict[str, Any], first: Source) -> str | None:
    try:
        target = tuple(int(d) for d in params.get("shape", ()))
    except (TypeError, ValueError):
        return None
    values = math.prod(first[0][1:])
    wanted = format_shape((BATCH, *target))
    unknown = target.count(-1)
    if unknown > 1:
        return (f"{label} can infer only one size (-1) but its shape {wanted} has {unknown}; "
                "give the other sizes")
    if any(d == 0 or d < -1 for d in target):
        return None
    known = math.prod(d for d in target if d != -1)
    if unknown:
        return (f"{label} cannot reshape {_received(first)} ({values} values per sample) to "
                f"{wanted}: {values} is not a multiple of {known}; choose sizes whose product "
                f"divides {values}")
    return (f"{label} cannot reshape {_received(first)} ({values} values per sample) to "
            f"{wanted} ({known} values); choose a shape with {values} values")
