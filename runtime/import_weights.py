"""Load the weights users have into an imported module: safetensors files and PyTorch state dicts.

Pretrained weights come as ``.safetensors`` (no code in them) or as ``.pth``/``.pt`` files
written by ``torch.save(model.state_dict())``. The latter are pickles, so they are read with
``torch.load(weights_only=True)``: tensors and plain containers only, never arbitrary classes.
A training checkpoint that wraps the state dict (under "state_dict" or "model") is unwrapped,
and the "module." prefix of a model saved from DataParallel is dropped. A file that does not
fit the module is refused with one line naming the first keys and layers that differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from runtime.import_builder import ModelImportError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")
CHECKPOINT_KEYS = ("state_dict", "model")  # where training checkpoints keep the state dict
PARALLEL_PREFIX = "module."  # DataParallel / DistributedDataParallel wrappers
SHOWN = 3  # keys named in a message before "(+N more)"
_SAVE_HINT = "save model.state_dict() with torch.save, or convert the file to safetensors"


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a weights file by state_dict key; ModelImportError naming the file."""
    if not path.is_file():
        raise ModelImportError(f"{path}: weights file not found")
    if path.suffix.lower() == ".safetensors":
        return _read_safetensors(path)
    if path.suffix.lower() in (".pth", ".pt"):
        return _read_torch(path)
    raise ModelImportError(f"{path.name}: weights must be a .safetensors, .pth or .pt file")


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    import safetensors.torch

    try:
        return safetensors.torch.load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelImportError(f"{path.name}: not a readable safetensors file "
                               f"({_first_line(exc)})") from None


def _read_torch(path: Path) -> dict[str, Tensor]:
    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # noqa: BLE001 - UnpicklingError, RuntimeError, EOFError, ...
        raise ModelImportError(f"{path.name}: not a state dict that loads safely (it holds "
                               f"objects other than tensors, or is damaged); {_SAVE_HINT}"
                               ) from None
    state = _unwrap(loaded)
    if state is None:
        raise ModelImportError(f"{path.name}: holds a {type(loaded).__name__}, not a state "
                               f"dict of tensors; {_SAVE_HINT}")
    return state


def _unwrap(loaded: Any) -> dict[str, Tensor] | None:
    """The state dict in what torch.load returned (a checkpoint's "state_dict"/"model" entry
    taken, DataParallel's "module." prefix dropped), or None when there is none."""
    if isinstance(loaded, Mapping):
        for key in CHECKPOINT_KEYS:
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not loaded or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in loaded.items()):
        return None
    if all(k.startswith(PARALLEL_PREFIX) for k in loaded):
        return {k[len(PARALLEL_PREFIX):]: v for k, v in loaded.items()}
    return dict(loaded)


def load_weights(model: nn.Module, path: Path, where: str) -> None:
    """Load ``path`` (see ``read_state_dict``) into ``model``; ModelImportError in one line
    when its keys or shapes do not match the module's."""
    state = read_state_dict(path)
    problems = mismatches(model, state)
    if problems:
        raise ModelImportError(f"{path.name} does not fit {where}: {'; '.join(problems)}; "
                               "save the state_dict of this class built with the same "
                               "constructor arguments")
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ModelImportError(f"{path.name} does not fit {where}: "
                               f"{_first_line(exc).rstrip(':. ')}") from None


def mismatches(model: nn.Module, state: Mapping[str, Tensor]) -> list[str]:
    """What keeps ``state`` from loading into ``model``: missing keys, unexpected keys and
    mis-shaped tensors, the first few of each with their layers (empty when it fits).

    A BatchNorm's ``num_batches_tracked`` may be missing (older torchvision files lack it).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shaped = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing:
        problems.append(f"missing {_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected {_keys(unexpected)}")
    if shaped:
        key = shaped[0]
        more = f" (+{len(shaped) - 1} more mis-shaped)" if len(shaped) > 1 else ""
        problems.append(f"{key} is {_shape(state[key])} in the file but {_shape(own[key])} in "
                        f"layer '{_layer(key)}'{more}")
    return problems


def _keys(keys: list[str]) -> str:
    """'fc.weight, fc.bias (layer fc)': the first few keys and the layers they belong to."""
    shown = keys[:SHOWN]
    layers = list(dict.fromkeys(_layer(k) for k in shown))
    more = f" (+{len(keys) - SHOWN} more)" if len(keys) > SHOWN else ""
    noun = "key" if len(keys) == 1 else "keys"
    return (f"{noun} {', '.join(shown)}{more} (layer{'s' if len(layers) > 1 else ''} "
            f"{', '.join(layers)})")


def _layer(key: str) -> str:
    return key.rpartition(".")[0] or key


def _shape(tensor: Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "a scalar"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
