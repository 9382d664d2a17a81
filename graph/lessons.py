"""Lessons: guided walkthroughs kept as data.

A lesson is one JSON file (read with ``json``, never executed): the template it opens and a
short sequence of steps, each with an explanation, an action for the learner, a check from
``graph.lesson_checks`` and optionally what to highlight. ``LessonProgress`` moves through the
steps as the checks hold; the editor feeds it the project and the run's events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.lesson_checks import CheckError, LessonState, holds, validate_check

LESSON_FORMAT = 1
MAX_FILE_BYTES = 256 * 1024  # a lesson is a few screens of text
MAX_STEPS = 40
MAX_TEXT = 4000  # characters of one step's explanation
HIGHLIGHTS = ("node", "panel", "widget")  # what a step may point at


class LessonError(ValueError):
    """A lesson file is unreadable or malformed; the message names the file and field."""


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    action: str
    check: Mapping[str, Any]
    highlight: Mapping[str, str] = field(default_factory=dict)  # {"node": "hidden1"}, ...
    hint: str = ""  # shown when the learner asks, or after a wrong try


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    order: int
    template: str  # the example project the lesson opens
    summary: str
    steps: tuple[Step, ...]


def load_lesson(path: str | os.PathLike[str]) -> Lesson:
    """Read and check one lesson file; LessonError names the file and the field at fault."""
    path = Path(path)
    where = path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise LessonError(f"{where}: a lesson file is at most {MAX_FILE_BYTES // 1024} KB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LessonError(f"{where}: cannot read the lesson ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LessonError(f"{where}: not a JSON lesson file ({exc})") from None
    return lesson_from_json(data, where, path.stem)


def lesson_from_json(data: Any, where: str, expected_id: str | None = None) -> Lesson:
    """The Lesson a parsed lesson file describes."""
    if not isinstance(data, dict):
        raise LessonError(f"{where}: a lesson file holds one JSON object")
    if data.get("format") != LESSON_FORMAT:
        raise LessonError(f"{where}: 'format' must be {LESSON_FORMAT}")
    known = {"format", "id", "title", "order", "template", "summary", "steps"}
    for name in data:
        if name not in known:
            raise LessonError(f"{where}: unknown field {name!r}")
    lesson_id = _text(data, "id", where, 80)
    if expected_id is not None and lesson_id != expected_id:
        raise LessonError(f"{where}: 'id' is {lesson_id!r} but the file is named "
                          f"{expected_id!r}; name the file after the lesson's id")
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise LessonError(f"{where}: 'steps' is a list of 1 to {MAX_STEPS} steps")
    order = data.get("order")
    if not isinstance(order, int) or isinstance(order, bool):
        raise LessonError(f"{where}: 'order' is a whole number (lessons are listed by it)")
    return Lesson(id=lesson_id, title=_text(data, "title", where, 120), order=order,
                  template=_text(data, "template", where, 80),
                  summary=_text(data, "summary", where, MAX_TEXT),
                  steps=tuple(_step(raw, f"{where}: steps[{i}]") for i, raw in enumerate(steps)))


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise LessonError(f"{where}: a step is an object")
    known = {"title", "text", "action", "check", "highlight", "hint"}
    for name in raw:
        if name not in known:
            raise LessonError(f"{where}: unknown field {name!r}")
    try:
        validate_check(raw.get("check"), f"{where}.check")
    except CheckError as exc:
        raise LessonError(str(exc)) from None
    highlight = raw.get("highlight", {})
    if not isinstance(highlight, dict) or any(
            k not in HIGHLIGHTS or not isinstance(v, str) for k, v in highlight.items()):
        raise LessonError(f"{where}: 'highlight' maps {', '.join(HIGHLIGHTS)} to a name")
    return Step(title=_text(raw, "title", where, 120), text=_text(raw, "text", where, MAX_TEXT),
                action=_text(raw, "action", where, MAX_TEXT), check=raw["check"],
                highlight=highlight, hint=_text(raw, "hint", where, MAX_TEXT, required=False))


def _text(data: dict[str, Any], name: str, where: str, limit: int, required: bool = True
          ) -> str:
    value = data.get(name, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise LessonError(f"{where}: {name!r} is required text")
    if len(value) > limit:
        raise LessonError(f"{where}: {name!r} is at most {limit} characters")
    return value


def load_lessons(folder: str | os.PathLike[str]) -> tuple[list[Lesson], list[str]]:
    """Every lesson in ``folder`` in order, and one error line per file that did not load (a
    broken lesson never hides the others)."""
    lessons, errors = [], []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            lessons.append(load_lesson(path))
        except LessonError as exc:
            errors.append(str(exc))
    lessons.sort(key=lambda lesson: (lesson.order, lesson.title))
    return lessons, errors


class LessonProgress:
    """Where a learner is in a lesson: the current step and the steps ticked.

    ``update`` ticks the current step when its check holds and moves on; the learner can also
    skip a step, go back, or start again.
    """

    def __init__(self, lesson: Lesson, done: set[int] | None = None, current: int = 0) -> None:
        self.lesson = lesson
        self.done: set[int] = {i for i in (done or set()) if 0 <= i < len(lesson.steps)}
        self.current = min(max(current, 0), len(lesson.steps) - 1)

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.current]

    @property
    def finished(self) -> bool:
        return len(self.done) == len(self.lesson.steps)

    def update(self, state: LessonState) -> bool:
        """Tick the current step if its check now holds, and go to the next unticked one.
        Returns True when a step was ticked."""
        if self.current in self.done or not holds(self.step.check, state):
            return False
        self.done.add(self.current)
        self._next_open()
        return True

    def skip(self) -> None:
        """Leave the current step unticked and go on to the next one."""
        if self.current < len(self.lesson.steps) - 1:
            self.current += 1

    def back(self) -> None:
        if self.current > 0:
            self.current -= 1

    def reset(self) -> None:
        self.done.clear()
        self.current = 0

    def _next_open(self) -> None:
        for index in range(self.current + 1, len(self.lesson.steps)):
            if index not in self.done:
                self.current = index
                return

    def to_json(self) -> dict[str, Any]:
        """What the editor remembers between sessions."""
        return {"current": self.current, "done": sorted(self.done)}

    @classmethod
    def from_json(cls, lesson: Lesson, data: Any) -> LessonProgress:
        """Progress as remembered; anything malformed starts the lesson afresh."""
        if not isinstance(data, dict):
            return cls(lesson)
        done = data.get("done", [])
        current = data.get("current", 0)
        if not isinstance(done, list) or not all(isinstance(i, int) for i in done) \
                or not isinstance(current, int):
            return cls(lesson)
        return cls(lesson, set(done), current)
