"""What the trainers and the training process tell their listeners: one dataclass per event.

Every event crosses a ``multiprocessing.Pipe`` from the training process to the editor, so each
is a plain dataclass of picklable values. Listeners dispatch on the class (``isinstance`` or
``match``), never on a string. ``record()`` gives an event's wire form, the dict the project's
history and the command line's ``--metrics-jsonl`` keep: ``{"type": ..., field: value, ...}``
with the fields in declaration order, a ``flat`` field's items spliced in where it stands, and
an ``optional`` field left out while it is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

Record = dict[str, Any]
HEARTBEAT_INTERVAL = 1.0  # seconds between two Heartbeat events of the training process
_FLAT, _OPTIONAL = "flat", "optional"


def flat() -> Any:
    """A dict field whose items stand in the record as keys of their own."""
    return field(default_factory=dict, metadata={_FLAT: True})


def optional(default: Any = None) -> Any:
    """A field that the record leaves out while it is None."""
    return field(default=default, metadata={_OPTIONAL: True})


@dataclass
class Event:
    """Base of every event: ``kind`` names it in the record."""

    kind: ClassVar[str] = ""

    def record(self) -> Record:
        out: Record = {"type": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.metadata.get(_FLAT):
                out.update(value)
            elif value is not None or not item.metadata.get(_OPTIONAL):
                out[item.name] = value
        return out


# -- a run -------------------------------------------------------------------------------------
@dataclass
class Started(Event):
    """A run began; a GAN run fills the GAN fields."""

    kind: ClassVar[str] = "started"
    device: str
    epochs: int
    steps_per_epoch: int
    params: int
    samples: int
    val_samples: int
    mode: str | None = optional()  # "gan" for a GAN run
    g_params: int | None = optional()
    d_params: int | None = optional()
    sample_kind: str | None = optional()
    d_steps: int | None = optional()
    accelerate: str | None = optional()  # the speed features chosen (runtime.accelerate)


@dataclass
class Batch(Event):
    """Training progress, at most one per ``BATCH_EVENT_INTERVAL``: ``loss`` is the mean over
    the steps since the previous batch event (a GAN's: the discriminator's)."""

    kind: ClassVar[str] = "batch"
    epoch: int
    step: int
    steps_per_epoch: int
    global_step: int
    loss: float
    samples_per_s: float
    d_loss: float | None = optional()
    g_loss: float | None = optional()


@dataclass
class Epoch(Event):
    """One finished epoch: its metrics ("train_loss", "val_accuracy", "lr", "d_loss", ...),
    the best epoch so far and the seconds it took (pauses left out)."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    metrics: dict[str, Any] = flat()
    best_epoch: int = 0
    seconds: float = 0.0


@dataclass
class Probe(Event):
    """A probe's result. ``probe`` names it ("batch": a bundle of several, in
    ``values["results"]``); ``values`` is the probe's payload. ``final``: measured on the kept
    weights after the run; ``live`` False: asked for while no run was going."""

    kind: ClassVar[str] = "probe"
    probe: str | None = optional()
    values: dict[str, Any] = flat()
    epoch: int | None = optional()
    step: int | None = optional()
    global_step: int | None = optional()
    final: bool | None = optional()
    live: bool | None = optional()

    @classmethod
    def of(cls, payload: dict[str, Any], **where: Any) -> Probe:
        """The event of a payload as probes return it: ``{"probe": name, ...values}``."""
        values = dict(payload)
        return cls(probe=values.pop("probe", None), values=values, **where)

    def results(self) -> list[dict[str, Any]]:
        """One flat result dict per probe (a bundle unpacked), as the panels draw them:
        {"probe": name, "epoch", ["step", "global_step", "final", "live"], ...values}."""
        where = {k: v for k, v in self.record().items()
                 if k in ("epoch", "step", "global_step", "final", "live")}
        if self.probe != "batch":
            return [{**where, "probe": self.probe, **self.values}]
        return [{**where, **result} for result in self.values.get("results", [])]


@dataclass
class Weights(Event):
    """The weights (safetensors bytes, node keyed) of an epoch, sent just before its Epoch."""

    kind: ClassVar[str] = "weights"
    epoch: int
    weights: bytes


@dataclass
class Finished(Event):
    """The run ended; always the last event of a run. The training process adds the kept
    weights (None: unchanged), the project's new history run and the device; the editor marks
    a run whose process died as ``crashed``."""

    kind: ClassVar[str] = "finished"
    status: str  # "completed" | "stopped" | "early_stopped" | "failed"
    message: str
    best_epoch: int = 0
    weights: bytes | None = optional()
    history_run: dict[str, Any] | None = optional()
    device: str | None = optional()
    crashed: bool | None = optional()


@dataclass
class Paused(Event):
    """The run has reached its pause and waits (sent only where the control was given a
    ``report``): nothing more comes from it until ``Resumed``."""

    kind: ClassVar[str] = "paused"


@dataclass
class Resumed(Event):
    """A run that sent ``Paused`` goes on (resumed, or woken to stop)."""

    kind: ClassVar[str] = "resumed"


# -- the training process -----------------------------------------------------------------------
@dataclass
class Devices(Event):
    """The devices the training process can use: [{"id", "name", ["memory_gb"]}, ...]."""

    kind: ClassVar[str] = "devices"
    devices: list[dict[str, Any]]
    cuda_note: str = ""
    torch: str = ""


@dataclass
class Ready(Event):
    """The training process imported torch and warmed up."""

    kind: ClassVar[str] = "ready"
    pid: int
    qt_loaded: bool


@dataclass
class Heartbeat(Event):
    """The training process is alive: sent about once a second by a thread of its own,
    whatever the training loop is doing, so the editor can tell a busy process from a hung
    one (``HEARTBEAT_INTERVAL``)."""

    kind: ClassVar[str] = "heartbeat"


@dataclass
class Notice(Event):
    """Something to tell the user that is not a run's failure."""

    kind: ClassVar[str] = "notice"
    message: str
    traceback: str | None = optional()


@dataclass
class ProbesDone(Event):
    """A ``probe_now`` request is answered (``ok`` False: it could not run)."""

    kind: ClassVar[str] = "probes_done"
    ok: bool
