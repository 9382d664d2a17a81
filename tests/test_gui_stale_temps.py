"""At start the editor removes the temporary files killed saves left beside its recent
projects (issue 15: 85 of 100 killed saves left a 50 MB ``.project.plexus.*.tmp``)."""

from __future__ import annotations

import os
import time

from hostile_files import project_zip

from gui.document import RecentFiles


def leftovers(folder, name, age_s):
    folder.mkdir(exist_ok=True)
    path = project_zip(folder / name)
    stale = folder / f".{name}.0123abcd.tmp"
    other = folder / f".{name}.notours.tmp"
    young = folder / f".{name}.89abcdef.tmp"
    for leftover in (stale, other, young):
        leftover.write_bytes(b"half a save")
    for leftover in (stale, other):
        os.utime(leftover, (time.time() - age_s, time.time() - age_s))
    return path, stale, other, young


def test_recent_projects_lose_their_stale_temps(qsettings, tmp_path):
    recent = RecentFiles(qsettings)
    a = leftovers(tmp_path / "a", "one.plexus", 600)
    b = leftovers(tmp_path / "b", "two.plexus", 600)
    for path, *_rest in (a, b):
        recent.add(path)
    removed = recent.remove_stale_temps()
    assert sorted(removed) == sorted([a[1], b[1]])
    for _path, stale, other, young in (a, b):
        assert not stale.exists() and other.exists() and young.exists()


def test_the_start_up_cleanup_runs_off_the_gui_thread(qsettings, tmp_path):
    recent = RecentFiles(qsettings)
    path, stale, other, young = leftovers(tmp_path, "three.plexus", 600)
    recent.add(path)
    recent.add(tmp_path / "gone" / "missing.plexus")  # a folder that is not there
    worker = recent.remove_stale_temps_in_background()
    worker.join(30)
    assert not worker.is_alive() and worker.daemon
    assert not stale.exists() and other.exists() and young.exists()
