"""What a group is for, and how a project trains: the one declaration of the GAN's parts.

A group's role is "" (a plain block) or the part of a GAN it compiles to; the runtime
(``runtime.gan_networks``), validation and the editor's role menu all read ``GROUP_ROLES``.
``training_mode`` reads a project's mode (``training.options["mode"]``, declared with the other
training options in ``graph.settings``); the session picks the trainer from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GroupRole:
    """One group role: its name in the file, its title in menus, what its Input and Output
    carry (for messages)."""

    name: str
    title: str
    takes: str = ""
    gives: str = ""


GENERATOR, DISCRIMINATOR = "generator", "discriminator"
GROUP_ROLES: dict[str, GroupRole] = {r.name: r for r in (
    GroupRole("", "None"),
    GroupRole(GENERATOR, "Generator", takes="the noise", gives="the sample"),
    GroupRole(DISCRIMINATOR, "Discriminator", takes="the sample", gives="one logit"),
)}
GAN_ROLES = (GENERATOR, DISCRIMINATOR)  # the groups a GAN project needs, in compile order

STANDARD_MODE, GAN_MODE = "standard", "gan"


def training_mode(training: Any) -> str:
    """The project's training mode: "standard" unless ``training.options["mode"]`` says so."""
    return str((getattr(training, "options", None) or {}).get("mode") or STANDARD_MODE)
