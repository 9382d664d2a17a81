"""The shipped examples: in sync with their builders, valid, and reaching their targets."""

from __future__ import annotations

import pytest

from graph.project import load_project, project_to_json
from resources.examples import make
from runtime.data import load_dataset
from runtime.shapes import analyze


def _comparable(project) -> dict:
    data = project_to_json(project)
    data.pop("metadata", None)
    return data


@pytest.mark.parametrize("name", sorted(make.EXAMPLES))
def test_committed_example_matches_its_builder(name):
    assert make.path(name).exists(), f"run `make examples` to write {name}.plexus"
    assert _comparable(load_project(make.path(name))) == _comparable(make.build(name))


@pytest.mark.parametrize("name", sorted(make.EXAMPLES))
def test_example_is_valid_and_fits_its_data(name):
    project = make.build(name)
    assert project.description
    analysis = analyze(project.graph)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    data = load_dataset(project.dataset)
    if project.training.options.get("mode") == "gan":  # two networks (runtime.gan)
        from runtime.gan_networks import compile_gan, sample_shape

        assert sample_shape(compile_gan(project)[1]) == tuple(data.input_shape)
        return
    (input_node,) = project.graph.nodes_of_type("Input")
    assert tuple(input_node.params["shape"]) == tuple(data.input_shape)




def test_xor_mlp_solves_xor(train_example):
    assert train_example("xor_mlp").best["val_accuracy"] == 1.0


def test_perceptron_cannot_solve_xor(train_example):
    assert train_example("perceptron_xor").best["val_accuracy"] <= 0.75


@pytest.mark.slow
def test_spirals_mlp_separates_the_spirals(train_example):
    assert train_example("spirals_mlp").best["val_accuracy"] >= 0.98


@pytest.mark.slow
def test_house_prices_mlp_regresses(train_example):
    assert train_example("house_prices_mlp").best["val_r2"] >= 0.9


@pytest.mark.slow
def test_digits_cnn_reads_digits(train_example):
    assert train_example("digits_cnn").best["val_accuracy"] >= 0.97
