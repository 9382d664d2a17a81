"""What a panel says to a project whose task it does not draw, declared per (panel, task).

A GAN, a tagger, a forecaster or an autoencoder is not a classifier, and telling its user to
"press Train" after 100 epochs, or to "set the Output to classification", misleads: the
project is right, the panel is the wrong place to look. ``project_task`` reads the task from
the project alone (no data loaded); ``task_note`` gives the sentence that points to the panel
that does show it, or None where the panel's own text applies.
"""

from __future__ import annotations

from typing import Any

from gui.panels.gan import is_gan

SEQUENCES = "the Sequences panel"
NOTES: dict[tuple[str, str], str] = {
    ("activations", "gan"): (
        "A GAN trains a generator and a discriminator in turn; this panel follows one "
        "classifier's sample. The GAN panel shows the generator's samples and what the "
        "discriminator makes of them."),
    ("confusion", "gan"): (
        "A GAN has no classes to confuse: Metrics shows the generator's and the "
        "discriminator's losses and how often D is right on real and on fake samples; the GAN "
        "panel shows the samples."),
    ("confusion", "forecasting"): (
        f"A forecaster predicts numbers, not classes: {SEQUENCES} draws its forecast against "
        "the true series."),
    ("confusion", "regression"): (
        "This network predicts numbers, not classes: Metrics shows its loss and R\u00b2."),
    ("confusion", "reconstruction"): (
        "An autoencoder rebuilds its input rather than choosing a class: the Autoencoder panel "
        "shows its reconstructions."),
}
# Why the attack and saliency lab (Adversarial, Explain) has nothing for a task.
LAB_REASONS: dict[str, str] = {
    "gan": ("a GAN's generator makes samples and its discriminator judges them; the GAN panel "
            "shows both"),
    "tagging": f"this network tags every token of a sentence; {SEQUENCES} shows what it reads",
    "forecasting": f"this network forecasts a series; {SEQUENCES} draws forecast against truth",
    "reconstruction": ("this network rebuilds its input; the Autoencoder panel shows the "
                       "reconstructions"),
}  # a regressor keeps the lab's own advice: its user may have meant a classifier


def project_task(project: Any) -> str:
    """"gan", or the first Output's task ("classification", "tagging", "forecasting",
    "regression", "reconstruction"); "" without an Output."""
    if is_gan(project):
        return "gan"
    outputs = sorted(project.graph.nodes_of_type("Output"), key=lambda n: n.id)
    return str(outputs[0].param("task") or "classification") if outputs else ""


def task_note(panel: str, project: Any) -> str | None:
    """The empty-state sentence of ``panel`` for ``project``'s task, None: the panel's own."""
    if project is None:
        return None
    return NOTES.get((panel, project_task(project)))


def lab_reason(project: Any) -> str | None:
    """Why attacks and saliency maps do not apply to ``project``'s task (None: they may)."""
    return LAB_REASONS.get(project_task(project)) if project is not None else None


__all__ = ["LAB_REASONS", "NOTES", "lab_reason", "project_task", "task_note"]
