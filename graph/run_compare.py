"""Runs compared by what changed between them.

Each history run keeps the project's settings when it trained (``runtime.history``). Runs
are named by the settings that differ among the runs being compared ("lr 0.1" against
"lr 0.001"), so overlaid curves say what the experiment varied. Runs saved before settings
were recorded are named by their number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SHORT_NAMES = {"training.lr": "lr", "training.batch_size": "batch",
               "training.weight_decay": "weight decay", "dataset.val_split": "val share"}
IGNORED = frozenset({"training.device", "training.epochs"})  # not what an experiment varies


def flat_settings(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run's settings as {"training.lr": 0.01, "training.options.adversarial": "fgsm", ...}."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = value

    walk("", run.get("settings") or {})
    return flat


def changed_settings(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The settings whose values differ among ``runs`` (those that recorded settings), in a
    stable order: training first, then the dataset."""
    flats = [flat_settings(r) for r in runs if r.get("settings")]
    keys = sorted({k for f in flats for k in f}, key=lambda k: (not k.startswith("training"), k))
    return [k for k in keys if k not in IGNORED
            and len({repr(f.get(k)) for f in flats}) > 1]


def setting_name(key: str) -> str:
    """How a setting reads in a run's name: "lr", "optimizer", "adversarial"."""
    return SHORT_NAMES.get(key, key.rsplit(".", 1)[-1].replace("_", " "))


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "default" if value is None else str(value)


def run_names(runs: Sequence[Mapping[str, Any]], numbers: Sequence[int] | None = None
              ) -> list[str]:
    """Each run named by the settings that differ among ``runs`` ("lr 0.1, batch 64"); a run
    that recorded no settings, or when nothing differs, by its number ("run 3")."""
    numbers = list(numbers) if numbers is not None else list(range(1, len(runs) + 1))
    changed = changed_settings(runs)
    names = []
    for number, run in zip(numbers, runs, strict=True):
        flat = flat_settings(run)
        if not changed or not flat:
            names.append(f"run {number}")
            continue
        names.append(", ".join(f"{setting_name(k)} {_value(flat.get(k))}" for k in changed))
    return names


def comparison_title(runs: Sequence[Mapping[str, Any]]) -> str:
    """"lr 0.1 vs 0.001" when the runs differ in one setting; else the runs' names joined by
    "vs"."""
    changed = changed_settings(runs)
    if len(changed) == 1:
        key = changed[0]
        values = [_value(flat_settings(r).get(key)) for r in runs if r.get("settings")]
        return f"{setting_name(key)} " + " vs ".join(values)
    return " vs ".join(run_names(runs))
