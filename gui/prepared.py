"""A trained project's network and data, prepared once per project revision for the panels
that analyse it off the GUI thread.

A panel takes a ``Snapshot`` of the project on the GUI thread (a copy of the graph and the
settings, and the weights bytes: cheap) and hands it to a background job (``gui.tasks``),
which calls ``PreparedCache.get``: the cache compiles the copy and loads its data and weights
(``runtime.prepare.prepare``) only when the snapshot's ``key`` (the revision: graph, data
settings, seed, weights) differs from the last one. What "prepared" holds beyond the compiled
network and its data is the panel's ``build`` function (tensors of the validation set for the
attack panels, nothing more for the sequence panels). Each panel owns its cache, so two panels
never run one module at once.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # torch loads on the first analysis, not with the window
    from runtime.compile import Compiled
    from runtime.datasets.core import DataBundle

T = TypeVar("T")


@dataclass
class Snapshot:
    """A project as it was when a job was asked for (safe to read from a worker)."""

    project: Any
    key: str


def project_key(project: Any) -> str:
    """The project's revision: changes when the graph, the dataset settings or the weights
    change."""
    weights = project.weights or b""
    return json.dumps([project.graph.to_dict(), dataclasses.asdict(project.dataset),
                       project.training.seed, len(weights), hash(weights)],
                      sort_keys=True, default=str)


def snapshot(project: Any) -> Snapshot:
    """Copy what a worker reads while the user keeps editing (GUI thread): the graph and the
    settings (the weights are immutable bytes)."""
    copied = dataclasses.replace(project, graph=project.graph.copy(),
                                 dataset=copy.deepcopy(project.dataset),
                                 training=copy.deepcopy(project.training),
                                 history=[], layout={}, metadata={})
    return Snapshot(copied, project_key(project))


def prepare_network(snap: Snapshot) -> tuple[Compiled, DataBundle]:
    """(compiled network in eval mode, its data) of a snapshot (worker thread)."""
    from runtime.prepare import prepare

    compiled, data = prepare(snap.project)
    compiled.module.eval()
    return compiled, data


class PreparedCache(Generic[T]):
    """``build(snapshot)`` of the latest snapshot, kept while its key stays the same
    (thread-safe ``get``)."""

    def __init__(self, build: Callable[[Snapshot], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._key: str | None = None
        self._value: T | None = None

    def get(self, snap: Snapshot) -> T:
        """The prepared value for ``snap`` (worker thread); built again only when the key
        changed. Whatever ``build`` raises (a one-line ValueError for a project that cannot
        be compiled or loaded) reaches the caller."""
        with self._lock:
            if self._value is None or self._key != snap.key:
                self._value = self._build(snap)
                self._key = snap.key
            return self._value

    @property
    def last(self) -> T | None:
        return self._value

    def clear(self) -> None:
        with self._lock:
            self._key, self._value = None, None


__all__ = ["PreparedCache", "Snapshot", "prepare_network", "project_key", "snapshot"]
