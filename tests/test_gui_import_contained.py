"""The Import dialog runs the user's .py (issue 15): sys.exit(), KeyboardInterrupt or any
exception from the file, the model's constructor or its forward is one line in the dialog,
never a crash, and the open project stays."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

HEADER = "import sys\nimport torch\nfrom torch import nn\n\n"
MODEL = ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
         "        {init}\n        self.fc = nn.Linear(4, 2)\n\n"
         "    def forward(self, x):\n        {forward}\n        return self.fc(x)\n")

CASES = [
    ("sys.exit(7)\n", "pass", "pass", "exits.py: running the file called sys.exit(7); a model "
     "file should only define the model"),
    ("raise KeyboardInterrupt\n", "pass", "pass", "exits.py: running the file raised "
     "KeyboardInterrupt; nothing was imported"),
    ("", "sys.exit(3)", "pass", "exits.py: the model's code called sys.exit(3); nothing was "
     "imported"),
    ("", "raise KeyboardInterrupt", "pass", "exits.py: interrupted while its code ran; nothing "
     "was imported"),
    ("", "pass", "sys.exit(0)", "exits.py: the model's code called sys.exit(0); nothing was "
     "imported"),
    ("", "raise RuntimeError('no GPU here')", "pass", "RuntimeError: no GPU here"),
]


@pytest.fixture
def window(editor_window):
    from gui.exchange import install_exchange_actions

    install_exchange_actions(editor_window)
    return editor_window


@pytest.mark.parametrize("top, init, forward, expected", CASES)
def test_the_users_code_ending_or_failing_is_one_line(qtbot, window, tmp_path, capfd, top, init,
                                                      forward, expected):
    from gui.exchange import ImportDialog

    source = tmp_path / "exits.py"
    source.write_text(HEADER + top + MODEL.format(init=init, forward=forward), encoding="utf-8")
    before = window.project
    dialog = ImportDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_source(source)
    dialog.class_combo.setCurrentText("Net")
    dialog.shape_edit.setText("4")
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)
    message = dialog.error.text()
    assert expected in message and "\n" not in message
    assert dialog.isVisible() and window.project is before
    assert "Traceback" not in capfd.readouterr().err
