"""Loading the Python file a model is imported from: the class or factory it names (running
the file; its weights load through ``runtime.import_weights``)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from runtime import fx_layers
from runtime.import_builder import ModelImportError


def load_factory(path: Path, name: str | None) -> Callable[..., Any]:
    """The class or function ``name`` defined in the Python file ``path`` (runs the file:
    its SystemExit and KeyboardInterrupt become a ModelImportError naming it)."""
    if not path.is_file():
        raise ModelImportError(f"{path}: file not found")
    module_name = f"plexus_import_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelImportError(f"{path.name}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's code can raise anything
        raise ModelImportError(f"{path.name}: running the file failed: "
                               f"{type(exc).__name__}: {first_line(exc)}") from None
    except SystemExit as exc:  # sys.exit() at import time must not end Plexus (or the CLI)
        raise ModelImportError(f"{path.name}: running the file called sys.exit({exc.code!r}); "
                               "a model file should only define the model") from None
    except KeyboardInterrupt:
        raise ModelImportError(f"{path.name}: running the file raised KeyboardInterrupt; "
                               "nothing was imported") from None
    finally:
        sys.modules.pop(module_name, None)
    if name:
        found = getattr(module, name, None)
        if found is None or not callable(found):
            raise ModelImportError(f"{path.name} defines no class or function '{name}'; "
                                   f"its modules are: {', '.join(_candidates(module)) or 'none'}")
        return found
    candidates = _candidates(module)
    main = [c for c in candidates if not fx_layers.plexus_class(getattr(module, c))] \
        or candidates
    if len(main) != 1:
        what = ", ".join(main) if main else "no nn.Module class"
        raise ModelImportError(f"{path.name} defines {what}; choose the model's class or "
                               "factory function by name")
    return getattr(module, main[0])


def _candidates(module: Any) -> list[str]:
    """nn.Module classes defined in the file itself (not imported into it)."""
    return [key for key, value in vars(module).items()
            if inspect.isclass(value) and issubclass(value, nn.Module)
            and value.__module__ == module.__name__]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
