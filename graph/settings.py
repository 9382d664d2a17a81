"""Dataset and training settings of a project: plain data, saved in project.json.

Each setting and each training option is declared once, as a ``graph.fields.Field``, so that
loading a file, the runtime, the inspector and the command line all check and show it the
same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from graph import limits
from graph.catalog import BOOL, CHOICE, FLOAT, INT, STR, Param
from graph.fields import Field, SettingsError, by_name, parse

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
ACCELERATIONS = ("auto", "off", "mixed", "compile")
SCALINGS = ("none", "standardize", "normalize")

_STEP_SCHEDULE = ("schedule", ("step",))

# DatasetSettings' fields, in the order the inspector shows them (name and path have their
# own widgets: the dataset picker and the file chooser).
DATASET_FIELDS: dict[str, Field] = by_name(
    Field(Param("name", STR, "xor", "A built-in dataset, or a kind of file with your own "
                "data.", label="Dataset")),
    Field(Param("path", STR, "", "The file or folder with your data.", label="File"),
          per_dataset=True),
    Field(Param("samples", INT, 1000, "How many points to generate.", 10, limits.MAX_SAMPLES,
                label="Samples"), per_dataset=True),
    Field(Param("noise", FLOAT, 0.1, "Standard deviation of the noise added to generated "
                "points.", 0.0, 10.0, label="Noise"), per_dataset=True),
    Field(Param("target_column", STR, "", "CSV column to predict; empty means the last "
                "column.", label="Target column"), per_dataset=True),
    Field(Param("scaling", CHOICE, "standardize", "How input features are rescaled before "
                "training.", choices=SCALINGS,
                choice_labels=("None", "Standardize", "Normalize (0 to 1)"), label="Scaling"),
          per_dataset=True),
    Field(Param("val_split", FLOAT, 0.2, "Share of the samples held out to measure the "
                "model.", 0.0, 0.9, label="Validation share")),
    Field(Param("seed", INT, 0, "Random seed for generating and splitting the data.", 0,
                2**31 - 1, label="Seed")),
)

# TrainingSettings' fields, in the order the inspector shows them.
TRAINING_FIELDS: dict[str, Field] = by_name(
    Field(Param("optimizer", CHOICE, "adam", "The algorithm that updates the weights.",
                choices=OPTIMIZERS, choice_labels=("SGD", "Adam", "AdamW", "RMSprop"),
                label="Optimizer")),
    Field(Param("lr", FLOAT, 1e-3, "Step size of each weight update.", 1e-8, 10.0,
                label="Learning rate"),
          shown_when=("mode", ("standard",))),  # a GAN shows its D and G rates instead
    Field(Param("momentum", FLOAT, 0.9, "SGD and RMSprop: how much of the previous update "
                "is kept.", 0.0, 0.9999, label="Momentum"),
          shown_when=("optimizer", ("sgd", "rmsprop"))),
    Field(Param("weight_decay", FLOAT, 0.0, "L2 penalty that keeps weights small.", 0.0, 1.0,
                label="Weight decay")),
    Field(Param("batch_size", INT, 32, "Samples per weight update.", 1, 65536,
                label="Batch size")),
    Field(Param("epochs", INT, 20, "Passes over the training set.", 1, 100_000,
                label="Epochs")),
    Field(Param("schedule", CHOICE, "none", "How the learning rate changes during training.",
                choices=SCHEDULES, choice_labels=("None", "Step", "Cosine", "One-cycle"),
                label="LR schedule")),
    Field(Param("step_size", INT, 10, "Step schedule: epochs between learning-rate decays.",
                1, 100_000, label="Step every"), shown_when=_STEP_SCHEDULE),
    Field(Param("gamma", FLOAT, 0.1, "Step schedule: factor applied at each decay.", 0.0, 1.0,
                label="Decay factor"), shown_when=_STEP_SCHEDULE),
    Field(Param("early_stopping", INT, 0, "Stop after this many epochs without a better "
                "validation loss; 0 turns it off.", 0, 100_000, label="Early stopping")),
    Field(Param("grad_clip", FLOAT, 0.0, "Largest gradient norm; 0 turns clipping off.", 0.0,
                1e6, label="Gradient clip")),
    Field(Param("seed", INT, 0, "Random seed for weights and batch order.", 0, 2**31 - 1,
                label="Seed")),
    Field(Param("device", CHOICE, "auto", "Where training runs; auto picks CUDA when "
                "available.", choices=DEVICES, choice_labels=("Auto", "CPU", "CUDA"),
                label="Device")),
    Field(Param("accelerate", CHOICE, "auto", "Speed features. Auto trains convolutional "
                "networks on images in bfloat16 mixed precision with channels-last memory "
                "where the processor has bf16 (AMX or AVX-512-BF16; about 3x faster) and "
                "uses mixed precision on CUDA; other networks and short runs (under 10,000 "
                "samples x epochs) gain nothing and train as before. Mixed precision "
                "forces it on; torch.compile adds compiling to Auto's "
                "choice: the first epoch waits tens of seconds for it, and small networks "
                "train slower.", choices=ACCELERATIONS,
                choice_labels=("Auto", "Off", "Mixed precision", "torch.compile"),
                label="Accelerate")),
)

_GAN_MODE = ("mode", ("gan",))
_ATTACKED = ("adversarial", ("fgsm", "pgd"))

# Entries of TrainingSettings.options the trainers read (runtime.gan, runtime.attacks): the
# runtime checks them against these bounds and defaults, the inspector shows GAN mode and its
# knobs before the training fields and adversarial training (standard mode only) after them.
# A default of None is derived when the entry is absent (d_lr, g_lr: the learning rate;
# adv_eps: a tenth of the data's value range).
MODE_OPTIONS: tuple[Field, ...] = (
    Field(Param("mode", CHOICE, "standard", "Standard trains the network on the dataset; GAN "
                "trains the generator group against the discriminator group (right-click a "
                "group \u203a GAN role).", choices=("standard", "gan"),
                choice_labels=("Standard", "GAN"), label="Training mode")),
    Field(Param("d_steps", INT, 1, "Discriminator updates for each generator update.", 1, 100,
                label="D steps per G"), shown_when=_GAN_MODE),
    Field(Param("d_lr", FLOAT, None, "The discriminator's learning rate; the project's "
                "learning rate unless set.", 1e-8, 10.0, label="D learning rate"),
          shown_when=_GAN_MODE, follows="lr"),
    Field(Param("g_lr", FLOAT, None, "The generator's learning rate; the project's learning "
                "rate unless set.", 1e-8, 10.0, label="G learning rate"),
          shown_when=_GAN_MODE, follows="lr"),
    Field(Param("label_smoothing", FLOAT, 0.1, "One-sided label smoothing: real samples' "
                "target is 1 minus this, which keeps the discriminator from growing "
                "overconfident.", 0.0, 0.5, label="Label smoothing"), shown_when=_GAN_MODE),
    Field(Param("beta1", FLOAT, 0.5, "Adam's first momentum for both networks; 0.5 is the "
                "usual GAN choice.", 0.0, 0.999, label="Adam \u03b21"), shown_when=_GAN_MODE),
    Field(Param("r1", FLOAT, 0.0, "Weight of an R1 gradient penalty on real samples: steadies "
                "the discriminator and keeps the generator from dropping modes; 0 turns it "
                "off.", 0.0, 1000.0, label="R1 penalty"), shown_when=_GAN_MODE),
)
ADVERSARIAL_OPTIONS: tuple[Field, ...] = (
    Field(Param("adversarial", CHOICE, "off", "Train on attacked inputs too, so the network "
                "resists small adversarial changes: FGSM (one step) or PGD (iterated, "
                "stronger, slower).", choices=("off", "fgsm", "pgd"),
                choice_labels=("Off", "FGSM", "PGD"), label="Adversarial training"),
          shown_when=("mode", ("standard",))),
    Field(Param("adv_share", FLOAT, 0.5, "Share of each batch replaced by attacked inputs.",
                0.0, 1.0, label="Attacked share"), shown_when=_ATTACKED),
    Field(Param("adv_eps", FLOAT, None, "Largest change of an input, in data units; auto is a "
                "tenth of the data's value range.", 0.0, 1e6, label="Epsilon (\u03b5)"),
          shown_when=_ATTACKED),
    Field(Param("adv_steps", INT, 7, "PGD: attack steps for each batch.", 1, 1000,
                label="PGD steps"), shown_when=("adversarial", ("pgd",))),
)
DIAGNOSTIC_OPTIONS: tuple[Field, ...] = (
    Field(Param("gradient_ratio", BOOL, False, "Record grad_ratio each epoch: the first "
                "weighted layer's gradient norm over the last one's. Far below 1 the gradient "
                "vanishes on its way back and the first layers stop learning.",
                label="Record gradient ratio"), shown_when=("mode", ("standard",))),
)
TRAINING_OPTIONS: dict[str, Field] = by_name(*MODE_OPTIONS, *ADVERSARIAL_OPTIONS,
                                             *DIAGNOSTIC_OPTIONS)


def _default(fields: dict[str, Field], name: str) -> Any:
    return fields[name].param.default


_D, _T = DATASET_FIELDS, TRAINING_FIELDS


@dataclass
class DatasetSettings:
    """Which data a project trains on. ``name`` is a built-in set or a file kind."""

    name: str = _default(_D, "name")  # built-in id (runtime.data.DATASETS) or a file kind
    path: str = _default(_D, "path")  # file or folder for users' data
    seed: int = _default(_D, "seed")
    val_split: float = _default(_D, "val_split")
    noise: float = _default(_D, "noise")  # for generated sets
    samples: int = _default(_D, "samples")  # for generated sets
    target_column: str = _default(_D, "target_column")  # CSV: column to predict
    scaling: str = _default(_D, "scaling")  # CSV / NPZ features
    options: dict[str, Any] = field(default_factory=dict)  # dataset-specific extras


@dataclass
class TrainingSettings:
    optimizer: str = _default(_T, "optimizer")
    lr: float = _default(_T, "lr")
    momentum: float = _default(_T, "momentum")  # SGD and RMSprop
    weight_decay: float = _default(_T, "weight_decay")
    batch_size: int = _default(_T, "batch_size")
    epochs: int = _default(_T, "epochs")
    schedule: str = _default(_T, "schedule")
    step_size: int = _default(_T, "step_size")  # step schedule: epochs between decays
    gamma: float = _default(_T, "gamma")  # step schedule: decay factor
    early_stopping: int = _default(_T, "early_stopping")  # patience in epochs; 0 = off
    grad_clip: float = _default(_T, "grad_clip")  # max gradient norm; 0 = off
    seed: int = _default(_T, "seed")
    device: str = _default(_T, "device")
    accelerate: str = _default(_T, "accelerate")  # runtime.accelerate picks the features
    options: dict[str, Any] = field(default_factory=dict)  # feature-specific extras


def to_dict(settings: DatasetSettings | TrainingSettings) -> dict[str, Any]:
    return asdict(settings)


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build ``cls`` from a dict, checking every field; unknown keys are ignored."""
    if not isinstance(data, dict):
        raise SettingsError(f"{where} must be an object")
    declared = DATASET_FIELDS if cls is DatasetSettings else TRAINING_FIELDS
    values: dict[str, Any] = {}
    for name in (f.name for f in fields(cls) if f.name in data):
        if name in declared:
            values[name] = parse(declared[name], data[name], where)
        elif not isinstance(data[name], dict):  # options: free-form, read by the runtime
            raise SettingsError(f"{where}.{name} must be an object")
        else:
            values[name] = dict(data[name])
    return cls(**values)
