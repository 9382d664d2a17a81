"""Which project-specific panels apply to a project, judged from its graph and settings alone
(no data loaded), so the window can show the GAN, Sequences, Autoencoder, Boundary,
Confusion, Adversarial and Explain docks for the projects that use them and keep the tab bar
short for the others: a panel that cannot show anything for a project is hidden rather than
shown with advice that does not fit it ("set the Output to classification" for a GAN, a
forecaster or a tagger). ``gui.panels.registry`` declares which predicate goes with which
panel."""

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


def has_classifier(project: Any) -> bool:
    """A classification Output, not a GAN's discriminator: what a confusion matrix, an
    adversarial attack on the decision and a class saliency map need."""
    return (not is_gan(project)
            and any(n.param("task") == "classification"
                    for n in project.graph.nodes_of_type("Output")))


def has_class_outputs(project: Any) -> bool:
    """Class predictions to count in a confusion matrix: a classifier's, or a tagger's per
    token (not a GAN's discriminator)."""
    return (not is_gan(project)
            and any(n.param("task") in ("classification", "tagging")
                    for n in project.graph.nodes_of_type("Output")))


def is_not_gan(project: Any) -> bool:
    """Anything but a GAN: its generator has no data sample to show activations for."""
    return not is_gan(project)
