"""Exact tensor shapes of every edge, found by running each layer on the ``meta`` device.

Every layer is built from its catalog declaration exactly as the compiler builds it, and run
on meta tensors (no memory, no compute) in topological order, so the shapes the editor shows
cannot drift from what training will do. The common layers declare their shapes instead
(``graph/shape_rules.py``, checked against the meta run by tests): arithmetic, without the
second of torch imports their first meta run costs; they are still built, for their weights.
When torch rejects a layer, its reason becomes one diagnostic on that node in user words, and
the nodes after it are marked not inferred (no cascade of follow-up errors).

Results are cached per (layer type, params, input shapes and dtypes), across graphs, so an edit
only re-runs the nodes whose inputs or params actually changed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from graph.catalog import ANY, ELEMENTWISE, HEAD, INPUT, MERGE, TOKENS, LayerSpec
from graph.model import Edge, Graph, Node
from graph.shape_rules import declared_shapes
from graph.validate import Diagnostic, ValidationMemo, has_errors, validate
from runtime import ops
from runtime.shape_messages import problem_message
from runtime.shape_text import BATCH

DTYPES = {"float": torch.float32, "long": torch.int64}

Shape = tuple[int, ...]
Operand = tuple[Shape, torch.dtype, str]  # an input of a layer: shape, dtype, its port


@dataclass
class ShapeResult:
    """Shapes (batch first) of every inferred node output and edge, and parameter counts."""

    outputs: dict[int, dict[str, Shape]] = field(default_factory=dict)
    edges: dict[Edge, Shape] = field(default_factory=dict)
    params: dict[int, int] = field(default_factory=dict)  # trainable parameters per node
    diagnostics: list[Diagnostic] = field(default_factory=list)
    not_inferred: set[int] = field(default_factory=set)
    # Input shapes of each inferred node, in port order (what build_layer needs).
    inputs: dict[int, list[Shape]] = field(default_factory=dict)

    @property
    def total_params(self) -> int:
        return sum(self.params.values())


@dataclass
class Analysis:
    """Everything the editor draws on nodes: validation and shape diagnostics, and shapes."""

    diagnostics: list[Diagnostic]
    shapes: ShapeResult

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


@dataclass
class ShapeMemo:
    """What the last shape inference of one design found, so the next one redoes only what
    an edit touched: each node's outcome (reused while its revision and inputs stay), and the
    whole last run (while the wiring stays, only edited nodes and those after them run)."""

    # node id -> (its revision, the shapes and dtypes it received, what running it gave)
    outcomes: dict[int, tuple[int, tuple[Any, ...], _Outcome]] = field(default_factory=dict)
    last: _LastRun | None = None


@dataclass
class AnalysisMemo:
    """What the editor's last analysis of its design found, per node, so the next one after
    an edit redoes only what the edit touched (see ``Graph.node_revision``). One memo per
    design; runs that share it must not overlap."""

    validation: ValidationMemo = field(default_factory=ValidationMemo)
    shapes: ShapeMemo = field(default_factory=ShapeMemo)


def analyze(graph: Graph, classes: int | None = None, memo: AnalysisMemo | None = None
            ) -> Analysis:
    """Validate the graph, then infer shapes of every node not involved in a structural error.

    Nodes with bad parameters, unknown types or bad connections are not run (validation
    already explains them); errors that do not change what a layer computes (duplicate names,
    a bad learning-rate multiplier) do not stop shape inference. ``classes``: the dataset's
    class count when known, so a classification Output's width is checked before Train.
    ``memo``: the editor's (the result is the same without it, only slower).
    """
    diagnostics = list(validate(graph, memo.validation if memo is not None else None))
    skip: set[int] = set()
    for diag in diagnostics:
        if diag.severity != "error":
            continue
        if diag.edge is not None:
            skip.add(diag.edge.dst)
        elif diag.node_id is not None and diag.node_id in graph.nodes \
                and not _params_ok(graph.nodes[diag.node_id]):
            skip.add(diag.node_id)
    shapes = infer_shapes(graph, skip, memo.shapes if memo is not None else None)
    from runtime.head_shapes import check_classification_heads  # it formats with this module

    heads = check_classification_heads(graph, shapes.edges, classes)
    return Analysis(diagnostics + shapes.diagnostics + heads, shapes)


def _params_ok(node: Node) -> bool:
    spec = node.spec
    if spec is None:
        return False
    params = node.params
    return all(p.check(params.get(p.name, p.default)) is None for p in spec.params)


# -- inference ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Outcome:
    """What running one layer on meta tensors gave: output shapes or a problem code."""

    shapes: tuple[Shape, ...] = ()
    dtypes: tuple[torch.dtype, ...] = ()
    params: int = 0
    problem: str | None = None  # see _message
    detail: str = ""  # torch's first line when problem == "torch"
    warnings: tuple[str, ...] = ()


_CACHE: dict[tuple[Any, ...], _Outcome] = {}
_CACHE_LIMIT = 50_000


Outcomes = dict[int, tuple[int, tuple[Any, ...], _Outcome]]


@dataclass
class _LastRun:
    """One inference's wiring, inputs and findings, kept so that the next, after an edit that
    left the wiring as it was, copies them and reruns only the edited nodes and what they
    feed (an edit of one layer of 5,000 must not walk all 5,000 in Python)."""

    edges: list[Edge]
    nodes: frozenset[int]
    skipped: frozenset[int]
    revisions: dict[int, int]
    into: dict[tuple[int, str], Edge]
    succ: dict[int, list[int]]
    out_edges: dict[int, list[Edge]]
    position: dict[int, int]  # topological; nodes on or behind a cycle are not in it
    result: ShapeResult
    dtypes: dict[int, dict[str, torch.dtype]]
    notes: dict[int, list[Diagnostic]]  # what inferring each node said, for nodes that spoke


def infer_shapes(graph: Graph, skip: Iterable[int] = (), memo: ShapeMemo | None = None
                 ) -> ShapeResult:
    """Run every node (except ``skip``) on meta tensors in topological order.

    Never raises for a bad design: nodes that cannot run get one diagnostic (torch's reason in
    user words); nodes after them, nodes on cycles and nodes with unconnected inputs are only
    listed in ``not_inferred``. ``memo``: the last inference of this design; each node's last
    outcome is reused while its revision and what it receives stay the same, and while the
    wiring stays, only edited nodes and the nodes after them are visited at all.
    """
    nodes = graph.nodes
    skipped = frozenset(skip)
    revisions = {i: graph.node_revision(i) for i in nodes} if memo is not None else {}
    last = memo.last if memo is not None else None
    if last is not None and last.edges == graph.edges and last.nodes == nodes.keys():
        run = _rerun_edited(graph, skipped, revisions, last, memo)
    else:
        run = _infer_all(graph, skipped, revisions, memo)
    if memo is not None:
        memo.last = run
    result = run.result
    result = ShapeResult(dict(result.outputs), dict(result.edges), dict(result.params),
                         [d for i in run.position if i in run.notes for d in run.notes[i]],
                         set(result.not_inferred), dict(result.inputs))
    result.diagnostics += _absent_outputs(graph, result)
    return result


def _infer_all(graph: Graph, skipped: frozenset[int], revisions: dict[int, int],
               memo: ShapeMemo | None) -> _LastRun:
    """Infer every node; what is kept of the run for the next one."""
    nodes = graph.nodes
    into: dict[tuple[int, str], Edge] = {}
    succ: dict[int, list[int]] = {i: [] for i in nodes}
    out_edges: dict[int, list[Edge]] = {}
    indegree = dict.fromkeys(nodes, 0)
    for edge in graph.edges:
        if edge.src in nodes and edge.dst in nodes:
            into.setdefault((edge.dst, edge.dst_port), edge)
            succ[edge.src].append(edge.dst)
            out_edges.setdefault(edge.src, []).append(edge)
            indegree[edge.dst] += 1
    order = list(_topological(succ, indegree))
    run = _LastRun(list(graph.edges), frozenset(nodes), skipped, revisions, into, succ,
                   out_edges, {i: n for n, i in enumerate(order)}, ShapeResult(), {}, {})
    _infer_in_order(graph, order, run, memo)
    if memo is not None:
        for node_id in [i for i in memo.outcomes if i not in nodes]:
            del memo.outcomes[node_id]
    ordered = run.position
    run.result.not_inferred.update(i for i in nodes if i not in ordered)  # on or behind a cycle
    for edge in graph.edges:
        shape = run.result.outputs.get(edge.src, {}).get(edge.src_port)
        if shape is not None and edge.dst in nodes:
            run.result.edges[edge] = shape
    return run


def _rerun_edited(graph: Graph, skipped: frozenset[int], revisions: dict[int, int],
                  last: _LastRun, memo: ShapeMemo) -> _LastRun:
    """The last run with the edited nodes (a new revision, or newly skipped or not) and every
    node after them inferred again; the wiring is the last run's."""
    edited = {i for i, revision in revisions.items() if last.revisions.get(i) != revision}
    edited |= skipped ^ last.skipped
    dirty: set[int] = set()
    stack = list(edited)
    while stack:
        node_id = stack.pop()
        if node_id not in dirty:
            dirty.add(node_id)
            stack.extend(last.succ.get(node_id, ()))
    old = last.result
    result = ShapeResult(dict(old.outputs), dict(old.edges), dict(old.params), [],
                         old.not_inferred - {i for i in dirty if i in last.position},
                         dict(old.inputs))
    run = _LastRun(last.edges, last.nodes, skipped, revisions, last.into, last.succ,
                   last.out_edges, last.position, result, dict(last.dtypes), dict(last.notes))
    for node_id in dirty:
        for found in (result.outputs, result.params, result.inputs, run.dtypes, run.notes):
            found.pop(node_id, None)
    order = sorted((i for i in dirty if i in last.position), key=last.position.__getitem__)
    _infer_in_order(graph, order, run, memo)
    for node_id in order:
        outputs = result.outputs.get(node_id, {})
        for edge in last.out_edges.get(node_id, ()):
            shape = outputs.get(edge.src_port)
            if shape is None:
                result.edges.pop(edge, None)
            else:
                result.edges[edge] = shape
    return run


def _infer_in_order(graph: Graph, order: list[int], run: _LastRun, memo: ShapeMemo | None
                    ) -> None:
    """Infer ``order``'s nodes into ``run``, noting what each one said."""
    nodes, result = graph.nodes, run.result
    with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for node_id in order:
            node = nodes[node_id]
            if node_id in run.skipped or node.spec is None:
                result.not_inferred.add(node_id)
                continue
            before = len(result.diagnostics)
            _infer_node(node, node.spec, nodes, run.into, result, run.dtypes, caught,
                        None if memo is None else (memo.outcomes, run.revisions[node_id]))
            if len(result.diagnostics) > before:
                run.notes[node_id] = result.diagnostics[before:]
                del result.diagnostics[before:]


def _absent_outputs(graph: Graph, result: ShapeResult) -> list[Diagnostic]:
    """One error per node with a wired output port that the layer, with its params, does not
    give (Chunk's out3 when it makes 2 chunks)."""
    absent: dict[int, set[str]] = {}
    for edge in graph.edges:
        ports = result.outputs.get(edge.src)
        if ports is not None and edge.src_port not in ports:
            absent.setdefault(edge.src, set()).add(edge.src_port)
    found = []
    for node_id, wired in absent.items():
        node = graph.nodes[node_id]
        spec = node.spec
        names = [p.name for p in spec.outputs] if spec is not None else []
        missing = [name for name in names if name in wired]  # unknown ports: validation's
        if spec is None or spec.role == HEAD or not missing:
            continue
        given = ", ".join(name for name in names if name in result.outputs[node_id])
        found.append(Diagnostic(
            "error", f"{node.label} gives only {given} with its parameters, but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} connected; raise its "
            "number of outputs or move the connection", node_id))
    return found


def _topological(succ: dict[int, list[int]], indegree: dict[int, int]) -> Iterable[int]:
    """Kahn's algorithm, smallest id first among ready nodes; cycles are left out."""
    indegree = dict(indegree)
    ready = [i for i, d in indegree.items() if d == 0]
    heapify(ready)
    while ready:
        node_id = heappop(ready)
        yield node_id
        for nxt in succ[node_id]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heappush(ready, nxt)


def _infer_node(node: Node, spec: LayerSpec, nodes: dict[int, Node],
                into: dict[tuple[int, str], Edge], result: ShapeResult,
                dtypes: dict[int, dict[str, torch.dtype]], caught: list[Any],
                memo: tuple[Outcomes, int] | None = None) -> None:
    if spec.role == INPUT:
        params = node.all_params()
        try:
            sample = tuple(int(d) for d in params.get("shape", ()))
        except (TypeError, ValueError):
            sample = ()
        if not sample or min(sample) < 1:
            result.not_inferred.add(node.id)  # validation explains the bad shape
            return
        result.outputs[node.id] = {"out": (BATCH, *sample)}
        dtypes[node.id] = {"out": DTYPES.get(params.get("dtype"), torch.float32)}
        result.params[node.id] = 0
        result.inputs[node.id] = []
        return

    inputs: list[tuple[str, Shape, torch.dtype, Edge]] = []
    for port in spec.inputs:
        edge = into.get((node.id, port.name))
        if edge is None:
            if port.optional:
                continue
            result.not_inferred.add(node.id)  # validation reports the open input
            return
        shape = result.outputs.get(edge.src, {}).get(edge.src_port)
        if shape is None:
            result.not_inferred.add(node.id)  # an earlier node failed: no follow-up error
            return
        inputs.append((port.name, shape, dtypes[edge.src][edge.src_port], edge))
    if not inputs and not all(port.optional for port in spec.inputs):  # sources run alone
        result.not_inferred.add(node.id)
        return
    result.inputs[node.id] = [shape for _, shape, _, _ in inputs]

    if spec.role == HEAD:  # Output passes its input through and has no output ports
        result.outputs[node.id] = {}
        result.params[node.id] = 0
        return

    signature = tuple((port, shape, dtype) for port, shape, dtype, _ in inputs)
    remembered = memo[0].get(node.id) if memo is not None else None
    if remembered is not None and remembered[0] == memo[1] and remembered[1] == signature:
        outcome: _Outcome | None = remembered[2]
        params = None  # only a problem's message needs them
    else:
        params = node.all_params()
        key = (spec.id, _freeze(params), signature)
        outcome = _CACHE.get(key)
    if outcome is None:
        before = len(caught)
        outcome = _run(spec, params, [(shape, dtype, port) for port, shape, dtype in signature])
        found = tuple(dict.fromkeys(_warning_text(w) for w in caught[before:]
                                    if _worth_reporting(w)))
        del caught[before:]
        if found:
            outcome = _Outcome(outcome.shapes, outcome.dtypes, outcome.params, outcome.problem,
                               outcome.detail, found)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = outcome
    if memo is not None:
        memo[0][node.id] = (memo[1], signature, outcome)

    for text in outcome.warnings:
        result.diagnostics.append(Diagnostic("warning", f"{node.label}: {text}", node.id))
    if outcome.problem is not None:
        sources = [(shape, dtype, nodes[edge.src].label) for _, shape, dtype, edge in inputs]
        if params is None:
            params = node.all_params()
        message = problem_message(node, params, outcome.problem, outcome.detail, sources)
        result.diagnostics.append(Diagnostic("error", message, node.id))
        result.not_inferred.add(node.id)
        return
    ports = [port.name for port in spec.outputs]
    result.outputs[node.id] = dict(zip(ports, outcome.shapes, strict=False))
    dtypes[node.id] = dict(zip(ports, outcome.dtypes, strict=False))
    result.params[node.id] = outcome.params


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a parameter value (lists become tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return (type(value).__name__, value)


def _run(spec: LayerSpec, params: dict[str, Any], inputs: list[Operand]) -> _Outcome:
    """Run one layer on ``inputs``: (shape, dtype, input port) each."""
    problem = _precheck(spec, params, inputs)
    if problem is not None:
        return _Outcome(problem=problem)
    if spec.has(ELEMENTWISE):  # declared to keep its input's shape and dtype
        shape, dtype, _ = inputs[0]
        return _Outcome((shape,), (dtype,))
    declared = _declared(spec, params, inputs) if spec.shape_rule else None
    if declared is not None:
        return declared
    try:
        return _execute(spec, params, inputs, "meta")
    except NotImplementedError as exc:
        if "Meta" not in str(exc):
            return _Outcome(problem="torch", detail=_first_line(exc))
        # An op without a meta kernel (a future layer): run it once on small real zeros.
        try:
            return _execute(spec, params, inputs, "cpu")
        except Exception as inner:  # noqa: BLE001 - torch's reason becomes a diagnostic
            return _Outcome(problem="torch", detail=_first_line(inner))
    except Exception as exc:  # noqa: BLE001 - torch's reason becomes a diagnostic
        return _Outcome(problem="torch", detail=_first_line(exc))


class _Uninitialized(TorchFunctionMode):
    """Modules built without their ``torch.nn.init`` calls: counting weights needs only their
    shapes, and some initialisations (``normal_``) on the meta device import torch._dynamo."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == "torch.nn.init" and func.__name__.endswith("_"):
            return args[0] if args else kwargs["tensor"]  # the tensor, left as it is
        return func(*args, **kwargs)


def _declared(spec: LayerSpec, params: dict[str, Any], inputs: list[Operand]
              ) -> _Outcome | None:
    """What the layer's declared shape rule gives, its weights counted on a meta build
    (which runs nothing); None when the rule is not sure, or the build fails: then the layer
    runs, and torch's reason is reported as usual."""
    if spec.dtype == TOKENS or not inputs:
        dtype = torch.float32  # vectors of token ids; a source's own weights
    elif inputs[0][1].is_floating_point and (spec.role != MERGE
                                             or len({d for _, d, _ in inputs}) == 1):
        dtype = inputs[0][1]
    else:
        return None  # mixed or integer inputs: torch's promotion decides
    shapes = declared_shapes(spec.shape_rule, params, {port: shape for shape, _, port in inputs})
    if shapes is None:
        return None
    count = 0
    if spec.role != MERGE:
        try:
            count = _trainable(_build(spec, inputs, params, "meta"))
        except Exception:  # noqa: BLE001 - the layer's run reports it
            return None
    return _Outcome(tuple(shapes), (dtype,) * len(shapes), count)


def _build(spec: LayerSpec, inputs: list[Operand], params: dict[str, Any], device: str
           ) -> nn.Module:
    """The layer's module as the compiler builds it, on ``device``; on meta without its
    initialisation, which changes no shape."""
    with torch.device(device), _Uninitialized() if device == "meta" else nullcontext():
        module = ops.build_module(spec, params, [shape for shape, _, _ in inputs])
    assert module is not None
    return module


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _execute(spec: LayerSpec, params: dict[str, Any], inputs: list[Operand], device: str
             ) -> _Outcome:
    tensors = [torch.zeros(shape, dtype=dtype, device=device) if device != "meta"
               else torch.empty(shape, dtype=dtype, device=device) for shape, dtype, _ in inputs]
    count = 0
    if spec.role == MERGE:
        out = ops.apply_merge(spec, params, tensors)
    else:
        module = _build(spec, inputs, params, device)
        ports = [port for _, _, port in inputs]
        args, kwargs = ops.port_arguments(spec, dict(zip(ports, tensors, strict=True)))
        out = module(*args, **kwargs)
        count = _trainable(module)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return _Outcome(tuple(tuple(int(d) for d in t.shape) for t in outs),
                    tuple(t.dtype for t in outs), count)


def _precheck(spec: LayerSpec, params: dict[str, Any], inputs: list[Operand]) -> str | None:
    """Problems the meta device would not catch (dtypes, unbatched inputs, dims)."""
    if not inputs:
        return None  # a source (a Learned tensor): nothing to check
    shape, dtype, _ = inputs[0]
    if spec.dtype == TOKENS:
        if dtype.is_floating_point:
            return "float_tokens"
    elif spec.dtype != ANY and any(not d.is_floating_point for _, d, _ in inputs):
        return "int_input"
    if spec.ranks and len(shape) not in spec.ranks:
        return "rank"
    if "output_padding" in params and not _output_padding_ok(params):
        return "output_padding"  # the meta kernel does not check this; the CPU one does
    if spec.role == MERGE and not spec.merge_dim and not _ranks_align(inputs):
        return "merge_rank"  # on meta, N of one input would meet a sample size of the other
    if _groups_problem(spec, params, shape):
        return "groups"  # torch's own message names neither the node nor the numbers
    if "dim" in params and isinstance(params["dim"], int):
        dim, rank = params["dim"], len(shape)
        if not -rank <= dim < rank:
            return "dim_range"
        if spec.role == MERGE and dim % rank == 0:
            return "batch_dim"
    return None


def _ranks_align(inputs: list[Operand]) -> bool:
    """Whether an element-wise merge's inputs line up dimension by dimension: the
    per-sample ones (batch N) have one rank, so N meets N. A tensor one for all samples (a
    Learned tensor's leading 1) may have fewer dimensions: torch aligns it from the right,
    and its leading 1 broadcasts (a layer scale of 1 x D times N x L x D)."""
    per_sample = {len(s) for s, _, _ in inputs if len(s) and s[0] != 1}
    shared = [len(s) for s, _, _ in inputs if not (len(s) and s[0] != 1)]
    return len(per_sample) <= 1 and all(rank <= max(per_sample, default=rank)
                                        for rank in shared)


def _groups_problem(spec: LayerSpec, params: dict[str, Any], shape: Shape) -> bool:
    """Whether a grouped layer's input or output channels are not divisible by its groups."""
    groups, channels = params.get("groups", 1), dict(spec.inferred).get("in_channels")
    if not isinstance(groups, int) or groups <= 1 or channels is None or len(shape) < 2:
        return False
    out = params.get("out_channels", 0)
    return shape[channels] % groups != 0 or (isinstance(out, int) and out % groups != 0)


def _output_padding_ok(params: dict[str, Any]) -> bool:
    """torch's rule for transposed convolutions: output_padding < stride or < dilation."""
    def pair(name: str) -> tuple[int, ...]:
        value = params.get(name, 1)
        return tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    try:
        return all(o < max(s, d) for o, s, d in zip(pair("output_padding"), pair("stride"),
                                                     pair("dilation"), strict=False))
    except TypeError:
        return True  # not numbers: validation reports it


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _worth_reporting(record: warnings.WarningMessage) -> bool:
    return issubclass(record.category, UserWarning)


def _warning_text(record: warnings.WarningMessage) -> str:
    text = str(record.message).strip().splitlines()[0] if str(record.message).strip() else ""
    if "non-zero dropout expects num_layers greater than 1" in text:
        return ("dropout only acts between stacked layers, so with 1 layer it does nothing; "
                "set layers to 2 or more, or dropout to 0")
    return text


def describe_failure(node: Node, reason: str, inputs: Sequence[tuple[Shape, str]]) -> str:
    """Torch's ``reason`` for rejecting ``node`` in user words (one line, names the node).

    ``inputs`` are (shape, label of the source node) in port order.
    """
    sources = [(shape, torch.float32, label) for shape, label in inputs]
    detail = _first_line(Exception(reason))
    return problem_message(node, node.all_params(), "torch", detail, sources)
