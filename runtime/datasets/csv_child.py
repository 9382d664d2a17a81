"""Parsing a large CSV file in a child process when a worker thread asks for it.

``np.loadtxt`` parses in C holding the GIL for long stretches. In the editor the data set
loads on a worker thread, so while a 100 MB file parsed the GUI thread could not run Python
for tens to hundreds of milliseconds at a time (the window froze in bursts). When a thread
other than the main one reads a file of ``CHILD_BYTES`` or more, the same ``np.loadtxt``
call runs in a child Python process (numpy only, no torch: it starts in a fraction of a
second) that saves the array as .npy in a temporary folder; the waiting thread holds no GIL
and then loads the result with one read. A parse error in the child comes back as the same
ValueError, so ``read_csv`` still falls back to the row reader that names the row and
column; any other failure of the child (no room for the temporary file, no interpreter)
parses in this process as before. The command line reads on its main thread, in process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from runtime.datasets.csv_text import _Columns

CHILD_BYTES = 8 * 1024 * 1024  # smaller files parse in well under 50 ms: not worth a process
# The child's lower CPU priority: on a contended CPU the GUI thread runs first. On the shared
# 2-core machine at load 10-12 it took the open's p99 lateness from 50-63 ms to 40 ms, and
# the load from about 23 s to 35-47 s; with cores to spare it changes neither.
CHILD_NICE = 5
PARSE_ERROR = 3  # the child's exit status for a file np.loadtxt refused (message on stderr)

_CHILD = """
import json, os, sys, warnings
import numpy as np
job = json.loads(sys.argv[1])
if hasattr(os, "nice"):  # on a busy machine the window's thread runs first
    os.nice(job["nice"])
warnings.filterwarnings("ignore", "Input line", UserWarning)  # blank lines
dtype = str if job["dtype"] == "str" else np.dtype(job["dtype"])
try:
    array = np.loadtxt(job["path"], dtype=dtype, **job["read"])
except (ValueError, UnicodeDecodeError) as exc:
    sys.stderr.write(str(exc).replace("\\n", " "))
    raise SystemExit(job["parse_error"]) from None
np.save(job["out"], array)
"""


def loadtxt_in_child(path: Path, dtype: Any, **read: Any) -> np.ndarray:
    """``np.loadtxt(path, dtype=dtype, **read)`` run by a child process (``read``: plain
    values, as ``_Columns`` passes them). Raises ValueError with numpy's message for a file
    it refuses; parses here when the child cannot run."""
    with tempfile.TemporaryDirectory(prefix="plexus-csv-") as folder:
        out = Path(folder) / "table.npy"
        job = {"path": str(path), "out": str(out), "read": read, "parse_error": PARSE_ERROR,
               "nice": CHILD_NICE,
               "dtype": "str" if dtype is str else np.dtype(dtype).str}
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)],
                                  capture_output=True, text=True, check=False)
        except OSError:
            done = None
        if done is not None and done.returncode == 0:
            try:
                return np.load(out, allow_pickle=False)
            except (OSError, ValueError):
                pass
        elif done is not None and done.returncode == PARSE_ERROR:
            raise ValueError(done.stderr.strip() or "the file could not be parsed")
    return np.loadtxt(path, dtype=dtype, **read)


class ColumnsInChild(_Columns):
    """``_Columns`` whose large files parse in a child process when read off the main thread
    (the editor's loads), so the GUI thread keeps the GIL."""

    def _loadtxt(self, path: Path, **read: Any) -> np.ndarray:
        if (threading.current_thread() is threading.main_thread()
                or Path(path).stat().st_size < CHILD_BYTES):
            return super()._loadtxt(path, **read)
        return loadtxt_in_child(path, **read)
