"""Fields: settings and options declared once (graph.fields, graph.settings)."""

from __future__ import annotations

import dataclasses

import pytest

from graph import catalog
from graph.catalog import CHOICE, Param
from graph.fields import SettingsError, parse, shown
from graph.settings import (
    DATASET_FIELDS,
    TRAINING_FIELDS,
    TRAINING_OPTIONS,
    DatasetSettings,
    TrainingSettings,
)

TRAINING_ALL = {**TRAINING_FIELDS, **TRAINING_OPTIONS}


def test_settings_defaults_are_the_fields_defaults():
    for cls, declared in ((TrainingSettings, TRAINING_FIELDS), (DatasetSettings, DATASET_FIELDS)):
        names = {f.name for f in dataclasses.fields(cls)} - {"options"}
        assert names == set(declared)
        for name in names:
            assert getattr(cls(), name) == declared[name].param.default, name
            assert declared[name].param.check(getattr(cls(), name)) is None, name


def test_every_field_has_a_label_and_help_and_bounds():
    for field in (*TRAINING_ALL.values(), *DATASET_FIELDS.values()):
        assert field.param.label and field.help, field.name
        if field.param.kind in ("int", "float"):
            assert field.param.minimum is not None and field.param.maximum is not None


@pytest.mark.parametrize("values, hidden", [
    ({"optimizer": "adam", "schedule": "none", "mode": "standard", "adversarial": "off"},
     {"momentum", "step_size", "gamma", "d_steps", "d_lr", "g_lr", "label_smoothing", "beta1",
      "r1", "adv_share", "adv_eps", "adv_steps"}),
    ({"optimizer": "sgd", "schedule": "step", "mode": "standard", "adversarial": "fgsm"},
     {"d_steps", "d_lr", "g_lr", "label_smoothing", "beta1", "r1", "adv_steps"}),
    # GAN mode hides adversarial training and, through it, its knobs (even when set), the
    # generic learning rate (D and G have their own) and the gradient ratio
    ({"optimizer": "rmsprop", "schedule": "none", "mode": "gan", "adversarial": "pgd"},
     {"step_size", "gamma", "adversarial", "adv_share", "adv_eps", "adv_steps", "lr",
      "gradient_ratio"}),
])
def test_visibility_is_declared_once(values, hidden):
    def value_of(name):
        return values[name]

    assert {n for n in TRAINING_ALL if not shown(TRAINING_ALL, n, value_of)} == hidden


def test_parse_converts_json_numbers_and_names_the_field():
    assert parse(TRAINING_FIELDS["lr"], 1, "training") == 1.0
    assert isinstance(parse(TRAINING_FIELDS["lr"], 1, "training"), float)
    assert parse(TRAINING_FIELDS["epochs"], 3.0, "training") == 3
    with pytest.raises(SettingsError, match=r"^training.momentum must be between 0.0 and "):
        parse(TRAINING_FIELDS["momentum"], 2.0, "training")


def test_choice_labels_are_declared_on_the_param():
    assert TRAINING_FIELDS["optimizer"].param.choice_label("adamw") == "AdamW"
    assert catalog.spec("Output").param("loss").choice_label("bce") == "Binary cross-entropy"
    plain = Param("p", CHOICE, "a", choices=("a", "b"))
    assert plain.choice_label("b") == "b"
    with pytest.raises(ValueError, match="1 choice labels for 2 choices"):
        Param("p", CHOICE, "a", choices=("a", "b"), choice_labels=("A",))
