"""Recovery per editor instance: each writes its own file under its own lock, and a new
instance offers back every recovery whose editor has ended (two windows in one process share
a data folder here, as two editors on one machine do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("pytestqt")

from graph.project import Project, save_project  # noqa: E402
from gui.commands import SetParamCommand  # noqa: E402
from gui.file_lock import FileLock, pid_alive  # noqa: E402
from gui.recovery import Recovery, RecoveryChoice, find_orphans  # noqa: E402
from resources.examples.make import build  # noqa: E402


def edit(window, name: str) -> None:
    """Give ``window`` an unsaved project called ``name``."""
    project = build("xor_mlp")
    project.name = name
    window.open_unsaved(project)
    node = window.graph.nodes_of_type("Linear")[0]
    window.undo_stack.push(SetParamCommand(window.graph, node.id, "out_features", 5))


def orphan_file(folder, name: str, saved_at: str, stem: str = "recovery-99999-20260101-000000"):
    """A recovery left by an editor that died (no lock held), as the files it leaves."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.plexus"
    save_project(Project(name=name), path)
    path.with_suffix(".json").write_text(json.dumps(
        {"source": f"/projects/{name}.plexus", "name": name, "saved_at": saved_at}))
    return path


def test_two_instances_write_their_own_recovery_and_a_clean_exit_spares_the_other(
        make_window, tmp_path):
    data = tmp_path / "appdata"
    first, second = make_window(), make_window()
    edit(first, "alpha")
    edit(second, "beta")
    assert first.autosave() and second.autosave()
    assert first.recovery.path != second.recovery.path
    assert first.recovery.path.parent == second.recovery.path.parent == data
    assert first.recovery.path.name.startswith(f"recovery-{os.getpid()}-")
    assert first.recovery.available().name == "alpha"
    assert second.recovery.available().name == "beta"
    # both run: neither is anyone's orphan
    assert find_orphans(data) == []
    # B exits cleanly, then A dies: A's work is still there for the next start
    second.undo_stack.setClean()
    second.close()
    assert not second.recovery.path.exists()
    assert not second.recovery.lock.held
    first.recovery.lock.release()  # the process ends: the OS drops its lock
    later = make_window()
    offered = []

    def ask(orphans):
        offered.extend(orphans)
        return RecoveryChoice(restore=orphans[0])

    later.ask_recover = ask
    assert later.offer_recovery()
    assert [o.name for o in offered] == ["alpha"]
    assert later.project.name == "alpha" and later.isWindowModified()
    assert later.graph.nodes_of_type("Linear")[0].params["out_features"] == 5
    assert later.path is None  # a new project: it was never saved
    # the restored work is the new window's own recovery now; the orphan is gone
    assert not first.recovery.path.exists()
    assert not first.recovery.path.with_suffix(".lock").exists()
    assert later.recovery.available().name == "alpha"
    assert find_orphans(data) == []


def test_every_orphan_is_listed_and_each_can_be_restored_or_discarded(make_window, tmp_path):
    data = tmp_path / "appdata"
    old = orphan_file(data, "old", "2026-01-01T10:00:00")
    new = orphan_file(data, "new", "2026-01-02T09:30:00", stem="recovery-99998-20260102-093000")
    legacy = orphan_file(data, "legacy", "2025-12-31T23:59:00", stem="recovery")  # one file
    alive = make_window()
    edit(alive, "running")
    assert alive.autosave()  # a live editor's recovery is not offered
    window = make_window()
    offered = []

    def ask(orphans):
        offered.extend(orphans)
        by_name = {o.name: o for o in orphans}
        return RecoveryChoice(restore=by_name["new"], discard=[by_name["legacy"]])

    window.ask_recover = ask
    assert window.offer_recovery()
    assert [(o.name, o.saved_at) for o in offered] == [
        ("new", "2026-01-02T09:30:00"), ("old", "2026-01-01T10:00:00"),
        ("legacy", "2025-12-31T23:59:00")]  # newest first, with the time of each
    assert window.project.name == "new" and window.isWindowModified()
    assert window.path == "/projects/new.plexus"
    assert not new.exists() and not legacy.exists() and not legacy.with_suffix(".json").exists()
    assert old.exists()  # neither restored nor discarded: offered again next time
    assert [o.name for o in find_orphans(data)] == ["old"]


def test_a_window_that_cannot_ask_keeps_every_orphan(make_window, tmp_path):
    data = tmp_path / "appdata"
    path = orphan_file(data, "kept", "2026-01-01T10:00:00")
    window = make_window(interactive=False)
    assert not window.offer_recovery()
    assert path.exists()
    again = find_orphans(data)
    assert [o.name for o in again] == ["kept"]  # its lock was let go
    for info in again:
        info.keep()


def test_a_broken_recovery_is_reported_and_discarded(make_window, tmp_path):
    data = tmp_path / "appdata"
    path = orphan_file(data, "broken", "2026-01-01T10:00:00")
    path.write_bytes(b"not a zip")
    window = make_window()
    errors = []
    window.show_error = lambda title, text: errors.append((title, text))
    window.ask_recover = lambda orphans: RecoveryChoice(restore=orphans[0])
    assert not window.offer_recovery()
    assert errors and errors[0][0] == "Cannot recover project"
    assert not path.exists()


def test_stray_lock_files_are_removed_only_when_old(tmp_path):
    young = tmp_path / "recovery-1-20260101-000000.lock"
    old = tmp_path / "recovery-2-20260101-000000.lock"
    young.write_text("1")
    old.write_text("2")
    stale = time.time() - 3600
    os.utime(old, (stale, stale))
    assert find_orphans(tmp_path) == []
    assert young.exists() and not old.exists()


def test_the_file_lock_is_exclusive_until_released(tmp_path):
    path = tmp_path / "x.lock"
    lock = FileLock.acquire(path, new=True)
    assert lock is not None and lock.held
    assert path.read_text() == str(os.getpid())
    assert FileLock.acquire(path) is None  # held, even by this process's other holder
    with pytest.raises(FileExistsError):
        FileLock.acquire(path, new=True)
    lock.release()
    again = FileLock.acquire(path)
    assert again is not None
    again.release(remove=True)
    assert not path.exists()


def test_a_lock_held_by_another_process_and_dropped_when_it_dies(tmp_path):
    path = tmp_path / "other.lock"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from gui.file_lock import FileLock; "
         f"lock = FileLock.acquire(Path({str(path)!r})); print('held', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert child.stdout.readline().strip() == "held"
        assert FileLock.acquire(path) is None
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)
    lock = FileLock.acquire(path)
    assert lock is not None
    lock.release()


def test_the_recovery_dialog_lists_each_orphan_and_returns_the_choice(qtbot, tmp_path):
    from gui.recovery_dialog import RecoveryDialog

    orphan_file(tmp_path, "first", "2026-01-02T09:30:00")
    orphan_file(tmp_path, "second", "2026-01-01T08:00:00", stem="recovery-7-20260101-080000")
    orphans = find_orphans(tmp_path)
    dialog = RecoveryDialog(orphans)
    qtbot.addWidget(dialog)
    rows = [[dialog.table.topLevelItem(i).text(c) for c in range(3)]
            for i in range(dialog.table.topLevelItemCount())]
    assert rows == [["first", "2026-01-02 09:30:00", "/projects/first.plexus"],
                    ["second", "2026-01-01 08:00:00", "/projects/second.plexus"]]
    assert dialog.restore_button.isEnabled()  # the newest is selected
    dialog.table.topLevelItem(0).setSelected(True)
    dialog.table.topLevelItem(1).setSelected(True)
    assert not dialog.restore_button.isEnabled()  # one at a time into the window
    dialog.table.clearSelection()
    dialog.table.topLevelItem(1).setSelected(True)
    dialog.discard_button.click()
    assert dialog.table.topLevelItemCount() == 1
    dialog.table.topLevelItem(0).setSelected(True)
    dialog.restore_button.click()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.choice.restore.name == "first"
    assert [o.name for o in dialog.choice.discard] == ["second"]
    for info in orphans:
        info.keep()


def test_recovery_without_a_write_leaves_no_files(tmp_path):
    recovery = Recovery(tmp_path / "appdata")
    assert recovery.available() is None
    recovery.close()
    assert not (tmp_path / "appdata").exists()
