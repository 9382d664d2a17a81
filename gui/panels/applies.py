"""Which project-specific panels apply to a project, judged from its graph and settings alone
(no data loaded), so the window can show the GAN, Sequences, Autoencoder and Boundary docks
for the projects that use them and keep the tab bar short for the others
(``gui.panels.registry`` declares which predicate goes with which panel)."""

from __future__ import annotations

from typing import Any

from graph.catalog import SEQUENCE
from gui.panels.gan import is_gan

SEQUENCE_TASKS = frozenset({"tagging", "forecasting"})


def is_sequence_model(project: Any) -> bool:
    """A recurrent or embedding layer, or a per-step head (tagging, forecasting)."""
    graph = project.graph
    return (any(n.spec is not None and n.spec.has(SEQUENCE) for n in graph.nodes.values())
            or any(n.param("task") in SEQUENCE_TASKS for n in graph.nodes_of_type("Output")))


def is_planar(project: Any) -> bool:
    """One Input of two features: the plane the decision boundary is drawn over."""
    inputs = project.graph.nodes_of_type("Input")
    return len(inputs) == 1 and list(inputs[0].param("shape")) == [2] and not is_gan(project)
