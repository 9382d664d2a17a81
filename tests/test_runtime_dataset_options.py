"""Dataset options are declared once (runtime.datasets: typed Params), and the declarations
are what the builders read: defaults, bounds and choices match, and examples use only declared
options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from graph.settings import DatasetSettings
from resources.examples import make
from runtime.data import DATASETS, DataError, load_dataset

BUILT_IN = [key for key, info in DATASETS.items() if info.kind != "file"]


def arrays(settings: DatasetSettings) -> list[np.ndarray]:
    bundle = load_dataset(settings)
    out = []
    for split in (bundle.train, bundle.val):
        for i in (0, len(split) - 1):
            x, y = split[i]
            out += [np.asarray(x), np.asarray(y if not isinstance(y, dict) else list(y.values()))]
    return out


@pytest.mark.parametrize("name", make.EXAMPLES)
def test_examples_set_only_declared_options(name):
    dataset = make.build(name).dataset
    declared = {p.name for p in DATASETS[dataset.name].options}
    assert set(dataset.options) <= declared


@pytest.mark.parametrize("name", BUILT_IN)
def test_declared_defaults_are_what_the_builder_uses(name):
    info = DATASETS[name]
    for param in (field.param for field in info.options):
        assert param.help and param.label, param.name
        if param.default is not None:
            assert param.check(param.default) is None, param.name
    plain = DatasetSettings(name=name, samples=200)
    spelled = dataclasses.replace(plain, options={f.name: f.param.default for f in info.options
                                                  if f.param.default is not None})
    for a, b in zip(arrays(plain), arrays(spelled), strict=True):
        np.testing.assert_array_equal(a, b)


def test_choices_read_as_the_inspector_writes_them():
    grey = load_dataset(DatasetSettings(name="shapes", samples=50, options={"channels": "1"}))
    colour = load_dataset(DatasetSettings(name="shapes", samples=50, options={"channels": 3}))
    assert grey.input_shape == (1, 32, 32) and colour.input_shape == (3, 32, 32)
    named = load_dataset(DatasetSettings(name="shapes", samples=50,
                                         options={"classes": "ring, cross"}))
    assert named.class_names == ["ring", "cross"]
    with pytest.raises(DataError, match="dataset option 'channels' must be one of 1, 3, not 2"):
        load_dataset(DatasetSettings(name="shapes", samples=50, options={"channels": 2}))
    with pytest.raises(DataError, match="dataset option 'length' must be a whole number from "
                                        "6 to 64"):
        load_dataset(DatasetSettings(name="future_context", options={"length": 5}))
