"""Long descriptions in bounded time (issue 15): a run without spaces is wrapped anywhere
(Qt's word wrap of it is quadratic: a 1 MB description took 229 s to open), ordinary text
keeps word wrap, and ``info`` prints the start of a long one."""

from __future__ import annotations

import argparse

from hostile_files import project_zip, valid_json
from PySide6.QtGui import QTextOption

from graph import limits
from gui.text import UNBROKEN_RUN, has_unbroken_run

ANYWHERE = QTextOption.WrapMode.WrapAnywhere
WORDS = QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere


def test_runs_without_spaces_are_found():
    assert has_unbroken_run("a " * 10 + "x" * (UNBROKEN_RUN + 1) + " b")
    assert not has_unbroken_run("x" * UNBROKEN_RUN + " " + "y" * UNBROKEN_RUN)
    assert not has_unbroken_run("")


def test_the_description_wraps_anywhere_only_for_unbroken_text(qtbot):
    from gui.project_form import DescriptionEdit

    edit = DescriptionEdit()
    qtbot.addWidget(edit)
    edit.set_value("x" * 100_000)
    assert edit.wordWrapMode() == ANYWHERE and len(edit.toPlainText()) == 100_000
    edit.set_value("A network that reads digits. " * 100)
    assert edit.wordWrapMode() == WORDS


def test_a_description_at_the_bound_opens_in_the_window(editor_window, tmp_path):
    data = valid_json()
    data["description"] = "x" * limits.MAX_DESCRIPTION_CHARS
    window = editor_window
    window.resize(1280, 800)
    window.show()
    assert window.open_project(project_zip(tmp_path / "long.plexus", data), ask=False)
    shown = window.inspector.project_form.description
    assert len(shown.toPlainText()) == limits.MAX_DESCRIPTION_CHARS
    assert shown.wordWrapMode() == ANYWHERE


def test_info_prints_the_start_of_a_long_description(tmp_path, capsys):
    from runtime.cli import cmd_info

    data = valid_json()
    data["description"] = "d" * 10_000
    path = project_zip(tmp_path / "long.plexus", data)
    cmd_info(argparse.Namespace(file=str(path)))
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"hostile: {'d' * 500}\u2026 (9,500 more characters)"
