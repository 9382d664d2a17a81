"""Export a design as the module file a PyTorch engineer keeps, and what every exporter shares.

The module file is written from the compiled ``torch.fx`` graph, not with
``GraphModule.to_folder`` (which writes ``from torch.nn import *`` and absolute paths): one
self-contained file with a class named after the project, ``nn`` layers named after the nodes
and constructed with explicit arguments, a ``forward`` that reads like hand-written code, and
the source of the ``runtime/ops.py`` classes its layers declare (``inspect.getsource``). Trained
weights go beside it as a safetensors file keyed like the class's ``state_dict``.

The other exporters build on this one: the training script (``runtime/export_script.py``)
embeds the same class, ONNX (``runtime/export_onnx.py``) exports the same compiled ``Design``;
``runtime/exporter.py`` is the one entry point that picks among them.

Every failure is an ``ExportError`` whose one-line message names the node or file.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import math
import operator
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, fx, nn

from graph.model import Node
from graph.project import Project
from runtime import ops
from runtime.compile import Compiled, compile_graph, load_node_state, weights_from_bytes
from runtime.shapes import Shape, analyze

WIDTH = 100  # line length of generated code (the project's ruff setting)


class ExportError(ValueError):
    """A design or file that cannot be exported; the message names the node or file."""


# -- names ------------------------------------------------------------------------------------
def class_name(project_name: str) -> str:
    """The module class for a project name: "digits_cnn" -> "DigitsCnn"."""
    words = re.findall(r"[A-Za-z0-9]+", project_name)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    if name[0].isdigit():
        name = "Model" + name
    if keyword.iskeyword(name) or hasattr(builtins, name) \
            or name in ("Tensor", "WEIGHTS_FILE") or inspect.isclass(getattr(ops, name, None)):
        name += "Model"
    return name


def file_stem(project_name: str) -> str:
    """A file name for a project name: "Digits CNN" -> "digits_cnn"."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", project_name).strip("_").lower() or "model"


# -- the compiled design ------------------------------------------------------------------------
@dataclass
class Design:
    """What every exporter needs: the compiled module (with the project's weights loaded) and
    each node's input shapes."""

    project: Project
    compiled: Compiled
    inputs: dict[int, list[Shape]]  # node id -> input shapes (batch first)
    outputs: dict[int, Shape]  # Output node id -> shape it receives
    trained: bool
    # Attribute name -> how many tensors its layer returns, for layers with several outputs.
    returns: dict[str, int] = field(default_factory=dict)

    @property
    def graph_nodes(self) -> dict[int, Node]:
        return self.compiled.graph.nodes

    def state_dict(self) -> dict[str, Tensor]:
        """Weights keyed like the exported class's ``state_dict`` ("conv1.weight")."""
        return {k: v.detach().cpu().contiguous().clone()
                for k, v in self.compiled.module.state_dict().items()}


def design(project: Project) -> Design:
    """Compile the project and load its weights; ExportError when the graph is invalid."""
    analysis = analyze(project.graph)
    try:
        compiled = compile_graph(project.graph)
    except ValueError as exc:
        raise ExportError(f"cannot export '{project.name}': {exc}") from None
    trained = bool(project.weights)
    if project.weights:
        try:
            load_node_state(compiled, weights_from_bytes(project.weights))
        except ValueError as exc:
            raise ExportError(f"cannot export '{project.name}': {exc}") from None
    compiled.module.eval()
    shapes = analysis.shapes
    outputs = {}
    for node_id in compiled.output_nodes:
        edge = compiled.graph.edge_into(node_id, "in")
        outputs[node_id] = shapes.edges.get(edge, ()) if edge else ()
    returns = {name: len(shapes.outputs.get(node_id, {}))
               for node_id, name in compiled.module_names.items()
               if len(compiled.graph.nodes[node_id].spec.outputs) > 1}  # type: ignore[union-attr]
    return Design(project, compiled, dict(shapes.inputs), outputs, trained, returns)


# -- constructor calls --------------------------------------------------------------------------
# Leading required constructor arguments are written positionally ("nn.Linear(2, 8)"), except
# these, which read better by name.
_NAMED = frozenset({"kernel_size", "output_size"})
# Defaults that the constructor signatures do not show.
_HIDDEN_DEFAULTS = {"nonlinearity": "tanh"}


def _signature(cls: type) -> list[inspect.Parameter]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params) and issubclass(cls, nn.RNNBase):
        params = [p for p in inspect.signature(nn.RNNBase.__init__).parameters.values()
                  if p.name not in ("self", "mode")]
    return [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in ("device", "dtype")]


def _is_default(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty or default is None:
        return False
    if isinstance(value, (tuple, list)) and not isinstance(default, (tuple, list)):
        return all(_same(v, default) for v in value)
    return _same(value, default)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isclose(a, b))


class Code(str):
    """Source text that ``literal`` writes as it is (a nested constructor call)."""


def literal(value: Any) -> str:
    """Python source for a constructor argument (strings in double quotes)."""
    if isinstance(value, Code):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return f"[{', '.join(literal(v) for v in value)}]"
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def call_source(cls: type, kwargs: dict[str, Any], prefix: str = "nn.") -> str:
    """``nn.Conv2d(1, 16, kernel_size=(3, 3), padding=(1, 1))``: leading required arguments
    by position, then every argument that differs from its default, by name."""
    signature = _signature(cls)
    positional, named = [], []
    star = next((p.name for p in inspect.signature(cls.__init__).parameters.values()
                 if p.kind is p.VAR_POSITIONAL), None)
    if star is not None and star in kwargs:  # Reshape(*shape): its values by position
        kwargs = dict(kwargs)
        positional += [literal(v) for v in kwargs.pop(star)]
    leading = not positional
    for param in signature:
        if param.name not in kwargs:
            if param.default is inspect.Parameter.empty:
                leading = False
            continue
        value = kwargs[param.name]
        required = param.default is inspect.Parameter.empty
        if leading and required and param.name not in _NAMED \
                and param.kind is param.POSITIONAL_OR_KEYWORD:
            positional.append(literal(value))
            continue
        leading = False
        default = _HIDDEN_DEFAULTS.get(param.name, param.default)
        if required or not _is_default(value, default):
            named.append(f"{param.name}={literal(value)}")
    known = {p.name for p in signature}
    for name, value in kwargs.items():  # arguments the signature hides (RNN nonlinearity)
        if name not in known and not _is_default(value, _HIDDEN_DEFAULTS.get(name)):
            named.append(f"{name}={literal(value)}")
    return f"{prefix}{cls.__name__}({', '.join(positional + named)})"


def layer_source(node: Node, input_shapes: list[Shape]) -> str:
    """The constructor expression of one layer node, as the compiler builds it."""
    spec = node.spec
    if spec is None:
        raise ExportError(f"{node.label}: unknown layer type '{node.type}'")
    params = node.all_params()
    kwargs = ops.torch_kwargs(spec, params, input_shapes)
    try:
        torch_cls, own = ops.torch_class(spec), ops.ops_class(spec)
    except ValueError as exc:
        raise ExportError(f"{node.label}: {exc}") from None
    if own is None and torch_cls is None:
        raise ExportError(f"{node.label}: layer type {spec.id} has no PyTorch equivalent to "
                          "export")
    if own is None:
        return call_source(torch_cls, kwargs)  # type: ignore[arg-type]
    if torch_cls is None:
        return call_source(own, kwargs, prefix="")
    wrapped = _signature(own)[0].name  # the wrapper's first argument: the torch module
    return call_source(own, {wrapped: Code(call_source(torch_cls, kwargs)),
                             **ops.wrapper_kwargs(spec, params)}, prefix="")


# -- forward --------------------------------------------------------------------------------------
_OPERATORS = {torch.add: "+", torch.mul: "*", operator.add: "+", operator.mul: "*",
              torch.sub: "-", torch.div: "/", operator.sub: "-", operator.truediv: "/"}


def _forward_lines(gm: fx.GraphModule, returns: dict[str, int] | None = None
                   ) -> tuple[list[str], list[str], list[str]]:
    """(argument names, body lines, returned names) of ``forward``, from the fx graph.

    A value used once, by the very next statement, flows through a running ``x`` as in
    hand-written code; values used later or more than once keep their node's name. The
    partial sums of a merge with three or four inputs fold into one expression. A layer that
    returns several tensors (``returns``: attribute -> how many) is unpacked in one line,
    ``chunk_out1, _ = self.chunk(x)``.
    """
    nodes = list(gm.graph.nodes)
    args = [n.name for n in nodes if n.op == "placeholder"]
    taken = {n.name for n in nodes}
    running = next(c for c in ("x", "h", "hidden", "value") if c not in taken)
    users = {n: [u for u in n.users] for n in nodes}
    folded: set[fx.Node] = set()
    for n in nodes:
        if n.op == "call_function" and n.target in _OPERATORS and n.name.endswith("_partial") \
                and len(users[n]) == 1 and users[n][0].target is n.target:
            folded.add(n)
    unpacked = _unpacked(nodes, returns or {})
    items = {item for targets in unpacked.values() for item in targets if item is not None}
    statements = [n for n in nodes if n.op in ("call_module", "call_function")
                  and n not in folded and n not in items]
    var: dict[fx.Node, str] = {n: n.name for n in nodes}
    for index, n in enumerate(statements):
        after = statements[index + 1] if index + 1 < len(statements) else None
        if len(users[n]) == 1 and after is not None and users[n][0] is after \
                and n not in unpacked:
            var[n] = running

    def expr(arg: Any) -> str:
        if isinstance(arg, fx.Node):
            if arg in folded:
                return _merge_expr(arg, expr)
            return var[arg]
        if isinstance(arg, (list, tuple)):
            return f"[{', '.join(expr(a) for a in arg)}]"
        return literal(arg)

    body = []
    for n in statements:
        if n.op == "call_module":
            arguments = [expr(a) for a in n.args] + [f"{k}={expr(v)}" for k, v in n.kwargs.items()]
            value = f"self.{n.target}({', '.join(arguments)})"
        else:
            value = _merge_expr(n, expr)
        if n in unpacked:
            body.append(f"{', '.join('_' if t is None else var[t] for t in unpacked[n])} "
                        f"= {value}")
            continue
        body.append(f"{var[n]} = {value}")
    output = next(n for n in nodes if n.op == "output")
    result = output.args[0]
    results = list(result) if isinstance(result, (tuple, list)) else [result]
    last = statements[-1] if statements else None
    if len(results) == 1 and results[0] is last and len(users[last]) == 1:
        return args, body[:-1], [body[-1].split(" = ", 1)[1]]  # return self.logits(x)
    return args, body, [expr(r) for r in results]


def _unpacked(nodes: list[fx.Node], returns: dict[str, int]) -> dict[fx.Node, list[Any]]:
    """Each call of a layer with several outputs -> the ``getitem`` node of each of its
    results in order (None where the code ignores one: ``_``)."""
    found: dict[fx.Node, list[Any]] = {}
    for n in nodes:
        if n.op != "call_module" or n.target not in returns:
            continue
        targets: list[Any] = [None] * returns[str(n.target)]
        for user in n.users:
            if user.op == "call_function" and user.target is operator.getitem:
                targets[int(user.args[1])] = user
        found[n] = targets
    return found


def _merge_expr(n: fx.Node, expr: Any) -> str:
    if n.target in _OPERATORS:
        symbol = _OPERATORS[n.target]
        return f" {symbol} ".join(expr(a) for a in n.args)
    if n.target is torch.cat:
        dim = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else 0)
        return f"torch.cat({expr(n.args[0])}, dim={int(dim)})"
    raise ExportError(f"node '{n.name}' calls {getattr(n.target, '__name__', n.target)}, "
                      "which the exporter does not know")


# -- the module file ------------------------------------------------------------------------------
def wrap_text(text: str, indent: str = "", width: int = WIDTH - 4) -> list[str]:
    """Prose (a docstring, a comment) wrapped to ``width`` with each line indented."""
    lines: list[str] = []
    for paragraph in text.strip().split("\n"):
        lines += textwrap.wrap(paragraph, width - len(indent), break_long_words=False,
                               break_on_hyphens=False) or [""]
    return [indent + line if line else "" for line in lines]


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets and strings."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def fit_line(line: str, width: int = WIDTH) -> list[str]:
    """A statement ending in a bracket, wrapped inside that bracket to fit ``width``, with
    continuation lines aligned to the opening bracket (as ruff and PEP 8 expect)."""
    if len(line) <= width or line[-1] not in ")]}":
        return [line]
    depth, opening = 0, -1
    for i in range(len(line) - 1, -1, -1):
        if line[i] in ")]}":
            depth += 1
        elif line[i] in "([{":
            depth -= 1
            if depth == 0:
                opening = i
                break
    if opening <= 0:
        return [line]
    head, parts, close = line[:opening + 1], _split_top(line[opening + 1:-1]), line[-1]
    pad = " " * len(head)
    lines, current = [], head
    for index, part in enumerate(parts):
        piece = part + ("," if index < len(parts) - 1 else close)
        if current.strip() and current not in (head,) and len(current) + 1 + len(piece) > width:
            lines.append(current.rstrip())
            current = pad + piece
        else:
            current += ("" if current in (head,) else " ") + piece
    lines.append(current)
    if any(len(text) > width for text in lines):  # one item per line, hanging indent
        indent = " " * (len(line) - len(line.lstrip()))
        lines = [head, *(f"{indent}    {part}," for part in parts), indent + close]
    return lines


def safe_text(text: str) -> str:
    """Text that can sit inside a triple-quoted docstring."""
    return text.replace("\\", "/").replace('"""', "'''").strip()


def _shape_text(shape: Shape) -> str:
    return " x ".join(["N", *(str(d) for d in shape[1:])]) if shape else "?"


def _example_input(node: Node, name: str) -> str:
    shape = ", ".join(str(int(s)) for s in node.param("shape"))
    if node.param("dtype") == "long":
        return f"torch.zeros(2, {shape}, dtype=torch.long)"
    return f"torch.randn(2, {shape})"


def class_source(d: Design, name: str) -> list[str]:
    """The ``runtime.ops`` classes the design's layers declare (their source), then the
    module class, as source lines."""
    gm = d.compiled.module
    nodes = d.graph_nodes
    helpers = {ops.ops_class(spec) for spec in (nodes[i].spec for i in d.compiled.module_names)
               if spec is not None}
    lines: list[str] = []
    for helper in sorted((h for h in helpers if h is not None), key=lambda h: h.__name__):
        lines += ["", *textwrap.dedent(inspect.getsource(helper)).strip("\n").split("\n"), ""]

    project = d.project
    inputs = [nodes[i] for i in d.compiled.input_nodes]
    outputs = [nodes[i] for i in d.compiled.output_nodes]
    args, body, returns = _forward_lines(gm, d.returns)
    doc = project.description or f"The network of the Plexus project '{project.name}'."
    lines += ["", f"class {name}(nn.Module):", *wrap_text('"""' + safe_text(doc), "    ",
                                                          WIDTH - 3)]
    lines[-1] += '"""'
    lines += ["",
              "    # One sample's shape (batch excluded) per input, and each output's task.",
              "    input_shapes: ClassVar[dict[str, tuple[int, ...]]] = "
              + literal({a: tuple(n.param("shape")) for a, n in zip(args, inputs, strict=True)})]
    if any(n.param("dtype") == "long" for n in inputs):
        lines.append("    input_dtypes: ClassVar[dict[str, str]] = " + literal(
            {a: n.param("dtype") for a, n in zip(args, inputs, strict=True)}))
    heads = {}
    for n in outputs:
        spec = n.spec
        extra = {k: v for k, v in n.all_params().items()
                 if k != "task" and spec is not None and v != spec.param(k).default}
        heads[n.name] = {"task": n.param("task"), **extra} if extra else n.param("task")
    kind = "str" if all(isinstance(v, str) for v in heads.values()) else "object"
    lines += fit_line(f"    output_tasks: ClassVar[dict[str, {kind}]] = {literal(heads)}")
    lines += ["", "    def __init__(self) -> None:", "        super().__init__()"]
    for node_id, attr in d.compiled.module_names.items():
        node = nodes[node_id]
        lines += fit_line(f"        self.{attr} = {layer_source(node, d.inputs[node_id])}")
    ret_type = "torch.Tensor" if len(returns) == 1 else \
        f"tuple[{', '.join(['torch.Tensor'] * len(returns))}]"
    signature = ", ".join(f"{a}: torch.Tensor" for a in args)
    header = f"    def forward(self, {signature}) -> {ret_type}:"
    lines += [""] + ([header] if len(header) <= WIDTH else
                     ["    def forward(", f"        self, {signature},", f"    ) -> {ret_type}:"])
    shapes_in = ", ".join(f"{a} {_shape_text((0, *n.param('shape')))}"
                          for a, n in zip(args, inputs, strict=True))
    shapes_out = ", ".join(f"{n.name} {_shape_text(d.outputs[n.id])}" for n in outputs)
    lines.append(f'        """{shapes_in} -> {shapes_out}."""')
    for line in body:
        lines += fit_line(f"        {line}")
    lines.append(f"        return {', '.join(returns)}")
    lines += ["",
              "    def load_weights(self, path: str = WEIGHTS_FILE) -> " + name + ":",
              '        """Load trained weights from a safetensors file (by default the one '
              'exported beside',
              '        this file, or saved by its training script)."""',
              "        from safetensors.torch import load_file",
              "",
              "        self.load_state_dict(load_file(path))",
              "        return self"]
    return lines


def export_python(project: Project, weights_file: str | None = None) -> str:
    """One self-contained .py file defining ``class <ProjectName>(nn.Module)``.

    Needs only torch to run (safetensors to load weights). ``weights_file`` is the weights'
    file name, looked up beside the .py file (default "<project>.safetensors").
    """
    d = design(project)
    name = class_name(project.name)
    weights_file = weights_file or f"{file_stem(project.name)}.safetensors"
    return _module_file(d, name, weights_file)


def _module_file(d: Design, name: str, weights_file: str) -> str:
    project = d.project
    inputs = [d.graph_nodes[i] for i in d.compiled.input_nodes]
    args = [n.name for n in d.compiled.module.graph.nodes if n.op == "placeholder"]
    title = f"{name}: the network of the Plexus project '{safe_text(project.name)}'."
    example = ", ".join(_example_input(n, a) for n, a in zip(inputs, args, strict=True))
    header = [
        '"""' + title,
        "",
        *(wrap_text(safe_text(project.description)) + [""] if project.description else []),
        "Needs only PyTorch (and safetensors to load trained weights):",
        "",
        f"    model = {name}()",
        f"    model.load_weights()  # {weights_file}, beside this file"
        if d.trained else "    model.load_weights(path)  # weights saved by the training script",
        "    model.eval()",
        f"    prediction = model({example})",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import os",
        "from typing import ClassVar",
        "",
        "import torch",
        "from torch import nn",
        "",
        "WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),",
        f"                            {literal(weights_file)})",
        "",
    ]
    main = [
        "",
        "",
        'if __name__ == "__main__":',
        f"    model = {name}().eval()",
        "    if os.path.exists(WEIGHTS_FILE):",
        "        model.load_weights()",
        "    with torch.no_grad():",
        f"        result = model({example})",
        "    results = result if isinstance(result, tuple) else (result,)",
        '    print(", ".join(" x ".join(map(str, r.shape)) for r in results))',
    ]
    return join_lines(header + class_source(d, name) + main)


def join_lines(lines: list[str]) -> str:
    """Lines joined with exactly two blank lines before top-level definitions."""
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}(?=(class |def |if __name__|@))", "\n\n\n", text)
    text = re.sub(r"\n{3,}(?=    (def |@))", "\n\n", text)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip("\n") + "\n"


def write_python(project: Project, path: str | Path) -> list[Path]:
    """Write the module file and, when the project is trained, its weights beside it
    ("<stem>.safetensors"); returns the files written."""
    path = Path(path)
    if path.suffix != ".py":
        raise ExportError(f"{path.name}: a Python module file must end in .py")
    d = design(project)
    weights = path.with_suffix(".safetensors")
    text = _module_file(d, class_name(project.name), weights.name)
    written = [write_text(path, text)]
    if d.trained:
        written.append(write_weights(weights, d.state_dict()))
    return written


def write_text(path: Path, text: str) -> Path:
    """Write an exported source file; ExportError names the file that cannot be written."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    return path


def write_weights(path: Path, state: dict[str, Tensor]) -> Path:
    """Write weights as safetensors; ExportError names the file that cannot be written."""
    import safetensors.torch

    try:
        safetensors.torch.save_file(state, str(path))
    except OSError as exc:
        raise ExportError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    return path
