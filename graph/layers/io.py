"""Input and Output: where samples enter and where a head trains the network."""

from __future__ import annotations

from graph.catalog import (
    ANY,
    CHOICE,
    FLOAT,
    HEAD,
    INPUT,
    INTS,
    LOSSES,
    TASKS,
    LayerSpec,
    Param,
)

LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "Input", "io", "Input", "Where samples enter the network; its shape excludes the batch.",
        params=(
            Param("shape", INTS, (2,), "Shape of one sample, without the batch dimension "
                  "(e.g. 1, 8, 8 for an 8x8 grey image).", minimum=1, maximum=1_000_000),
            Param("dtype", CHOICE, "float", "'long' for token or class indices (Embedding).",
                  choices=("float", "long"), choice_labels=("float", "long (indices)")),
        ),
        inputs=(), summary="{shape}", role=INPUT,
    ),
    LayerSpec(
        "Output", "io", "Output", "A task head: what the network predicts and the loss it "
        "trains with.",
        params=(
            Param("task", CHOICE, "classification", "What this head predicts.", choices=TASKS,
                  choice_labels=("Classification", "Regression", "tagging", "forecasting",
                                 "reconstruction")),
            Param("loss", CHOICE, "auto", "Loss function; 'auto' picks the usual one for the "
                  "task.", choices=LOSSES,
                  choice_labels=("Auto", "Cross-entropy", "Binary cross-entropy",
                                 "Mean squared error", "Mean absolute error (L1)", "Huber")),
            Param("weight", FLOAT, 1.0, "Weight of this head's loss in the total.", 0.0, 1000.0),
        ),
        outputs=(), summary="{task}", role=HEAD, dtype=ANY,
    ),
)
