"""Batches of a dataset on a device: in-memory sets indexed directly, sets that read a whole
batch at once (``batch(positions)``: rows streamed from disk, cached images) asked batch by
batch, others through a DataLoader (with the set's ``loader_workers`` processes, and pinned
memory on CUDA).

Inputs and targets may be one tensor, a tuple or a dict of tensors (several Inputs or Outputs);
``forward`` calls a module with whichever form a batch has.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from runtime.compile import Compiled


def map_tensors(obj: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``fn`` on every tensor of a tensor, tuple/list or dict of tensors (several Inputs or
    several heads' targets)."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(v, fn) for v in obj)
    return obj


def first_tensor(obj: Any) -> Tensor:
    if isinstance(obj, Tensor):
        return obj
    values = obj.values() if isinstance(obj, dict) else obj
    return first_tensor(next(iter(values)))


def tensor_pair(dataset: Any) -> tuple[Any, Any] | None:
    """(x, y) of an in-memory dataset, for fast batching by indexing; None if not in memory.

    Recognised: TensorDataset(x, y), a Subset of one, or any dataset with ``as_tensors()``
    returning (x, y) where each is a tensor, tuple or dict of tensors with one row per sample.
    """
    if hasattr(dataset, "as_tensors"):
        return dataset.as_tensors()
    if isinstance(dataset, torch.utils.data.TensorDataset) and len(dataset.tensors) == 2:
        return dataset.tensors[0], dataset.tensors[1]
    if isinstance(dataset, torch.utils.data.Subset):
        inner = tensor_pair(dataset.dataset)
        if inner is not None:
            index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
            return (map_tensors(inner[0], lambda t: t[index]),
                    map_tensors(inner[1], lambda t: t[index]))
    return None


class Batches:
    """The batches of one dataset: a seeded shuffle per epoch, or in order for evaluation.

    In-memory sets are indexed directly on the device (no DataLoader, no collation); others go
    through a DataLoader with the same batch order, with the set's ``loader_workers``.
    """

    def __init__(self, dataset: Any, batch_size: int, device: torch.device,
                 shuffle: bool = False, seed: int = 0) -> None:
        self.dataset = dataset
        self.size = len(dataset)
        self.batch_size = max(1, batch_size)
        self.device = device
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)
        pair = tensor_pair(dataset)
        self.tensors = None if pair is None else map_tensors(pair, lambda t: t.to(device))

    def __len__(self) -> int:
        return len(self._bounds())

    def _bounds(self) -> list[tuple[int, int]]:
        """Batch [start, end) ranges. A last batch of one sample joins the one before it, since
        BatchNorm cannot train on a single sample."""
        bounds = [(s, min(s + self.batch_size, self.size))
                  for s in range(0, self.size, self.batch_size)]
        if self.shuffle and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], bounds[-1][1])]
        return bounds

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        order = (torch.randperm(self.size, generator=self.generator) if self.shuffle
                 else torch.arange(self.size))
        bounds = self._bounds()
        if self.tensors is not None:
            order = order.to(self.device)
            x_all, y_all = self.tensors
            for start, end in bounds:
                index = order[start:end]
                if not self.shuffle:
                    yield (map_tensors(x_all, lambda t, s=start, e=end: t[s:e]),
                           map_tensors(y_all, lambda t, s=start, e=end: t[s:e]))
                else:
                    yield (map_tensors(x_all, lambda t, i=index: t[i]),
                           map_tensors(y_all, lambda t, i=index: t[i]))
            return
        pin = self.device.type == "cuda"
        if callable(getattr(self.dataset, "batch", None)):
            for start, end in bounds:
                x, y = self.dataset.batch(order[start:end].numpy())
                yield (map_tensors(x, lambda t: _to(t, self.device, pin)),
                       map_tensors(y, lambda t: _to(t, self.device, pin)))
            return
        sampler = [order[start:end].tolist() for start, end in bounds]
        # a daemonic process may not start workers (the window's training process may:
        # runtime.worker.allow_data_workers)
        workers = 0 if multiprocessing.current_process().daemon else getattr(
            self.dataset, "loader_workers", 0)
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler,
                                             num_workers=workers, pin_memory=pin,
                                             persistent_workers=False)
        for x, y in loader:
            yield (map_tensors(x, lambda t: t.to(self.device, non_blocking=pin)),
                   map_tensors(y, lambda t: t.to(self.device, non_blocking=pin)))


def _to(tensor: Tensor, device: torch.device, pin: bool) -> Tensor:
    """``tensor`` on ``device``; through pinned memory, without waiting, on CUDA."""
    if pin:
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def forward(module: nn.Module, x: Any, input_names: Sequence[str] = ()) -> Any:
    """Call the module with one input, a tuple of inputs, or a dict keyed by Input name."""
    if isinstance(x, dict):
        return module(*(x[name] for name in input_names))
    if isinstance(x, (tuple, list)):
        return module(*x)
    return module(x)


def input_names(compiled: Compiled) -> list[str]:
    """The Input nodes' names in the compiled module's argument order (dict batches' keys)."""
    return [compiled.graph.nodes[i].name for i in compiled.input_nodes]
