"""Fields: a setting or an option declared once, for the file, the runtime and the form.

A Field is a ``graph.catalog.Param`` (kind, default, bounds or choices, label, help, choice
labels) plus when a form shows it. Training settings, training options and dataset options
are all declared as Fields; the inspector builds its rows from them, and loading a project
checks values with ``Param.check`` through ``parse``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.catalog import BOOL, CHOICE, FLOAT, INT, STR, Param

# What a value of each kind must be, as a message reads it.
_TYPE_WORDS = {INT: "must be a whole number", FLOAT: "must be a number", STR: "must be text",
               BOOL: "must be true or false"}


class SettingsError(ValueError):
    """A settings field with a wrong type or value; the message names the field."""


@dataclass(frozen=True)
class Field:
    """One setting or option: its Param and when a form shows it.

    ``shown_when`` (name, values): shown while that other field is shown and holds one of
    ``values`` (momentum only for sgd and rmsprop; GAN knobs only in GAN mode).
    ``per_dataset``: shown only when the chosen data set reads it (``DatasetInfo.uses``).
    ``follows``: the default is this training setting's value (d_lr follows lr). A default of
    None without ``follows`` is "auto": the runtime derives it, the form shows "auto".
    """

    param: Param
    shown_when: tuple[str, tuple[str, ...]] | None = None
    per_dataset: bool = False
    follows: str = ""

    @property
    def name(self) -> str:
        return self.param.name

    @property
    def title(self) -> str:
        return self.param.title

    @property
    def help(self) -> str:
        return self.param.help

    @property
    def auto(self) -> bool:
        """The runtime picks the value when it is left out ("auto" in the form)."""
        return self.param.default is None and not self.follows


def by_name(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


def shown(fields: Mapping[str, Field], name: str, value_of: Callable[[str], Any]) -> bool:
    """Whether the form shows field ``name``, given the current value of each field."""
    when = fields[name].shown_when
    if when is None:
        return True
    switch, values = when
    return ((switch not in fields or shown(fields, switch, value_of))
            and value_of(switch) in values)


def parse(field: Field, value: Any, where: str) -> Any:
    """``value`` (from a JSON file) as the field's type; SettingsError naming
    ``where.name`` when ``Param.check`` refuses it."""
    param, label = field.param, f"{where}.{field.name}"
    if param.kind == INT and isinstance(value, float) and math.isfinite(value) \
            and value.is_integer():
        value = int(value)
    elif param.kind == FLOAT and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise SettingsError(f"{label} is too large a number") from None
    if param.check(value) is None:
        return value
    raise SettingsError(f"{label} {_reason(param, value)}")


def _reason(param: Param, value: Any) -> str:
    """Why ``value`` is refused, naming the allowed values or range and the value found."""
    if param.kind == CHOICE:
        return f"must be one of {', '.join(param.choices)}, not {value!r}"
    if param.kind == BOOL:
        return _TYPE_WORDS[BOOL]
    if dataclasses.replace(param, minimum=None, maximum=None).check(value) is None:
        return f"must be between {param.minimum} and {param.maximum}, not {value!r}"
    return f"{_TYPE_WORDS[param.kind]}, not {value!r}"
