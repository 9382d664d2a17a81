"""The steps every analysis shares (runtime.evaluation): device, eval mode, a data set as
stacked tensors (in memory or item by item, the same either way), class probabilities."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from runtime.evaluation import (
    class_probabilities,
    dataset_rows,
    dataset_tensors,
    eval_mode,
    evaluating,
    evaluation_set,
    model_device,
    row_count,
    take_rows,
)
from runtime.heads import Head


class ItemByItem(torch.utils.data.Dataset):
    """A set that is not held in memory as tensors (as an image folder): read per item."""

    def __init__(self, x, y) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        x = tuple(t[i] for t in self.x) if isinstance(self.x, tuple) else self.x[i]
        return x, self.y[i]


def test_model_device_reads_parameters_then_buffers_else_cpu():
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.BatchNorm1d(2, affine=False)) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu")
    if torch.cuda.is_available():
        assert model_device(nn.Linear(2, 2).cuda()).type == "cuda"


def test_evaluating_restores_each_flag_and_gradient_mode():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.BatchNorm1d(2))
    net[2].eval()  # a frozen layer inside a training network stays frozen
    with evaluating(net):
        assert not any(m.training for m in net.modules())
        assert not torch.is_grad_enabled()
    assert net.training and net[1].training and not net[2].training
    assert torch.is_grad_enabled()
    with evaluating(net, grad=True):
        assert torch.is_grad_enabled() and not net.training
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("the flags come back on errors too")
    assert net.training and not net[2].training


def test_dataset_tensors_same_in_memory_and_item_by_item():
    x, y = torch.randn(10, 3), torch.arange(10)
    in_memory = torch.utils.data.TensorDataset(x, y)
    for limit in (None, 4, 0, 99):
        a = dataset_tensors(in_memory, limit)
        b = dataset_tensors(ItemByItem(x, y), limit)
        n = 10 if limit is None else min(limit, 10)
        if n:
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert row_count(a[0]) == len(a[1]) == len(b[1]) == n
    xs, ys = dataset_rows(ItemByItem((x, x * 2), y), [7, 2])  # several Inputs
    assert torch.equal(xs[0], x[[7, 2]]) and torch.equal(xs[1], 2 * x[[7, 2]])
    assert torch.equal(ys, y[[7, 2]])
    sub = torch.utils.data.Subset(in_memory, [5, 6, 7])
    assert torch.equal(dataset_rows(sub, [2, 0])[0], x[[7, 5]])


def test_take_rows_and_row_count_follow_the_batch_structure():
    batch = {"a": torch.arange(6).reshape(3, 2), "b": (torch.zeros(3), torch.ones(3))}
    assert row_count(batch) == 3
    picked = take_rows(batch, slice(1, 3))
    assert picked["a"].tolist() == [[2, 3], [4, 5]] and picked["b"][1].shape == (2,)


def test_evaluation_set_falls_back_to_training_when_validation_is_empty():
    class Data:
        train, val = [1, 2], []

    assert evaluation_set(Data()) == [1, 2]
    Data.val = [3]
    assert evaluation_set(Data()) == [3]


def test_class_probabilities_rows_sum_to_one():
    head = Head(1, "out", "classification")
    probs = class_probabilities(head, torch.randn(5, 4))
    assert probs.shape == (5, 4) and torch.allclose(probs.sum(1), torch.ones(5))
    single = class_probabilities(head, torch.tensor([[0.0], [2.0]]))
    assert torch.allclose(single[:, 1], torch.sigmoid(torch.tensor([0.0, 2.0])))
    assert torch.allclose(single.sum(1), torch.ones(2))
