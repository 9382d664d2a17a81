"""Saliency and activation maximization: exact on linear models, meaningful on digits_cnn."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from resources.examples.make import digits_cnn
from runtime import session
from runtime.evaluation import dataset_tensors
from runtime.explain import (
    Cancelled,
    activation_maximization,
    image_grid,
    saliency,
)
from runtime.prepare import prepare


@pytest.fixture(scope="module")
def prepared():
    """digits_cnn from the examples (graph API), trained briefly; (compiled, bundle)."""
    project = digits_cnn()
    project.training = dataclasses.replace(project.training, lr=0.01, batch_size=64, epochs=6)
    result = session.run_training(project)
    assert result.status == "completed", result.message
    return prepare(project)


@pytest.fixture(scope="module")
def cnn(prepared):
    return prepared[0].module.eval()  # a fresh module is in train mode (dropout)


@pytest.fixture(scope="module")
def digits(prepared):
    """Validation digits (x, y): (N, 1, 8, 8) float32 in [0, 1]."""
    x, y = dataset_tensors(prepared[1].val)
    return x.numpy(), y.numpy()


# --------------------------------------------------------------------------- saliency


def test_saliency_of_linear_model_is_exact():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    w = model.weight.detach().numpy()
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    grad = saliency(model, x, target_class=2)
    assert np.allclose(grad.values, np.tile(w[2], (4, 1)), atol=1e-6)
    assert grad.heatmap is None and (grad.target_class == 2).all()
    smooth = saliency(model, x, target_class=2, method="smoothgrad", samples=5)
    assert np.allclose(smooth.values, grad.values, atol=1e-6)
    ig = saliency(model, x, target_class=[0, 1, 2, 0], method="integrated_gradients", steps=4)
    assert np.allclose(ig.values, x * w[[0, 1, 2, 0]], atol=1e-5)
    base = np.ones(5, np.float32)
    ig_b = saliency(model, x, 1, method="integrated_gradients", steps=3, baseline=base)
    assert np.allclose(ig_b.values, (x - base) * w[1], atol=1e-5)


@pytest.mark.parametrize("method", ["gradient", "smoothgrad", "integrated_gradients"])
def test_saliency_shapes_and_default_target(cnn, digits, method):
    x, _ = digits
    batch = x[:8]
    res = saliency(cnn, batch, method=method, samples=8, steps=8, value_range=(0.0, 1.0))
    assert res.values.shape == batch.shape and res.values.dtype == np.float32
    assert res.heatmap.shape == (8, 8, 8)
    assert np.allclose(res.heatmap, np.abs(res.values).max(axis=1))
    with torch.no_grad():
        logits = cnn(torch.tensor(batch))
    assert np.array_equal(res.target_class, logits.argmax(1).numpy())
    assert np.allclose(res.scores, logits.max(1).values.numpy(), atol=1e-5)
    assert np.abs(res.values).sum() > 0


def test_integrated_gradients_add_up_to_score_difference(cnn, digits):
    x, _ = digits
    batch = x[10:20]
    res = saliency(cnn, batch, target_class=None, method="integrated_gradients", steps=64,
                   value_range=(0.0, 1.0))
    with torch.no_grad():
        base = cnn(torch.zeros(1, 1, 8, 8))[0, torch.tensor(res.target_class)].numpy()
    total = res.values.reshape(10, -1).sum(axis=1)
    assert np.allclose(total, res.scores - base, rtol=0.03, atol=0.1)


def test_saliency_of_single_logit_model_flips_sign_for_class_zero():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1))
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    one = saliency(model, x, 1)
    zero = saliency(model, x, 0)
    assert np.allclose(one.values, -zero.values)
    assert np.allclose(one.scores, -zero.scores)


def test_saliency_restores_mode_and_cancels(cnn, digits):
    x, _ = digits
    cnn.train()
    seen: list[float] = []
    saliency(cnn, x[:4], method="smoothgrad", samples=6, progress=seen.append)
    assert cnn.training and all(m.training for m in cnn.modules())
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        saliency(cnn, x[:4], method="integrated_gradients", cancel=lambda: True)
    assert cnn.training
    cnn.eval()
    with pytest.raises(ValueError, match="unknown saliency method 'lime'"):
        saliency(cnn, x[:4], method="lime")


# --------------------------------------------------------------------------- act. max


def test_activation_maximization_raises_channel_activations(cnn):
    res = activation_maximization(cnn, "relu2", None, input_shape=(1, 8, 8), steps=120, seed=0)
    assert res.images.shape == (32, 1, 8, 8) and res.channels == list(range(32))
    assert res.images.min() >= 0.0 and res.images.max() <= 1.0
    live = res.end_activation > 0
    assert live.sum() >= 16  # some ReLU channels of a small, briefly trained net are dead
    # every live channel rises, typically several times over the starting noise (the input
    # range bounds a channel's mean, so strongly excited channels cannot rise further) ...
    assert (res.end_activation[live] > res.start_activation[live]).all()
    assert np.median(res.gain[live]) >= 2.5
    # ... and the channels that the noise barely touches rise many-fold
    faint = live & (res.start_activation < 0.2)
    assert faint.sum() >= 5 and np.median(res.gain[faint]) >= 5


def test_activation_maximization_of_class_units_draws_the_class(cnn):
    """Maximising logit k yields an input the network reads as k, from faint noise."""
    res = activation_maximization(cnn, cnn.logits, channel=None, input_shape=(1, 8, 8),
                                  steps=120, seed=1)
    assert res.layer == "logits" and res.channels == list(range(10))
    rise = res.end_activation - res.start_activation
    assert (res.start_activation < 2).all() and (res.end_activation > 5).all()
    assert (rise > 3).all() and np.median(rise) > 8
    with torch.no_grad():
        pred = cnn(torch.tensor(res.images)).argmax(1).numpy()
    assert (pred == np.arange(10)).sum() >= 9


def test_activation_maximization_single_channel_and_errors(cnn):
    cnn.train()
    one = activation_maximization(cnn, "conv2", channel=5, input_shape=(1, 8, 8), steps=30,
                                  blur=0.0, jitter=0)
    assert cnn.training and one.images.shape == (1, 1, 8, 8) and one.channels == [5]
    assert one.end_activation[0] > one.start_activation[0]
    cnn.eval()
    with pytest.raises(ValueError, match="'conv9' is not in the model; pick one of: conv1, relu1"):
        activation_maximization(cnn, "conv9")
    with pytest.raises(ValueError, match="layer 'conv2' has 32 channels; channel 40"):
        activation_maximization(cnn, "conv2", channel=40, steps=2)
    with pytest.raises(Cancelled):
        activation_maximization(cnn, "conv2", steps=10, cancel=lambda: True)
    assert not [h for m in cnn.modules() for h in m._forward_hooks.values()]


def test_image_grid_tiles_with_nan_padding():
    imgs = np.random.default_rng(0).random((5, 1, 4, 3)).astype(np.float32)
    grid = image_grid(imgs)
    assert grid.shape == (2 * 4 + 1, 3 * 3 + 2)
    assert np.isnan(grid[4]).all() and np.isnan(grid[:, 3]).all()
    assert np.nanmin(grid) == 0.0 and np.nanmax(grid) == 1.0
    assert np.isnan(grid[5:, 8:]).all()  # the sixth tile is empty
    rgb = image_grid(np.zeros((2, 3, 2, 2)), cols=2, pad=0)
    assert rgb.shape == (2, 4, 3) and (rgb == 0).all()
