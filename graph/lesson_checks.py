"""The vocabulary a lesson step is checked with.

Each check kind is one declaration: the fields a lesson file may give it and a pure test over a
``LessonState`` (the project and what its runs reported: the same events the panels read).
Lesson files name checks from this table, so they are data, never code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.model import Graph, Node


class CheckError(ValueError):
    """A check in a lesson file is malformed; the message names the field."""


@dataclass(frozen=True)
class LessonState:
    """What the checks see.

    ``runs`` are the runs finished since the lesson (re)started, oldest first, as the project's
    history keeps them ({"epochs": [...], "status": ..., optionally "settings": {...}});
    ``live_epochs`` the epoch records of the run in progress; ``attacks`` the adversarial
    results the Lab reported ({"attack": "fgsm", "eps": 0.1, "flipped": True}).
    """

    graph: Graph
    settings: Mapping[str, Any] = field(default_factory=dict)  # {"training": {...}, ...}
    runs: Sequence[Mapping[str, Any]] = ()
    live_epochs: Sequence[Mapping[str, Any]] = ()
    visible_panels: frozenset[str] = frozenset()
    attacks: Sequence[Mapping[str, Any]] = ()

    def latest_epoch(self) -> Mapping[str, Any] | None:
        """The newest epoch record: of the run in progress, else of the last finished run."""
        if self.live_epochs:
            return self.live_epochs[-1]
        for run in reversed(self.runs):
            if run.get("epochs"):
                return run["epochs"][-1]
        return None


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "at_least": lambda a, b: a >= b,
    "at_most": lambda a, b: a <= b,
    "above": lambda a, b: a > b,
    "below": lambda a, b: a < b,
    "equals": lambda a, b: a == b,
}


@dataclass(frozen=True)
class CheckKind:
    """One word of the vocabulary: its required and optional fields (name -> accepted types)
    and its test. ``compares`` lets the fields in COMPARISONS be given."""

    test: Callable[[Mapping[str, Any], LessonState], bool]
    required: Mapping[str, tuple[type, ...]]
    optional: Mapping[str, tuple[type, ...]] = field(default_factory=dict)
    compares: bool = False
    describe: str = ""


NAMES = (str, list)  # a node type or name, or a list of them
NUMBER = (int, float)


def _matches(node: Node, names: str | list[str]) -> bool:
    wanted = [names] if isinstance(names, str) else names
    return node.type in wanted or node.name in wanted


def _compare(value: Any, spec: Mapping[str, Any], state: LessonState) -> bool:
    """True when ``value`` passes every comparison the spec gives; a comparison against
    {"metric": NAME} reads that metric of the same epoch. With no comparison, the value must
    exist."""
    if not any(word in spec for word in COMPARISONS):
        return value is not None
    for word, test in COMPARISONS.items():
        if word not in spec:
            continue
        other = spec[word]
        if isinstance(other, Mapping):
            epoch = state.latest_epoch() or {}
            other = epoch.get(other["metric"])
            if other is None:
                return False
        if value is None or isinstance(value, bool) != isinstance(other, bool):
            return False
        try:
            if not test(value, other):
                return False
        except TypeError:  # a text parameter compared with a number
            return False
    return True


def _layers_between(spec: Mapping[str, Any], state: LessonState) -> bool:
    graph = state.graph
    starts = [n.id for n in graph.nodes.values() if _matches(n, spec["after"])]
    ends = [n.id for n in graph.nodes.values() if _matches(n, spec["before"])]
    inside = (graph.reached_from(starts) & graph.leading_to(ends)) - set(starts) - set(ends)
    found = [graph.nodes[i] for i in inside if _matches(graph.nodes[i], spec["layer"])
             and _params_hold(graph.nodes[i], spec.get("params", {}), state)]
    return len(found) >= spec.get("count", 1)


def _params_hold(node: Node, params: Mapping[str, Any], state: LessonState) -> bool:
    return all(_compare(node.param(name), rule if isinstance(rule, Mapping)
                        else {"equals": rule}, state)
               for name, rule in params.items())


def _layer_count(spec: Mapping[str, Any], state: LessonState) -> bool:
    count = sum(1 for n in state.graph.nodes.values() if _matches(n, spec["layer"])
                and _params_hold(n, spec.get("params", {}), state))
    return _compare(count, spec, state)


def _param(spec: Mapping[str, Any], state: LessonState) -> bool:
    return any(_compare(n.param(spec["param"]), spec, state)
               for n in state.graph.nodes.values() if _matches(n, spec["layer"]))


def setting_value(settings: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path such as 'training.lr' or 'training.options.adversarial';
    None where the path leads nowhere."""
    value: Any = settings
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _setting(spec: Mapping[str, Any], state: LessonState) -> bool:
    return _compare(setting_value(state.settings, spec["setting"]), spec, state)


def _trained(spec: Mapping[str, Any], state: LessonState) -> bool:
    done = [r for r in state.runs if r.get("status") in ("completed", "stopped early")]
    return len(done) >= spec.get("runs", 1)


def _metric(spec: Mapping[str, Any], state: LessonState) -> bool:
    if spec.get("run", "latest") == "any":
        epochs = [e for r in state.runs for e in r.get("epochs", ())] + list(state.live_epochs)
        return any(_compare(e.get(spec["metric"]), spec, _at(state, e)) for e in epochs)
    epoch = state.latest_epoch()
    return epoch is not None and _compare(epoch.get(spec["metric"]), spec, state)


def _at(state: LessonState, epoch: Mapping[str, Any]) -> LessonState:
    """The state as if ``epoch`` were the newest, so {"metric": ...} reads the same epoch."""
    return LessonState(graph=state.graph, live_epochs=[epoch])


def _frozen(spec: Mapping[str, Any], state: LessonState) -> bool:
    nodes = [n for n in state.graph.nodes.values() if _matches(n, spec["layer"])]
    return bool(nodes) and all(n.frozen == spec.get("frozen", True) for n in nodes)


def _panel_visible(spec: Mapping[str, Any], state: LessonState) -> bool:
    return spec["panel"] in state.visible_panels


def _attack(spec: Mapping[str, Any], state: LessonState) -> bool:
    return any(a.get("flipped", False) == spec.get("flipped", True)
               and ("attack" not in spec or a.get("attack") == spec["attack"])
               and ("max_eps" not in spec or float(a.get("eps", 1e9)) <= spec["max_eps"])
               for a in state.attacks)


def _runs_compared(spec: Mapping[str, Any], state: LessonState) -> bool:
    runs = [r for r in state.runs if r.get("epochs")]
    if "differ_in" in spec:
        values = {repr(setting_value(r.get("settings", {}), spec["differ_in"])) for r in runs}
        values.discard("None")
        return len(values) >= spec.get("runs", 2)
    return len(runs) >= spec.get("runs", 2)


def _all(spec: Mapping[str, Any], state: LessonState) -> bool:
    return all(holds(check, state) for check in spec["checks"])


def _any(spec: Mapping[str, Any], state: LessonState) -> bool:
    return any(holds(check, state) for check in spec["checks"])


CHECKS: dict[str, CheckKind] = {
    "layer_between": CheckKind(
        _layers_between, {"layer": NAMES, "after": NAMES, "before": NAMES},
        {"count": (int,), "params": (dict,)},
        describe="a layer of this type on a path between two others"),
    "layer_count": CheckKind(_layer_count, {"layer": NAMES}, {"params": (dict,)}, True,
                             "how many layers of a type the graph has"),
    "param": CheckKind(_param, {"layer": NAMES, "param": (str,)}, compares=True,
                       describe="a layer's parameter"),
    "setting": CheckKind(_setting, {"setting": (str,)}, compares=True,
                         describe="a setting by its path, as 'training.lr'"),
    "trained": CheckKind(_trained, {}, {"runs": (int,)},
                         describe="runs finished since the lesson started"),
    "metric": CheckKind(_metric, {"metric": (str,)}, {"run": (str,)}, True,
                        "a metric of the newest epoch (or of any epoch, with run: any)"),
    "frozen": CheckKind(_frozen, {"layer": NAMES}, {"frozen": (bool,)},
                        describe="every layer named is frozen (or, with frozen: false, not)"),
    "panel_visible": CheckKind(_panel_visible, {"panel": (str,)},
                               describe="a panel is on screen"),
    "attack": CheckKind(_attack, {}, {"attack": (str,), "max_eps": NUMBER, "flipped": (bool,)},
                        describe="an adversarial attack result in the Lab"),
    "runs_compared": CheckKind(_runs_compared, {}, {"runs": (int,), "differ_in": (str,)},
                               describe="several runs, optionally differing in a setting"),
    "all": CheckKind(_all, {"checks": (list,)}, describe="every sub-check holds"),
    "any": CheckKind(_any, {"checks": (list,)}, describe="one sub-check holds"),
}


def holds(check: Mapping[str, Any], state: LessonState) -> bool:
    """Whether a (validated) check holds in ``state``."""
    return CHECKS[check["kind"]].test(check, state)


def validate_check(check: Any, where: str) -> None:
    """Raise CheckError naming ``where`` when ``check`` is not a well-formed check."""
    if not isinstance(check, Mapping) or not isinstance(check.get("kind"), str):
        raise CheckError(f"{where}: a check is an object with a 'kind'")
    kind = CHECKS.get(check["kind"])
    if kind is None:
        raise CheckError(f"{where}: unknown check kind {check['kind']!r}; use one of "
                         f"{', '.join(sorted(CHECKS))}")
    allowed = {"kind", *kind.required, *kind.optional, *(COMPARISONS if kind.compares else ())}
    for name in check:
        if name not in allowed:
            raise CheckError(f"{where}: check {check['kind']!r} has no field {name!r}; it "
                             f"takes {', '.join(sorted(allowed - {'kind'}))}")
    for name, types in {**kind.required, **kind.optional}.items():
        if name in kind.required and name not in check:
            raise CheckError(f"{where}: check {check['kind']!r} needs the field {name!r}")
        if name in check and (not isinstance(check[name], types)
                              or (isinstance(check[name], bool) and bool not in types)):
            raise CheckError(f"{where}: field {name!r} of check {check['kind']!r} has the "
                             f"wrong type")
    for word in COMPARISONS:
        if word in check:
            _validate_operand(check[word], f"{where}: field {word!r}")
    if "params" in check:
        for name, rule in check["params"].items():
            if isinstance(rule, Mapping):
                unknown = set(rule) - set(COMPARISONS)
                if unknown:
                    raise CheckError(f"{where}: params.{name} takes {', '.join(COMPARISONS)}")
    if check["kind"] in ("all", "any"):
        for index, sub in enumerate(check["checks"]):
            validate_check(sub, f"{where}.checks[{index}]")


def _validate_operand(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        if set(value) != {"metric"} or not isinstance(value["metric"], str):
            raise CheckError(f"{where}: compare with a number, a boolean or {{\"metric\": NAME}}")
    elif not isinstance(value, (int, float, bool, str)):
        raise CheckError(f"{where}: compare with a number, a boolean or {{\"metric\": NAME}}")
