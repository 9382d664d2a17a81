"""Form rows generated from ``graph.fields.Field`` declarations.

A settings field is an attribute of a settings dataclass; an option is an entry of its
``options`` dict, stored only when it differs from its default so files stay clean. Both get
their widget from the one type-to-widget map (gui/forms.py) and their visibility from
``graph.fields.shown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QWidget

from graph.catalog import CHOICE, FLOAT, INT, STR, Param
from graph.fields import Field
from gui import forms


def field_editor(field: Field) -> QWidget:
    """The widget of a field; an "auto" default (None) shows "auto" at the minimum."""
    param = field.param
    editor = forms.make_editor(param, param.minimum if param.default is None else param.default)
    if field.auto:
        editor.setSpecialValueText("auto")
    return editor


def shown_option(param: Param, value: Any) -> Any:
    """An options value as its widget shows it: absent is the default ("auto": the minimum),
    a list is comma-separated text (or its first number), a number given for a choice its
    text."""
    if value is None:
        return param.minimum if param.default is None else param.default
    if isinstance(value, (list, tuple)) and param.kind == STR:
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, tuple)) and value and param.kind in (INT, FLOAT):
        return value[0]
    if param.kind == CHOICE and not isinstance(value, str):
        return str(value)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal values, counting a JSON list and a tuple with the same items as equal."""
    def norm(v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    return norm(a) == norm(b)


def option_default(field: Field, settings: Any) -> Any:
    """What the runtime uses when the option is absent, as the widget shows it."""
    if field.follows:
        return getattr(settings, field.follows)
    return shown_option(field.param, None)


def option_value(field: Field, settings: Any, lowercase_choices: bool = False) -> Any:
    """The option's current value as its widget shows it. ``lowercase_choices``: the runtime
    reads a choice case-blind ("FGSM" as "fgsm")."""
    value = (settings.options or {}).get(field.name)
    if value is None:
        return option_default(field, settings)
    shown = shown_option(field.param, value)
    return shown.lower() if lowercase_choices and field.param.kind == CHOICE else shown


def options_with(fields: Mapping[str, Field], settings: Any, field: Field, value: Any
                 ) -> dict[str, Any]:
    """``settings.options`` with ``field`` set to ``value``: a default is left out, and a
    switch turned away drops the options only shown with it."""
    options = dict(settings.options or {})
    if same(value, option_default(field, settings)):
        options.pop(field.name, None)
    else:
        options[field.name] = value
    if field.param.kind == CHOICE:
        for other in fields.values():
            when = other.shown_when
            if when is not None and when[0] == field.name and value not in when[1]:
                options.pop(other.name, None)
    return options
