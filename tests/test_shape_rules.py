"""Declared shape rules (graph/shape_rules.py) against torch: for many random settings and
inputs of every layer that declares one, a rule either gives exactly what the layer's meta run
gives (shapes, dtypes, weights) or says it is not sure; never a shape for a configuration torch
rejects. And validating the examples, which use only such layers, imports neither
torch._dynamo nor sympy (a second of start-up)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from graph.catalog import BOOL, CHOICE, FLOAT, INT, INTS, MERGE, TOKENS, LayerSpec, by_category
from graph.shape_rules import RULES, declared_shapes
from resources.examples import make
from runtime.shapes import BATCH, _declared, _execute, _run

ROOT = Path(__file__).resolve().parents[1]
RULED = [spec for _, _, specs in by_category() for spec in specs if spec.shape_rule]
CASES = 120


def _value(param: Any, rng: random.Random) -> Any:
    """A random value within the parameter's bounds, small enough for tiny inputs."""
    low = -3 if param.minimum is not None and param.minimum < 0 else int(param.minimum or 0)
    high = min(int(param.maximum if param.maximum is not None else 8), low + 3)
    if param.kind == INT:
        return rng.randint(low, high)
    if param.kind == INTS:
        length = param.length or rng.randint(1, 3)
        return tuple(rng.randint(low, min(high, 5)) for _ in range(length))
    if param.kind == FLOAT:
        return round(rng.uniform(param.minimum or 0.0, min(param.maximum or 3.0, 3.0)), 2)
    if param.kind == BOOL:
        return rng.random() < 0.5
    if param.kind == CHOICE:
        return rng.choice(param.choices)
    return param.default


def _shape(rank: int, rng: random.Random) -> tuple[int, ...]:
    return (BATCH, *(rng.randint(1, 12) for _ in range(rank - 1)))


def _inputs(spec: LayerSpec, params: dict[str, Any], rng: random.Random
            ) -> list[tuple[tuple[int, ...], torch.dtype, str]]:
    """Inputs for ``spec``: a random rank it accepts, and for several inputs shapes that
    sometimes fit together and sometimes do not."""
    rank = rng.choice(spec.ranks or (2, 3, 4))
    first = _shape(rank, rng)
    dtype = torch.int64 if spec.dtype == TOKENS else torch.float32
    operands = [(first, dtype, spec.inputs[0].name)]
    other = rng.randint(1, 9)  # the length of a key, value or memory sequence
    if spec.id == "LearnedTensor":
        return [] if rng.random() < 0.5 else [(first, torch.float32, "like")]
    for port in spec.inputs[1:]:
        if port.optional and rng.random() < 0.5:
            continue
        if spec.role == MERGE:
            dim = params.get("dim", 1)
            shape = tuple(1 if spec.merge != "cat" and rng.random() < 0.3 else
                          rng.randint(1, 9) if rng.random() < 0.2 or i == dim % rank else d
                          for i, d in enumerate(first))
            operands.append(((BATCH, *shape[1:]), torch.float32, port.name))
        elif "mask" in port.name:
            keys = other if any(p == "key" for _, _, p in operands) else first[1]
            mask = (BATCH, keys) if rng.random() < 0.8 else (BATCH, rng.randint(1, 9))
            if port.name == "attn_mask":
                mask = (BATCH, first[1], *mask[1:])
            operands.append((mask, torch.int64, port.name))
        else:  # a key, value or memory sequence: the query's features, mostly
            features = first[-1] if rng.random() < 0.8 else rng.randint(1, 9)
            operands.append(((BATCH, other, features), torch.float32, port.name))
    return operands


def _said(caught: list[warnings.WarningMessage]) -> set[str]:
    return {str(w.message) for w in caught if issubclass(w.category, UserWarning)}


@pytest.mark.parametrize("spec", RULED, ids=lambda spec: spec.id)
def test_a_rule_gives_what_the_meta_run_gives_or_nothing(spec) -> None:
    rng = random.Random(spec.id)
    declared_cases = 0
    for _ in range(CASES):
        params = {**spec.defaults(), **{p.name: _value(p, rng) for p in spec.params
                                        if rng.random() < 0.7}}
        inputs = _inputs(spec, params, rng)
        if spec.id in ("TransformerEncoderLayer", "TransformerEncoder",
                       "TransformerDecoderLayer", "MultiheadAttention") and rng.random() < 0.7:
            heads = "num_heads" if "num_heads" in params else "nhead"
            shape, dtype, port = inputs[0]
            inputs[0] = (shape[:-1] + (params[heads] * rng.randint(1, 3),), dtype, port)
        with warnings.catch_warnings(record=True) as said_building:
            warnings.simplefilter("always")
            declared = _declared(spec, params, inputs)
        if declared is None:
            continue
        declared_cases += 1
        case = f"{spec.id} {params} {[(s, p) for s, _, p in inputs]}"
        try:
            with warnings.catch_warnings(record=True) as said_running:
                warnings.simplefilter("always")
                ran = _execute(spec, params, inputs, "meta")
        except Exception as exc:  # noqa: BLE001 - the rule should have said it is not sure
            pytest.fail(f"the rule gave {declared.shapes} but torch refuses: {exc}; {case}")
        assert (declared.shapes, declared.dtypes, declared.params) == \
            (ran.shapes, ran.dtypes, ran.params), case
        # what the editor shows as warnings comes from building; running adds nothing
        assert _said(said_building) == _said(said_running), case
    assert declared_cases >= CASES // 5, f"the rule decided only {declared_cases} cases"


def test_every_named_rule_exists_and_a_rule_is_never_sure_of_a_broken_setting() -> None:
    assert all(spec.shape_rule in RULES for spec in RULED)
    assert {"Conv2d", "Linear", "LSTM", "Embedding", "Add", "BatchNorm2d", "MaxPool2d",
            "TransformerEncoderLayer"} <= {spec.id for spec in RULED}
    conv = {"out_channels": 4, "kernel_size": (5, 5), "stride": (1, 1), "padding": (0, 0),
            "dilation": (1, 1), "padding_mode": "zeros"}
    assert declared_shapes("convolution", conv, {"in": (2, 3, 8, 8)}) == ((2, 4, 4, 4),)
    assert declared_shapes("convolution", conv, {"in": (2, 3, 4, 4)}) is None  # 5x5 > 4x4
    assert declared_shapes("convolution", {**conv, "kernel_size": "5"},
                           {"in": (2, 3, 8, 8)}) is None
    assert declared_shapes("broadcast", {}, {"in1": (2, 3, 1), "in2": (2, 1, 5)}) \
        == ((2, 3, 5),)
    assert declared_shapes("broadcast", {}, {"in1": (2, 3), "in2": (2, 4)}) is None
    assert declared_shapes("no such rule", {}, {"in": (2, 3)}) is None


def test_a_layer_torch_refuses_still_gets_torchs_reason() -> None:
    conv = next(spec for spec in RULED if spec.id == "Conv2d")
    params = {**conv.defaults(), "kernel_size": (9, 9)}
    outcome = _run(conv, params, [((BATCH, 3, 4, 4), torch.float32, "in")])
    assert outcome.problem == "torch" and "Kernel size can't be greater" in outcome.detail


def test_validating_the_examples_imports_neither_dynamo_nor_sympy() -> None:
    script = (
        "import json, sys\n"
        "from resources.examples import make\n"
        "from runtime.shapes import analyze\n"
        "found = {name: analyze(make.build(name).graph).ok for name in make.EXAMPLES}\n"
        "print(json.dumps([found, [m for m in ('torch._dynamo', 'sympy') if m in sys.modules]]))"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    found, heavy = json.loads(run.stdout.strip().splitlines()[-1])
    assert found == dict.fromkeys(make.EXAMPLES, True)
    assert heavy == []
