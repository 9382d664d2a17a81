"""Generated data sets refuse, before allocating, sizes that would not fit (issue 15)."""

from __future__ import annotations

import pytest

from graph.settings import DATASET_FIELDS, DatasetSettings
from runtime.data import DataError, load_dataset


def test_samples_field_is_bounded_by_the_format():
    assert DATASET_FIELDS["samples"].param.maximum == 1_000_000


@pytest.mark.parametrize("name, options, expected", [
    ("shapes", {}, "dataset 'shapes': 1,000,000 samples would take 3.8 GB; lower samples to "
                   "262,144 or fewer"),
    ("shapes", {"channels": "3"}, "dataset 'shapes': 1,000,000 samples would take 11.4 GB; "
                                  "lower samples to 87,381 or fewer"),
    ("sines", {"window": 512, "length": 1000}, "dataset 'sines': 1,000,000 samples would take "
                                               "1.9 GB; lower samples to 520,223 or fewer"),
])
def test_generated_sets_refuse_what_would_not_fit(name, options, expected):
    with pytest.raises(DataError) as info:
        load_dataset(DatasetSettings(name=name, samples=1_000_000, options=options))
    assert str(info.value) == expected
