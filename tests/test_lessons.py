"""Lessons: the shipped files load and name real things, each check kind ticks on the right
state only, progress moves as the learner acts, and the XOR lesson is completed by a scripted
learner that edits the graph and trains."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from graph import catalog
from graph.lesson_checks import CHECKS, LessonState, holds
from graph.lessons import LessonError, LessonProgress, load_lesson, load_lessons
from graph.model import Edge, Graph
from graph.project import load_project
from graph.settings import DATASET_FIELDS, TRAINING_OPTIONS, TrainingSettings

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "resources" / "lessons"
EXAMPLES = ROOT / "resources" / "examples"


def test_every_shipped_lesson_loads_in_order():
    lessons, errors = load_lessons(LESSONS)
    assert errors == []
    assert len(lessons) >= 12
    assert [lesson.order for lesson in lessons] == sorted({lesson.order for lesson in lessons})
    assert lessons[0].id == "perceptron_xor"
    assert {"perceptron_xor", "hidden_space", "regression", "cnn_filters", "residual",
            "lstm_forecast", "bidirectional", "attention_positions", "anomaly_threshold",
            "gan_modes", "fewshot_transfer", "adversarial"} <= {lesson.id for lesson in lessons}


def _checks(check: dict[str, Any]) -> list[dict[str, Any]]:
    return [check] + [c for sub in check.get("checks", []) for c in _checks(sub)]


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize("path", sorted(LESSONS.glob("*.json")), ids=lambda p: p.stem)
def test_lessons_name_what_their_template_has(path):
    """Every node, layer type, parameter, setting and panel a lesson names exists, so a
    renamed node in a template cannot leave a step that never ticks."""
    from gui.panels.registry import FIXED_RANKS, PANELS

    panel_keys = {p.key for p in PANELS} | set(FIXED_RANKS)
    lesson = load_lesson(path)
    project = load_project(EXAMPLES / f"{lesson.template}.plexus")
    nodes = {n.name: n for n in project.graph.nodes.values()}
    settings = {f"training.{f.name}" for f in dataclasses.fields(TrainingSettings)} | {
        f"training.options.{name}" for name in TRAINING_OPTIONS} | {
        f"dataset.{name}" for name in DATASET_FIELDS}
    for step in lesson.steps:
        if "node" in step.highlight:
            assert step.highlight["node"] in nodes, (path.name, step.title)
        if "panel" in step.highlight:
            assert step.highlight["panel"] in panel_keys, (path.name, step.title)
        for check in _checks(dict(step.check)):
            for key in ("layer", "after", "before"):
                for name in _names(check.get(key, [])):
                    assert name in nodes or catalog.get(name) is not None, (path.name, name)
            if "param" in check or "params" in check:
                wanted = [check["param"]] if "param" in check else list(check["params"])
                types = {nodes[n].type if n in nodes else n for n in _names(check["layer"])}
                for layer_type in types:
                    declared = {p.name for p in catalog.spec(layer_type).params}
                    assert set(wanted) <= declared, (path.name, layer_type, wanted)
            if check["kind"] == "panel_visible":
                assert check["panel"] in panel_keys
            for key in ("setting", "differ_in"):
                if key in check:
                    assert check[key] in settings, (path.name, check)


def _xor_graph(hidden: bool) -> Graph:
    graph = Graph()
    source = graph.add_node("Input", {"shape": [2]}, name="input")
    last = source
    if hidden:
        layer = graph.add_node("Linear", {"out_features": 2}, name="hidden1")
        act = graph.add_node("Tanh", name="act1")
        graph.connect(Edge(last.id, "out", layer.id, "in"))
        graph.connect(Edge(layer.id, "out", act.id, "in"))
        last = act
    logits = graph.add_node("Linear", {"out_features": 1}, name="logits")
    out = graph.add_node("Output", {"task": "classification"}, name="output")
    graph.connect(Edge(last.id, "out", logits.id, "in"))
    graph.connect(Edge(logits.id, "out", out.id, "in"))
    return graph


def _run(status: str = "completed", settings: dict[str, Any] | None = None,
         **last_epoch: float) -> dict[str, Any]:
    return {"status": status, "epochs": [{"epoch": 1, **last_epoch}],
            "settings": settings or {}}


PLAIN, HIDDEN = _xor_graph(False), _xor_graph(True)

# kind -> (check, a state where it holds, a state where it does not)
CASES: dict[str, tuple[dict[str, Any], LessonState, LessonState]] = {
    "layer_between": (
        {"kind": "layer_between", "layer": "Linear", "after": "Input", "before": "Output",
         "count": 2, "params": {"out_features": {"at_least": 1}}},
        LessonState(HIDDEN), LessonState(PLAIN)),
    "layer_count": ({"kind": "layer_count", "layer": "Tanh", "equals": 1},
                    LessonState(HIDDEN), LessonState(PLAIN)),
    "param": ({"kind": "param", "layer": "hidden1", "param": "out_features", "at_least": 2},
              LessonState(HIDDEN), LessonState(PLAIN)),
    "setting": ({"kind": "setting", "setting": "training.lr", "below": 0.1},
                LessonState(PLAIN, settings={"training": {"lr": 0.01}}),
                LessonState(PLAIN, settings={"training": {"lr": 0.5}})),
    "trained": ({"kind": "trained", "runs": 2},
                LessonState(PLAIN, runs=[_run(), _run("stopped early")]),
                LessonState(PLAIN, runs=[_run(), _run("failed")])),
    "metric": ({"kind": "metric", "metric": "val_mse",
                "below": {"metric": "val_baseline_mse"}},
               LessonState(PLAIN, runs=[_run(val_mse=0.1, val_baseline_mse=0.7)]),
               LessonState(PLAIN, runs=[_run(val_mse=0.1, val_baseline_mse=0.7)],
                           live_epochs=[{"val_mse": 0.9, "val_baseline_mse": 0.7}])),
    "frozen": ({"kind": "frozen", "layer": ["hidden1", "logits"]},
               LessonState(_xor_graph(True)), LessonState(HIDDEN)),
    "panel_visible": ({"kind": "panel_visible", "panel": "filters"},
                      LessonState(PLAIN, visible_panels=frozenset({"metrics", "filters"})),
                      LessonState(PLAIN, visible_panels=frozenset({"metrics"}))),
    "attack": ({"kind": "attack", "max_eps": 0.15},
               LessonState(PLAIN, attacks=[{"attack": "fgsm", "eps": 0.3, "flipped": True},
                                           {"attack": "fgsm", "eps": 0.1, "flipped": True}]),
               LessonState(PLAIN, attacks=[{"attack": "fgsm", "eps": 0.3, "flipped": True},
                                           {"attack": "fgsm", "eps": 0.1, "flipped": False}])),
    "runs_compared": ({"kind": "runs_compared", "differ_in": "training.lr"},
                      LessonState(PLAIN, runs=[_run(settings={"training": {"lr": 0.1}}),
                                               _run(settings={"training": {"lr": 0.001}})]),
                      LessonState(PLAIN, runs=[_run(settings={"training": {"lr": 0.1}}),
                                               _run(settings={"training": {"lr": 0.1}})])),
    "all": ({"kind": "all", "checks": [{"kind": "layer_count", "layer": "Tanh", "at_least": 1},
                                       {"kind": "trained"}]},
            LessonState(HIDDEN, runs=[_run()]), LessonState(HIDDEN)),
    "any": ({"kind": "any", "checks": [{"kind": "layer_count", "layer": "Tanh", "at_least": 1},
                                       {"kind": "trained"}]},
            LessonState(PLAIN, runs=[_run()]), LessonState(PLAIN)),
}
for node in CASES["frozen"][1].graph.nodes.values():
    node.frozen = node.name in ("hidden1", "logits")


def test_every_check_kind_has_a_case():
    assert set(CASES) == set(CHECKS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_check_ticks_on_the_right_state_only(kind):
    check, right, wrong = CASES[kind]
    assert holds(check, right) is True
    assert holds(check, wrong) is False


def test_metric_any_run_reads_every_epoch():
    state = LessonState(PLAIN, runs=[{"status": "completed", "epochs": [
        {"modes_covered": 8}, {"modes_covered": 3}]}])
    assert holds({"kind": "metric", "metric": "modes_covered", "at_least": 7, "run": "any"},
                 state)
    assert not holds({"kind": "metric", "metric": "modes_covered", "at_least": 7}, state)


def test_text_parameter_compared_with_a_number_is_simply_false():
    check = {"kind": "param", "layer": "Output", "param": "task", "at_least": 2}
    assert holds(check, LessonState(PLAIN)) is False


def _write(tmp_path: Path, data: Any, name: str = "broken") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def _lesson(**changes: Any) -> dict[str, Any]:
    data = {"format": 1, "id": "broken", "title": "T", "order": 1, "template": "xor_mlp",
            "summary": "S", "steps": [{"title": "t", "text": "x", "action": "a",
                                       "check": {"kind": "trained"}}]}
    data.update(changes)
    return data


@pytest.mark.parametrize("data, message", [
    ("{not json", "broken.json: not a JSON lesson file"),
    (_lesson(format=2), "broken.json: 'format' must be 1"),
    (_lesson(id="other"), "'id' is 'other' but the file is named 'broken'"),
    (_lesson(steps=[]), "'steps' is a list of 1 to 40 steps"),
    (_lesson(script="import os"), "broken.json: unknown field 'script'"),
    (_lesson(steps=[{"title": "t", "text": "x", "action": "a",
                     "check": {"kind": "python", "code": "1"}}]),
     "broken.json: steps[0].check: unknown check kind 'python'; use one of all, any,"),
    (_lesson(steps=[{"title": "t", "text": "x", "action": "a",
                     "check": {"kind": "metric", "metric": "val_accuracy", "atleast": 1}}]),
     "steps[0].check: check 'metric' has no field 'atleast'; it takes above, at_least,"),
    (_lesson(steps=[{"title": "t", "text": "x", "action": "a",
                     "check": {"kind": "all", "checks": [{"kind": "param", "layer": "x"}]}}]),
     "steps[0].check.checks[0]: check 'param' needs the field 'param'"),
    (_lesson(steps=[{"title": "t", "text": "x", "action": "a", "check": {"kind": "trained"},
                     "highlight": {"pixel": "3"}}]),
     "steps[0]: 'highlight' maps node, panel, widget to a name"),
    (_lesson(title=""), "broken.json: 'title' is required text"),
])
def test_malformed_lessons_name_the_file_and_field(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(LessonError) as caught:
        load_lesson(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_broken_lesson_does_not_hide_the_others(tmp_path):
    _write(tmp_path, _lesson(), "broken")
    _write(tmp_path, _lesson(id="good", title="Good"), "good")
    _write(tmp_path, _lesson(format=9), "worse")
    lessons, errors = load_lessons(tmp_path)
    assert [lesson.id for lesson in lessons] == ["good", "broken"]  # same order: by title
    assert errors == ["worse.json: 'format' must be 1"]


def test_progress_ticks_skips_goes_back_and_resets():
    lesson = load_lesson(LESSONS / "perceptron_xor.json")
    progress = LessonProgress(lesson)
    state = LessonState(PLAIN)
    assert progress.update(state) is False and progress.current == 0
    assert progress.update(LessonState(PLAIN, runs=[_run()])) is True
    assert progress.done == {0} and progress.current == 1
    progress.skip()
    assert progress.current == 2 and progress.done == {0}
    progress.back()
    assert progress.current == 1
    saved = progress.to_json()
    again = LessonProgress.from_json(lesson, json.loads(json.dumps(saved)))
    assert again.current == 1 and again.done == {0}
    assert LessonProgress.from_json(lesson, {"done": "x"}).done == set()
    progress.reset()
    assert progress.current == 0 and progress.done == set() and not progress.finished


@pytest.mark.slow
def test_a_scripted_learner_completes_the_xor_lesson():
    """Train the perceptron (it fails), open the boundary, add a hidden layer as the lesson
    says, train again: every step ticks, in order, from real training runs."""
    from runtime.session import run_training

    lesson = load_lesson(LESSONS / "perceptron_xor.json")
    project = load_project(EXAMPLES / f"{lesson.template}.plexus")
    progress = LessonProgress(lesson)
    runs: list[dict[str, Any]] = []
    panels: set[str] = {"metrics"}

    def state() -> LessonState:
        return LessonState(project.graph, {"training": dataclasses.asdict(project.training)},
                           runs=runs, visible_panels=frozenset(panels))

    run_training(project)
    runs.append(project.history[-1])
    assert runs[-1]["epochs"][-1]["val_accuracy"] < 0.95  # one line cannot separate XOR
    assert progress.update(state()) and progress.current == 1
    assert not progress.update(state())  # the boundary is not open yet
    panels.add("boundary")
    assert progress.update(state()) and progress.current == 2

    graph = project.graph
    source, logits = graph.node_by_name("input"), graph.node_by_name("logits")
    graph.disconnect(graph.edge_into(logits.id, "in"))
    hidden = graph.add_node("Linear", {"out_features": 2}, name="hidden1")
    assert not progress.update(state())  # a dangling Linear is not yet between them
    act = graph.add_node("Tanh", name="act1")
    graph.connect(Edge(source.id, "out", hidden.id, "in"))
    graph.connect(Edge(hidden.id, "out", act.id, "in"))
    graph.connect(Edge(act.id, "out", logits.id, "in"))
    assert progress.update(state()) and progress.current == 3

    project.weights = None  # the graph changed: train from fresh weights
    run_training(project)
    runs.append(project.history[-1])
    assert progress.update(state())
    assert progress.finished
