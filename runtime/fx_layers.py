"""Which catalog layer a torch module is, and its params: the module readers of the fx import.

Each catalog declaration says how a traced module maps back to it (``FxMap.module`` names one
of the ``READERS`` here); the module's class finds the declaration: a ``torch.nn`` class the
catalog names as a ``torch_class`` (subclasses included), or a class that Plexus-exported files
define under a ``runtime.ops`` class name. Nothing here lists layer types.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import CodeType
from typing import Any

from torch import nn

import graph.layers
from graph.catalog import BOOL, FLOAT, INT, INTS, LayerSpec, Param
from runtime import ops

F = nn.functional

# A reader: (module, declaration, where, notes) -> (params, prefix of its weights in the
# compiled module); Unsupported when the module uses something Plexus cannot express.
Reader = Callable[[nn.Module, LayerSpec, str, list[str]], tuple[dict[str, Any], str]]


class Unsupported(Exception):
    """A module or call with no catalog equivalent; the message says why."""


@functools.cache
def _by_torch_class() -> dict[str, LayerSpec]:
    found = {name: spec for spec in graph.layers.LAYERS for name in spec.fx.classes}
    return {**found, **{spec.torch_class: spec for spec in graph.layers.LAYERS if spec.torch_class}}


def declared(m: nn.Module) -> LayerSpec | None:
    """The declaration of the layer ``m`` is, by its class; None when no layer is."""
    name = type(m).__name__
    if plexus_class(type(m)):
        specs = [s for s in graph.layers.LAYERS if s.ops_class == name]
        inner = next(iter(m.children()), None)
        for spec in specs:  # a wrapper: the wrapped torch module tells which layer
            if spec.torch_class is None and all(getattr(m, key, want) == want
                                                for key, want in spec.fixed.items()):
                return spec  # one class for several layers (Reduce): its fixed values tell
            if spec.torch_class is not None and inner is not None \
                    and _torch_name(inner) == spec.torch_class:
                return spec
        return None
    name = _torch_name(m)
    return _by_torch_class().get(name) if name else None


def plexus_class(cls: type) -> bool:
    """``cls`` is a ``runtime.ops`` class or the copy of one a Plexus-exported file carries
    (the same code). A user's class that only shares the name (a tutorial's own
    PositionalEncoding) is not: fx traces through it."""
    own = ops.CLASSES.get(cls.__name__)
    if own is None or cls.__module__.startswith("torch."):
        return False
    return cls is own or _code_of(cls) == _code_of(own)


def _code_of(cls: type) -> dict[str, Any]:
    """What each method of ``cls`` itself does (its bytecode, constants and names; not its
    line numbers: an exported file puts the class elsewhere)."""
    return {key: _code_key(f.__code__) for key, f in vars(cls).items()
            if callable(f) and hasattr(f, "__code__")}


def _code_key(code: CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_key(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.co_code, consts, code.co_names, code.co_varnames


def foreign_layer(m: nn.Module) -> bool:
    """``m``'s own class is one another library defines that a declaration reads by its
    qualified name (torchvision's StochasticDepth): traced as one leaf."""
    return _qualified(type(m)) in _by_torch_class()


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def _torch_name(m: nn.Module) -> str | None:
    """The first ``torch.nn`` class in ``m``'s ancestry that the catalog names, or ``m``'s own
    class when a declaration names it by its qualified name (a subclass is not taken for
    it: its forward may differ)."""
    known = _by_torch_class()
    if _qualified(type(m)) in known:
        return _qualified(type(m))
    for cls in type(m).__mro__:
        if cls.__module__.startswith("torch.nn") and cls.__name__ in known:
            return cls.__name__
    return None


def read(m: nn.Module, where: str, notes: list[str]) -> tuple[str, dict[str, Any], str]:
    """(catalog layer id, params, prefix of its weights in the compiled module)."""
    spec = declared(m)
    if spec is None:
        raise Unsupported("not in Plexus' catalog; rebuild it from catalog layers or leave "
                          "it out")
    params, prefix = READERS[spec.fx.module](m, spec, where, notes)
    return spec.id, params, prefix


def is_plexus_class(m: nn.Module) -> bool:
    """A module of a class Plexus-exported files define (a ``runtime.ops`` class) that reads
    as its layer: traced as one leaf, like a ``torch.nn`` module."""
    if not plexus_class(type(m)):
        return False
    try:
        read(m, "", [])
    except (Unsupported, AttributeError, TypeError, ValueError):
        return False
    return True


# -- values -----------------------------------------------------------------------------------
def value(param: Param, raw: Any) -> Any:
    """A module attribute or call argument as ``param``'s value; Unsupported when the
    parameter cannot hold it (``dim=None``, ``start_dim=0``)."""
    got = raw
    if param.kind == BOOL and not isinstance(raw, bool):
        got = raw is not None  # bias: a tensor or None
    elif param.kind == INTS and isinstance(raw, int) and not isinstance(raw, bool):
        got = (raw,) * (param.length or 1)
    elif param.kind == INTS and isinstance(raw, (tuple, list)):
        got = tuple(raw)
        if param.length and len(got) == 1:
            got = got * param.length
    elif param.kind == INT and isinstance(raw, (tuple, list)) and len(raw) == 1:
        got = raw[0]
    elif param.kind == FLOAT and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        got = float(raw)
    if param.check(got) is not None:
        raise Unsupported(f"{param.name}={raw!r}")
    return got


def check_inferred(m: nn.Module, spec: LayerSpec, shape: tuple[int, ...]) -> None:
    """The constructor arguments Plexus infers from the input (in_features, normalized_shape,
    a positional table's length) must be what the module has for this input: a layer built
    for other sizes would not take its weights."""
    for name, dim in spec.inferred:
        raw = getattr(m, name, None)
        got = raw[0] if isinstance(raw, (tuple, list)) and len(raw) == 1 else raw
        if not isinstance(got, int) or not shape or not -len(shape) <= dim < len(shape):
            if raw is not None and not isinstance(got, int):
                raise Unsupported(f"{name}={raw!r} (Plexus infers {name}, one size, from "
                                  f"dimension {dim} of the input)")
            continue
        if got != shape[dim]:
            raise Unsupported(f"{name}={got} but its input has {shape[dim]} there (Plexus "
                              f"infers {name} from the input: build it for this input shape)")


def check_fixed(spec: LayerSpec, found: Callable[[str], Any]) -> None:
    """The declared fixed constructor arguments must be what the model uses."""
    for key, want in spec.fixed.items():
        got = found(key)
        if got is not None and got != want:
            raise Unsupported(f"{key}={got!r}")


def _attributes(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
                ) -> tuple[dict[str, Any], str]:
    """Each parameter from the module's attribute of the same name."""
    return attributes(m, spec), ""


def attributes(m: nn.Module, spec: LayerSpec, **known: Any) -> dict[str, Any]:
    """Each parameter from ``known`` or else the module's attribute of the same name; the
    declared fixed arguments must match the module's."""
    params = {}
    for param in spec.params:
        if param.name in known:
            params[param.name] = value(param, known[param.name])
        elif hasattr(m, param.name):
            params[param.name] = value(param, getattr(m, param.name))
        elif param.torch_arg:
            raise Unsupported(f"no attribute '{param.name}'")
    check_fixed(spec, lambda key: getattr(m, key, None))
    return params


def _conv_padding(m: nn.modules.conv._ConvNd) -> tuple[int, ...]:
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return tuple(0 for _ in m.kernel_size)
        pads = []
        for k, d in zip(m.kernel_size, m.dilation, strict=True):
            if (d * (k - 1)) % 2:
                raise Unsupported("padding='same' with an even kernel (asymmetric padding)")
            pads.append(d * (k - 1) // 2)
        return tuple(pads)
    return tuple(int(p) for p in m.padding)


def _conv(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
          ) -> tuple[dict[str, Any], str]:
    names = {p.name for p in spec.params}
    if "padding_mode" not in names and m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode='{m.padding_mode}'")
    return attributes(m, spec, padding=_conv_padding(m)), ""


def pool_params(spec: LayerSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    """A max or average pooling's params from its torch arguments by name (a missing one
    takes the declared default; no stride: the kernel size); Unsupported for the options
    Plexus' pools lack (return_indices, divisor_override)."""
    if arguments.get("return_indices") or arguments.get("divisor_override") is not None:
        raise Unsupported("return_indices or divisor_override")
    known = dict(arguments)
    if known.get("stride") in (None, [], ()):
        known["stride"] = known["kernel_size"]
    return {p.name: value(p, known.get(p.name, p.default)) for p in spec.params}


def pair(size: Any) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) not in (1, 2):
            raise Unsupported(f"size {size!r}")
        return (int(size[0]), int(size[-1]))
    return (int(size), int(size))


def _pool(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
          ) -> tuple[dict[str, Any], str]:
    names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad",
             "divisor_override", "return_indices")
    return pool_params(spec, {k: getattr(m, k) for k in names if hasattr(m, k)}), ""


def _adaptive_pool(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
                   ) -> tuple[dict[str, Any], str]:
    size = m.output_size
    if isinstance(size, (tuple, list)) and any(s is None for s in size):
        raise Unsupported(f"output_size={size} (None keeps a size)")
    return {"output_size": pair(size)}, ""


def _batchnorm(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
               ) -> tuple[dict[str, Any], str]:
    if not m.affine or not m.track_running_stats or m.momentum is None:
        raise Unsupported("affine=False, track_running_stats=False or momentum=None")
    return _attributes(m, spec, where, notes)


def _layernorm(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
               ) -> tuple[dict[str, Any], str]:
    if len(m.normalized_shape) != 1:
        raise Unsupported(f"normalized_shape={tuple(m.normalized_shape)} (Plexus normalizes "
                          "the last dimension)")
    if not m.elementwise_affine or m.bias is None:
        raise Unsupported("elementwise_affine=False or bias=False")
    return _attributes(m, spec, where, notes)


def _embedding(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
               ) -> tuple[dict[str, Any], str]:
    if m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
        raise Unsupported("max_norm, scale_grad_by_freq or sparse")
    if m.padding_idx is not None:
        notes.append(f"{where}: padding_idx={m.padding_idx} dropped (Plexus trains every "
                     "row of the embedding)")
    return _attributes(m, spec, where, notes)


def _recurrent(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
               ) -> tuple[dict[str, Any], str]:
    """A plain RNN/LSTM/GRU (its weights go under the wrapper's ``rnn.``) or the wrapper
    that exported files define (its ``output`` attribute says which steps it returns)."""
    wrapper = not isinstance(m, nn.RNNBase)
    rnn = m.rnn if wrapper else m
    if not rnn.batch_first:
        raise Unsupported("batch_first=False (Plexus sequences are batch first, N x L x F)")
    if getattr(rnn, "proj_size", 0):
        raise Unsupported("proj_size (projected LSTM)")
    if not rnn.bias:
        raise Unsupported("bias=False")
    params = {p.name: value(p, getattr(rnn, p.name)) for p in spec.params if p.torch_arg}
    if wrapper:
        params.update({p.name: value(p, getattr(m, p.name)) for p in spec.params
                       if not p.torch_arg})
    return params, "" if wrapper else "rnn."


def _transformer(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
                 ) -> tuple[dict[str, Any], str]:
    if not m.self_attn.batch_first:
        raise Unsupported("batch_first=False (Plexus sequences are batch first, N x L x D)")
    if m.norm_first:
        raise Unsupported("norm_first=True")
    if m.linear1.bias is None or m.norm1.eps != 1e-5:
        raise Unsupported("bias=False or layer_norm_eps other than 1e-5")
    kind = getattr(m, "activation_relu_or_gelu", 0)
    activation = {1: "relu", 2: "gelu"}.get(kind)
    if activation is None:
        act = m.activation
        activation = ("relu" if act in (F.relu,) or isinstance(act, nn.ReLU) else
                      "gelu" if act in (F.gelu,) or isinstance(act, nn.GELU) else None)
    if activation is None:
        raise Unsupported("an activation other than relu or gelu")
    return {"nhead": m.self_attn.num_heads, "dim_feedforward": m.linear1.out_features,
            "dropout": float(m.dropout.p), "activation": activation}, ""


def upsample_params(size: Any, scale_factor: Any, mode: Any, align_corners: Any
                    ) -> dict[str, Any]:
    """An Upsample's params from F.interpolate's arguments (or nn.Upsample's attributes)."""
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"mode={mode!r} (Upsample is nearest or bilinear)")
    params: dict[str, Any] = {"mode": mode, "align_corners": bool(align_corners)}
    if size is not None:
        params["size"] = pair(size)
        return params
    scales = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,)
    if scale_factor is None or len(set(scales)) != 1:
        raise Unsupported(f"scale_factor={scale_factor!r} (one scale for height and width)")
    params["scale_factor"] = float(scales[0])
    return params


def _upsample(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
              ) -> tuple[dict[str, Any], str]:
    """torch's nn.Upsample (no size: None; declared in the layer's ``FxMap.classes``) or the
    class exported files define (0 x 0)."""
    size = m.size if m.size is not None and any(pair(m.size)) else None
    if getattr(m, "recompute_scale_factor", None):
        raise Unsupported("recompute_scale_factor=True")
    params = upsample_params(size, m.scale_factor, m.mode, m.align_corners)
    return {p.name: value(p, params.get(p.name, p.default)) for p in spec.params}, ""


def _learned_tensor(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
                    ) -> tuple[dict[str, Any], str]:
    """The Learned tensor class Plexus-exported files define: its value's shape (read from
    ``_parameters``: while tracing, fx turns the attribute into a proxy)."""
    value = m._parameters["value"]
    assert value is not None
    return {"shape": tuple(int(s) for s in value.shape), "init": m.init,
            "std": float(m.std)}, ""


def _attention(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
               ) -> tuple[dict[str, Any], str]:
    """nn.MultiheadAttention (its weights go under the wrapper's ``attention.``) or the
    Attention wrapper that exported files define."""
    wrapper = not isinstance(m, nn.MultiheadAttention)
    mha = m.attention if wrapper else m
    if not mha.batch_first:
        raise Unsupported("batch_first=False (Plexus sequences are batch first, N x L x D)")
    if not mha._qkv_same_embed_dim:
        raise Unsupported("kdim or vdim other than embed_dim")
    if mha.bias_k is not None or mha.add_zero_attn:
        raise Unsupported("add_bias_kv or add_zero_attn")
    return {"num_heads": int(mha.num_heads), "dropout": float(mha.dropout),
            "bias": mha.in_proj_bias is not None}, "" if wrapper else "attention."


def _encoder_stack(m: nn.Module, spec: LayerSpec, where: str, notes: list[str]
                   ) -> tuple[dict[str, Any], str]:
    """nn.TransformerEncoder (its weights go under the stack's ``encoder.``) or the
    EncoderStack that exported files define: its layers' configuration and their number."""
    wrapper = not isinstance(m, nn.TransformerEncoder)
    encoder = m.encoder if wrapper else m
    if encoder.norm is not None:
        raise Unsupported("a final norm (Plexus' stack has none: add a LayerNorm after it)")
    params, _ = _transformer(encoder.layers[0], spec, where, notes)
    return {**params, "num_layers": len(encoder.layers)}, "" if wrapper else "encoder."


# The readers catalog declarations name in ``FxMap.module``.
READERS: dict[str, Reader] = {
    "attributes": _attributes, "conv": _conv, "pool": _pool, "adaptive_pool": _adaptive_pool,
    "batchnorm": _batchnorm, "layernorm": _layernorm, "embedding": _embedding,
    "recurrent": _recurrent, "transformer": _transformer, "upsample": _upsample,
    "learned_tensor": _learned_tensor, "attention": _attention,
    "encoder_stack": _encoder_stack,
}
