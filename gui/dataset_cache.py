"""One load of a project's data set in the editor, shared by everything that shows it.

The inspector's preview and the monitor panels both need the data set (a few samples; its
shape, classes and probe samples), each from its own worker thread. Loading a 100 MB CSV
twice in the GUI process cost seconds and twice the memory, so both ask this cache: the first
asker of a settings key loads it, later askers wait for that load (and may stop waiting when
their task is cancelled), and the result stays for the next asker. The preview's bounded load
(``load_preview``: a generated set of millions of samples is built small) is the load; only
when it had to be smaller than the real set does the full set load a second time.

No Qt here: callers run it inside their own background tasks (``gui.tasks``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads with the first data set, not with the window
    from runtime.datasets.core import DataBundle, Preview

KEEP = 2  # settings keys kept loaded (the project's and the one it was just switched from)


class LoadCancelled(Exception):
    """The asker's task was cancelled while it waited for another asker's load."""


@dataclasses.dataclass
class _Entry:
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class DatasetCache:
    """Loads keyed by the dataset settings (and the file's size and time when it has one)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self.loads = 0  # loads actually run (tests, benchmarks)

    def preview(self, settings: Any, cancel: Callable[[], bool] | None = None) -> Preview:
        """``runtime.data.load_preview(settings)``, loaded once per key."""
        from runtime.data import load_preview

        return self._get(("preview", settings_key(settings)), lambda: load_preview(settings),
                         cancel)

    def full(self, settings: Any, cancel: Callable[[], bool] | None = None) -> DataBundle:
        """The whole data set: the preview's bundle when that is the whole set (the usual
        case), else loaded once per key."""
        from runtime.data import load_dataset

        loaded = self.preview(settings, cancel)
        if not loaded.sampled_from:
            return loaded.bundle
        return self._get(("full", settings_key(settings)), lambda: load_dataset(settings),
                         cancel)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _get(self, key: tuple[str, str], load: Callable[[], Any],
             cancel: Callable[[], bool] | None) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry()
                while len(self._entries) > 2 * self._keep:  # a preview and a full set per key
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        if owner:
            try:
                self.loads += 1
                entry.value = load()
            except BaseException as exc:  # noqa: BLE001 - every asker sees the same error
                entry.error = exc
                with self._lock:  # a failed load is tried again next time (file fixed)
                    if self._entries.get(key) is entry:
                        del self._entries[key]
            finally:
                entry.done.set()
        else:
            while not entry.done.wait(0.05):
                if cancel is not None and cancel():
                    raise LoadCancelled
        if entry.error is not None:
            raise entry.error
        return entry.value


def settings_key(settings: Any) -> str:
    """The dataset settings as text, with the size and time of the file they name (a file
    rewritten on disk loads again)."""
    fields = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else settings
    stamp: tuple[int, int] | None = None
    path = str(getattr(settings, "path", "") or "").strip()
    if path:
        try:
            stat = Path(path).expanduser().stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            stamp = None
    return repr((fields, stamp))


_SHARED = DatasetCache()


def shared_datasets() -> DatasetCache:
    """The editor's one cache (every window of the process shares it: same settings, same
    data)."""
    return _SHARED
