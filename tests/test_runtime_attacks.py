"""Adversarial attacks: budgets, ranges and strength on the trained digits_cnn example."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from resources.examples.make import digits_cnn, house_prices_mlp
from runtime import session
from runtime.adversarial_training import adversarial_batch_hook
from runtime.attacks import attack_project, fgsm, pgd, robustness_curve
from runtime.evaluation import dataset_tensors
from runtime.patches import adversarial_patch, apply_patch, random_patch_success
from runtime.prepare import prepare
from runtime.progress import Cancelled

TOL = 1e-6  # float32 rounding of (x + eps) - x


def trained_digits(**options):
    """digits_cnn from the examples (graph API), trained briefly through the real trainer."""
    project = digits_cnn()
    project.training = dataclasses.replace(
        project.training, lr=0.01, batch_size=64, epochs=8, options=dict(options))
    result = session.run_training(project)
    assert result.status == "completed", result.message
    return project


@pytest.fixture(scope="module")
def project():
    return trained_digits()


@pytest.fixture(scope="module")
def prepared(project):
    compiled, bundle = prepare(project)
    assert bundle.value_range == (0.0, 1.0) and bundle.input_shape == (1, 8, 8)
    return compiled, bundle


@pytest.fixture(scope="module")
def cnn(prepared):
    return prepared[0].module.eval()  # a fresh module is in train mode (dropout)


@pytest.fixture(scope="module")
def digits(prepared):
    """(x_train, y_train, x_val, y_val) as numpy: 8x8 digits in [0, 1], shape (N, 1, 8, 8)."""
    bundle = prepared[1]
    x, y = dataset_tensors(bundle.train)
    xv, yv = dataset_tensors(bundle.val)
    return x.numpy(), y.numpy(), xv.numpy(), yv.numpy()


# --------------------------------------------------------------------------- budgets


def test_fgsm_with_eps_zero_changes_nothing(cnn, digits):
    _, _, xv, yv = digits
    res = fgsm(cnn, xv, yv, 0.0, value_range=(0.0, 1.0))
    assert np.array_equal(res.x_adv, xv)
    assert not res.perturbation.any()
    assert np.array_equal(res.adv_pred, res.clean_pred)
    assert np.allclose(res.adv_conf, res.clean_conf)
    assert res.linf.max() == 0 and res.l2.max() == 0
    assert res.adversarial_accuracy == res.clean_accuracy > 0.95


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
@pytest.mark.parametrize("eps", [0.02, 0.1, 0.3, 0.8])
def test_perturbation_within_eps_and_inputs_in_range(cnn, digits, method, eps):
    _, _, xv, yv = digits
    x, y = xv[:64], yv[:64]
    if method == "fgsm":
        res = fgsm(cnn, x, y, eps, value_range=(0.0, 1.0))
    else:
        res = pgd(cnn, x, y, eps, steps=5, value_range=(0.0, 1.0), seed=1)
    assert res.x_adv.shape == x.shape and res.x_adv.dtype == np.float32
    assert np.abs(res.x_adv - x).max() <= eps + TOL
    assert res.linf.max() <= eps + TOL
    assert res.x_adv.min() >= 0.0 and res.x_adv.max() <= 1.0
    assert np.allclose(res.perturbation, res.x_adv - x)
    # norms are those of the perturbation, per sample
    flat = res.perturbation.reshape(len(x), -1)
    assert np.allclose(res.l2, np.linalg.norm(flat, axis=1), atol=1e-5)
    assert np.allclose(res.linf, np.abs(flat).max(axis=1))
    # digits have many pixels at 0 and 1: range clamping really bites there
    if eps >= 0.3:
        assert res.linf.max() > eps - 1e-3


@settings(max_examples=25, deadline=None)
@given(
    eps=st.floats(0.0, 2.0),
    lo=st.floats(-3.0, 0.0),
    width=st.floats(0.1, 4.0),
    steps=st.integers(1, 4),
    binary=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_budget_and_range_hold_for_any_model(eps, lo, width, steps, binary, seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1 if binary else 4))
    hi = lo + width
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, size=(16, 3)).astype(np.float32)
    y = rng.integers(0, 2 if binary else 4, size=16)
    for res in (
        fgsm(model, x, y, eps, value_range=(lo, hi)),
        pgd(model, x, y, eps, steps=steps, value_range=(lo, hi), seed=seed),
    ):
        assert np.abs(res.x_adv - x).max() <= eps + 1e-5
        assert res.x_adv.min() >= np.float32(lo) and res.x_adv.max() <= np.float32(hi)
        assert set(np.unique(res.adv_pred)) <= set(range(2 if binary else 4))
        assert ((res.adv_conf >= (0.5 if binary else 0.25) - 1e-6) & (res.adv_conf <= 1)).all()


def test_per_feature_value_range(cnn, digits):
    """Tabular data can give one range per feature; here a band that excludes the edges."""
    _, _, xv, yv = digits
    lo = np.full((1, 8, 8), 0.2, np.float32)
    hi = np.full((1, 8, 8), 0.8, np.float32)
    lo[0, :, :4] = 0.0
    x = np.clip(xv[:32], lo, hi)
    res = pgd(cnn, x, yv[:32], 0.3, steps=3, value_range=(lo, hi))
    assert (res.x_adv >= lo).all() and (res.x_adv <= hi).all()


# --------------------------------------------------------------------------- strength


def test_fgsm_cuts_accuracy_and_pgd_is_stronger(cnn, digits):
    _, _, xv, yv = digits
    f = fgsm(cnn, xv, yv, 0.1, value_range=(0.0, 1.0))
    p = pgd(cnn, xv, yv, 0.1, steps=10, value_range=(0.0, 1.0))
    assert f.clean_accuracy > 0.95
    assert f.clean_accuracy - f.adversarial_accuracy >= 0.30
    assert p.adversarial_accuracy <= f.adversarial_accuracy
    # success is "misclassified after the attack"
    assert np.array_equal(p.success, p.adv_pred != yv)
    # the attacked samples' confidence in their new label is reported per sample
    assert p.adv_conf.shape == (len(xv),) and (p.adv_conf > 0.1).all()


def test_robustness_curve_does_not_rise(cnn, digits):
    _, _, xv, yv = digits
    eps = [0.0, 0.05, 0.1, 0.15, 0.2]
    for method in ("fgsm", "pgd"):
        curve = robustness_curve(cnn, xv, yv, eps, method=method, steps=5)
        assert curve.eps == eps and curve.n == len(xv)
        acc, raw = curve.accuracy, curve.raw_accuracy
        assert acc[0] == raw[0] == curve.clean_accuracy > 0.95
        assert np.all(np.diff(acc) <= 0)
        assert np.all(np.diff(raw) <= 0)  # each eps attacked on its own, too
        assert acc[-1] < 0.5


def test_targeted_attack_reaches_target_on_most_samples(cnn, digits):
    _, _, xv, yv = digits
    keep = yv != 3
    x, y = xv[keep][:120], yv[keep][:120]
    res = pgd(cnn, x, y, 0.25, steps=20, targeted=True, target=3, value_range=(0.0, 1.0))
    assert res.targeted and (res.target == 3).all()
    assert np.array_equal(res.success, res.adv_pred == 3)
    assert res.success_rate > 0.6
    # one target per sample works too: the next class
    per = pgd(cnn, x, y, 0.25, steps=20, targeted=True, target=(y + 1) % 10)
    assert per.success_rate > 0.6


def test_binary_model_with_one_logit():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(400, 2)).astype(np.float32)
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        loss = nn.functional.binary_cross_entropy_with_logits(
            model(torch.tensor(x))[:, 0], torch.tensor(y, dtype=torch.float32))
        opt.zero_grad()
        loss.backward()
        opt.step()
    res = fgsm(model, x, y, 0.3, value_range=(-1.0, 1.0))
    assert res.clean_accuracy > 0.95
    assert res.adversarial_accuracy < res.clean_accuracy - 0.3
    assert ((res.clean_conf >= 0.5) & (res.clean_conf <= 1)).all()
    tgt = pgd(model, x[y == 0], y[y == 0], 0.5, targeted=True, target=1, value_range=(-1, 1))
    assert tgt.success_rate > 0.6


# --------------------------------------------------------------------------- patches


def test_apply_patch_places_patch_per_sample():
    x = torch.zeros(2, 1, 5, 5)
    patch = torch.arange(4.0).reshape(1, 2, 2) + 1
    out = apply_patch(x, patch, torch.tensor([[0, 0], [3, 2]]))
    assert torch.equal(out[0, 0, :2, :2], patch[0]) and out[0].sum() == patch.sum()
    assert torch.equal(out[1, 0, 3:5, 2:4], patch[0]) and out[1].sum() == patch.sum()
    assert x.sum() == 0  # input untouched


def test_patch_attack_beats_random_patch(cnn, digits):
    x, _, xv, yv = digits
    res = adversarial_patch(
        cnn, x, target_class=3, patch_size=4, steps=150, position="fixed", lr=0.1,
        value_range=(0.0, 1.0), seed=0, x_test=xv, y_test=yv,
    )
    baseline = random_patch_success(
        cnn, xv, 3, patch_size=4, position="fixed", value_range=(0.0, 1.0), y=yv)
    assert res.patch.shape == (1, 4, 4)
    assert res.patch.min() >= 0 and res.patch.max() <= 1
    assert res.n == int((yv != 3).sum())
    assert res.clean_target_rate < 0.05
    assert res.success_rate >= baseline + 0.5
    assert res.examples.shape[1:] == (1, 8, 8) and len(res.example_predictions) == len(
        res.examples)
    # the examples carry the patch at their positions (fixed: centred)
    assert (res.example_positions == 2).all()
    assert np.allclose(res.examples[:, :, 2:6, 2:6], res.patch)
    assert res.losses[-1] < res.losses[0]


# --------------------------------------------------------------------------- training


def test_batch_hook_mixes_share_and_keeps_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Dropout(0.5), nn.Linear(32, 10))
    model.train()
    model[2].eval()  # a sub-module in its own mode must stay so
    x = torch.rand(20, 1, 8, 8)
    y = torch.randint(0, 10, (20,))
    hook = adversarial_batch_hook({"adversarial": "pgd", "adv_eps": 0.1, "adv_share": 0.25},
                                  value_range=(0.0, 1.0))
    xa, ya = hook(model, x, y)
    assert model.training and model[1].training and not model[2].training
    assert all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())
    assert xa.shape == x.shape and torch.equal(ya, y)
    assert torch.equal(xa[5:], x[5:])
    assert not torch.equal(xa[:5], x[:5])
    assert (xa - x).abs().max() <= 0.1 + TOL and xa.min() >= 0 and xa.max() <= 1
    with pytest.raises(ValueError, match="'adversarial'"):
        adversarial_batch_hook({"adversarial": "cw"})
    with pytest.raises(ValueError, match="'adv_share'"):
        adversarial_batch_hook({"adversarial": "fgsm", "adv_share": 2})


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 8)
        self.kind = nn.Linear(8, 3)
        self.size = nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.trunk(x))
        return self.kind(h), self.size(h)


def test_batch_hook_attacks_the_trainers_multi_head_loss():
    """The trainer hands its own loss: raw tuple outputs, targets as a dict of heads."""
    torch.manual_seed(0)
    model = TwoHeads()
    x = torch.rand(10, 4)
    y = {"kind": torch.randint(0, 3, (10,)), "size": torch.rand(10, 1)}
    seen = []

    def loss_fn(outputs, targets):
        seen.append((len(outputs), {k: len(v) for k, v in targets.items()}))
        kind, size = outputs
        return (nn.functional.cross_entropy(kind, targets["kind"])
                + nn.functional.mse_loss(size, targets["size"]))

    hook = adversarial_batch_hook({"adversarial": "pgd", "adv_eps": 0.2, "adv_steps": 2},
                                  value_range=(0.0, 1.0), loss_fn=loss_fn)
    xa, ya = hook(model, x, y)
    assert seen == [(2, {"kind": 5, "size": 5})] * 2  # two PGD steps on the first half
    assert ya is y and torch.equal(xa[5:], x[5:]) and not torch.equal(xa[:5], x[:5])
    assert (xa - x).abs().max() <= 0.2 + TOL
    with pytest.raises(ValueError, match="one Input"):
        hook(model, (x, x), y)


@pytest.mark.slow
def test_adversarial_training_raises_pgd_accuracy(project):
    """The trainer mixes FGSM examples in when training options ask for it."""
    robust = trained_digits(adversarial="fgsm", adv_eps=0.1, adv_share=0.5)
    plain = attack_project(project, "pgd", 0.1, steps=10)
    hard = attack_project(robust, "pgd", 0.1, steps=10)
    assert hard.clean_accuracy > 0.95 and plain.clean_accuracy > 0.95
    assert hard.adversarial_accuracy >= plain.adversarial_accuracy + 0.1


def test_attack_project_reports_the_cli_keys(project, cnn, digits):
    _, _, xv, yv = digits
    out = attack_project(project, "fgsm", 0.1)
    assert {"method", "eps", "n", "clean_accuracy", "adversarial_accuracy"} <= set(
        dataclasses.asdict(out))
    direct = fgsm(cnn, xv, yv, 0.1)
    assert out.n == len(xv) == 360 and out.method == "fgsm" and out.eps == 0.1
    assert out.clean_accuracy == direct.clean_accuracy
    assert out.adversarial_accuracy == direct.adversarial_accuracy
    assert abs(out.mean_linf - 0.1) < 1e-5 and out.value_range == [0.0, 1.0]
    assert attack_project(project, "pgd", 0.05, steps=3, limit=50).n == 50
    with pytest.raises(ValueError, match="unknown attack method 'cw'"):
        attack_project(project, "cw", 0.1)
    with pytest.raises(ValueError, match="no trained weights; train it"):
        attack_project(digits_cnn(), "fgsm", 0.1)
    regression = house_prices_mlp()
    regression.weights = project.weights  # anything non-empty: the task check comes first
    with pytest.raises(ValueError, match="house_prices' is a regression task"):
        attack_project(regression, "fgsm", 0.1)


# --------------------------------------------------------------------------- control


def test_progress_and_cancel(cnn, digits):
    _, _, xv, yv = digits
    seen: list[float] = []
    pgd(cnn, xv[:40], yv[:40], 0.1, steps=4, batch_size=10, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 16
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    cnn.train()
    with pytest.raises(Cancelled):
        pgd(cnn, xv, yv, 0.1, steps=50, batch_size=10, cancel=cancel)
    assert len(calls) == 4 and cnn.training  # stopped early, mode restored
    cnn.eval()
    with pytest.raises(Cancelled):
        adversarial_patch(cnn, xv, 3, steps=100, cancel=lambda: True)


def test_bad_arguments_give_clear_errors(cnn, digits):
    _, _, xv, yv = digits
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(cnn, xv[:4], yv[:4], -0.1)
    with pytest.raises(ValueError, match="target"):
        fgsm(cnn, xv[:4], yv[:4], 0.1, targeted=True)
    with pytest.raises(ValueError, match="labels has 3 entries for 4 samples"):
        fgsm(cnn, xv[:4], yv[:3], 0.1)
    with pytest.raises(ValueError, match="image inputs"):
        adversarial_patch(cnn, xv[:, 0, 0], 3)
    with pytest.raises(ValueError, match="position 'corner'"):
        adversarial_patch(cnn, xv, 3, position="corner", steps=1)
