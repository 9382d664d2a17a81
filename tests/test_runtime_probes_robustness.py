"""The robustness probe: clean and attacked accuracy on a fixed validation subset at each epoch's
end, with a few adversarial examples, run from the probe schedule inside training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from resources.examples.make import digits_cnn, house_prices_mlp
from runtime.compile import node_state
from runtime.prepare import prepare
from runtime.probes.robustness import robustness
from runtime.probes.schedule import EPOCH_ONLY, PROBES, ProbeSchedule
from runtime.train import train


@pytest.fixture(scope="module")
def prepared(trained_digits):
    compiled, data = prepare(trained_digits)
    compiled.module.eval()
    return compiled, data


def run(prepared, **option):
    compiled, data = prepared
    schedule = ProbeSchedule(compiled, data, {"robustness": option or True})
    payload = schedule.run("robustness")
    assert payload is not None and "error" not in payload, payload
    return payload, schedule


def test_fgsm_probe_reports_robust_at_most_clean_with_examples(prepared):
    payload, schedule = run(prepared, method="fgsm", eps=0.1, samples=64)
    assert payload["probe"] == "robustness" and payload["method"] == "fgsm"
    assert payload["eps"] == 0.1 and payload["n"] == 64
    assert payload["clean_accuracy"] > 0.85
    assert payload["robust_accuracy"] <= payload["clean_accuracy"] - 0.1
    ex = payload["examples"]
    for key in ("inputs", "perturbation", "adversarial"):
        assert ex[key].shape == (4, 1, 8, 8) and ex[key].dtype == np.float32
    assert np.abs(ex["perturbation"]).max() <= 0.1 + 1e-6
    assert ex["adversarial"].min() >= 0.0 and ex["adversarial"].max() <= 1.0
    assert np.allclose(ex["inputs"] + ex["perturbation"], ex["adversarial"], atol=1e-6)
    assert len(ex["clean_pred"]) == len(ex["adv_pred"]) == len(ex["adv_conf"]) == 4
    assert all(0.0 <= c <= 1.0 for c in ex["adv_conf"])
    assert payload["class_names"][:3] == ["0", "1", "2"]
    assert payload["seconds"] > 0 and schedule.costs["robustness"] > 0


def test_pgd_is_at_least_as_strong_and_eps_zero_changes_nothing(prepared):
    fgsm_payload, _ = run(prepared, method="fgsm", eps=0.1, samples=64)
    pgd_payload, _ = run(prepared, method="pgd", eps=0.1, samples=64, steps=10)
    assert pgd_payload["steps"] == 10
    assert pgd_payload["robust_accuracy"] <= fgsm_payload["robust_accuracy"]
    assert pgd_payload["clean_accuracy"] == fgsm_payload["clean_accuracy"]  # same subset
    zero, _ = run(prepared, method="pgd", eps=0.0, samples=32)
    assert zero["robust_accuracy"] == zero["clean_accuracy"]
    assert not zero["examples"]["perturbation"].any()


def test_defaults_are_a_tenth_of_the_range_on_64_samples(prepared):
    payload, _ = run(prepared)
    assert payload["method"] == "fgsm" and payload["eps"] == pytest.approx(0.1)
    assert payload["n"] == 64 and len(payload["examples"]["inputs"]) == 4


def test_a_range_the_user_set_bounds_the_adversarial_inputs(prepared):
    """The Adversarial panel's Range travels in the probe's option."""
    payload, _ = run(prepared, method="fgsm", eps=0.1, samples=32, value_range=[-0.05, 1.0])
    assert payload["value_range"] == [-0.05, 1.0]
    adversarial = payload["examples"]["adversarial"]
    assert adversarial.min() == pytest.approx(-0.05)  # black pixels pushed below 0, to the end


def test_direct_call_and_subset_reuse(prepared):
    compiled, data = prepared
    payload = robustness(compiled, data, "fgsm", 0.05, samples=20, examples=2)
    assert payload["n"] == 20 and len(payload["examples"]["adv_pred"]) == 2
    _, schedule = run(prepared, samples=20)
    first = schedule._robust_subset[1]
    schedule.run("robustness")
    assert schedule._robust_subset[1] is first  # the same samples every epoch


def test_errors_are_one_line_messages(prepared):
    compiled, data = prepared
    schedule = ProbeSchedule(compiled, data, {"robustness": {"method": "cw"}})
    assert "fgsm, pgd" in schedule.run("robustness")["error"]
    schedule.configure({"robustness": {"eps": -1.0}})
    assert "0 or more" in schedule.run("robustness")["error"]
    compiled_r, data_r = prepare(house_prices_mlp())
    regression = ProbeSchedule(compiled_r, data_r, {"robustness": True})
    assert "classification" in regression.run("robustness")["error"]
    with pytest.raises(ValueError, match="unknown probe"):
        ProbeSchedule(compiled, data, {"robustnes": True})


def test_runs_at_epoch_ends_only_and_leaves_seeded_training_unchanged():
    assert "robustness" in PROBES and "robustness" in EPOCH_ONLY

    def fit(probe: bool):
        project = digits_cnn()
        settings = dataclasses.replace(project.training, epochs=2, lr=0.01, batch_size=64)
        compiled, data = prepare(project)
        events: list[dict] = []
        schedule = ProbeSchedule(compiled, data, {
            "robustness": {"method": "pgd", "eps": 0.1, "samples": 32, "steps": 3},
            "histograms": True} if probe else {})
        train(compiled, data, settings, callback=lambda e: events.append(e.record()),
              step_hooks=[schedule.step_hook(min_interval=0.0, budget=1.0)],
              epoch_end_hooks=schedule.epoch_hooks())
        return node_state(compiled), [e for e in events if e["type"] == "probe"]

    plain, none = fit(False)
    probed, events = fit(True)
    assert not none
    robust = [e for e in events if e.get("probe") == "robustness"]
    assert [e["epoch"] for e in robust] == [1, 2]
    assert all(e["robust_accuracy"] <= e["clean_accuracy"] for e in robust)
    batches = [e for e in events if e.get("probe") == "batch"]
    assert batches  # the step hook ran the cheap probe ...
    assert all(r["probe"] != "robustness" for e in batches for r in e["results"])  # ... only
    assert plain.keys() == probed.keys()
    assert all(torch.equal(plain[k], probed[k]) for k in plain)
