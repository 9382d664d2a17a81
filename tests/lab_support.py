"""One briefly trained digits_cnn for the adversarial, explain and robustness-probe tests.

Training is the slow part of these tests on the shared machine, so the first module that asks
trains it (through ``runtime.session.run_training``) and the others in the same pytest run
reuse it; a module run on its own trains it once.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from resources.examples.make import digits_cnn
from runtime import session


def train(project: Any, epochs: int, **training: Any) -> Any:
    project.training = dataclasses.replace(project.training, epochs=epochs, **training)
    result = session.run_training(project)
    assert result.status == "completed", result.message
    return project


@functools.lru_cache(maxsize=1)
def trained_digits() -> Any:
    """digits_cnn after 4 epochs (validation accuracy about 0.94); do not modify it."""
    return train(digits_cnn(), 4, lr=0.01, batch_size=64)
