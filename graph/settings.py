"""Dataset and training settings of a project: plain data, saved in project.json.

Each field is declared once with its type and bounds so that loading a file, the inspector
and the command line all check it the same way.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from graph.catalog import CHOICE, FLOAT, INT, Param

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
SCALINGS = ("none", "standardize", "normalize")

# field name -> (minimum, maximum) or tuple of choices
_BOUNDS: dict[str, Any] = {
    "seed": (0, 2**31 - 1), "val_split": (0.0, 0.9), "noise": (0.0, 10.0),
    "samples": (10, 10_000_000), "scaling": SCALINGS,
    "optimizer": OPTIMIZERS, "lr": (1e-8, 10.0), "momentum": (0.0, 0.9999),
    "weight_decay": (0.0, 1.0), "batch_size": (1, 65536), "epochs": (1, 100_000),
    "schedule": SCHEDULES, "step_size": (1, 100_000), "gamma": (0.0, 1.0),
    "early_stopping": (0, 100_000), "device": DEVICES, "grad_clip": (0.0, 1e6),
}


# Entries of TrainingSettings.options the trainers read (runtime.gan, runtime.attacks),
# declared like layer parameters: the runtime checks them against these bounds and defaults,
# the inspector builds their widgets from them. A default of None is derived when the entry
# is absent (d_lr, g_lr: the learning rate; adv_eps: a tenth of the data's value range).
TRAINING_OPTIONS: dict[str, Param] = {p.name: p for p in (
    Param("mode", CHOICE, "standard", "Standard trains the network on the dataset; GAN trains "
          "the generator group against the discriminator group (right-click a group \u203a "
          "GAN role).", choices=("standard", "gan"), label="Training mode"),
    Param("d_steps", INT, 1, "Discriminator updates for each generator update.", 1, 100,
          label="D steps per G"),
    Param("d_lr", FLOAT, None, "The discriminator's learning rate; the project's learning "
          "rate unless set.", 1e-8, 10.0, label="D learning rate"),
    Param("g_lr", FLOAT, None, "The generator's learning rate; the project's learning rate "
          "unless set.", 1e-8, 10.0, label="G learning rate"),
    Param("label_smoothing", FLOAT, 0.1, "One-sided label smoothing: real samples' target is "
          "1 minus this, which keeps the discriminator from growing overconfident.", 0.0, 0.5,
          label="Label smoothing"),
    Param("beta1", FLOAT, 0.5, "Adam's first momentum for both networks; 0.5 is the usual GAN "
          "choice.", 0.0, 0.999, label="Adam \u03b21"),
    Param("r1", FLOAT, 0.0, "Weight of an R1 gradient penalty on real samples: steadies the "
          "discriminator and keeps the generator from dropping modes; 0 turns it off.", 0.0,
          1000.0, label="R1 penalty"),
    Param("adversarial", CHOICE, "off", "Train on attacked inputs too, so the network resists "
          "small adversarial changes: FGSM (one step) or PGD (iterated, stronger, slower).",
          choices=("off", "fgsm", "pgd"), label="Adversarial training"),
    Param("adv_share", FLOAT, 0.5, "Share of each batch replaced by attacked inputs.", 0.0,
          1.0, label="Attacked share"),
    Param("adv_eps", FLOAT, None, "Largest change of an input, in data units; auto is a tenth "
          "of the data's value range.", 0.0, 1e6, label="Epsilon (\u03b5)"),
    Param("adv_steps", INT, 7, "PGD: attack steps for each batch.", 1, 1000, label="PGD steps"),
)}


def bounds(name: str) -> tuple | None:
    """(minimum, maximum) or the allowed choices of a settings field, for editors."""
    return _BOUNDS.get(name)


class SettingsError(ValueError):
    """A settings field with a wrong type or value; the message names the field."""


@dataclass
class DatasetSettings:
    """Which data a project trains on. ``name`` is a built-in set or a file kind."""

    name: str = "xor"  # built-in id (see runtime.data.DATASETS) or csv / npz / images / idx
    path: str = ""  # file or folder for users' data
    seed: int = 0
    val_split: float = 0.2
    noise: float = 0.1  # for generated sets
    samples: int = 1000  # for generated sets
    target_column: str = ""  # CSV: column to predict (default: the last)
    scaling: str = "standardize"  # CSV / NPZ features
    options: dict[str, Any] = field(default_factory=dict)  # dataset-specific extras


@dataclass
class TrainingSettings:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD and RMSprop
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 20
    schedule: str = "none"
    step_size: int = 10  # step schedule: epochs between decays
    gamma: float = 0.1  # step schedule: decay factor
    early_stopping: int = 0  # patience in epochs without a better validation loss; 0 = off
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    seed: int = 0
    device: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)  # feature-specific extras


def to_dict(settings: DatasetSettings | TrainingSettings) -> dict[str, Any]:
    return asdict(settings)


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build ``cls`` from a dict, checking every field; unknown keys are ignored."""
    if not isinstance(data, dict):
        raise SettingsError(f"{where} must be an object")
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        values[f.name] = check_field(cls, f.name, data[f.name], where)
    return cls(**values)


def check_field(cls: type, name: str, value: Any, where: str = "settings") -> Any:
    """The value converted to the field's type; SettingsError naming the field if invalid."""
    default = getattr(cls(), name)
    label = f"{where}.{name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{label} must be true or false")
    elif isinstance(default, int):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or (isinstance(value, float) and not math.isfinite(value))
                or value != int(value)):
            raise SettingsError(f"{label} must be a whole number, not {value!r}")
        value = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise SettingsError(f"{label} must be a number, not {value!r}")
        try:
            value = float(value)
        except OverflowError:
            raise SettingsError(f"{label} is too large a number") from None
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise SettingsError(f"{label} must be text, not {value!r}")
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            raise SettingsError(f"{label} must be an object")
        return dict(value)
    bounds = _BOUNDS.get(name)
    if isinstance(bounds, tuple) and bounds and isinstance(bounds[0], str):
        if value not in bounds:
            raise SettingsError(f"{label} must be one of {', '.join(bounds)}, not {value!r}")
    elif bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise SettingsError(f"{label} must be between {bounds[0]} and {bounds[1]}, "
                            f"not {value!r}")
    return value
