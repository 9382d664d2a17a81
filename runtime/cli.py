"""Headless commands behind ``python main.py``: the same runtime functions the editor uses."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from graph.project import Project, ProjectError, load_project, save_project
from graph.validate import Diagnostic
from runtime.events import Batch, Epoch, Event, Notice, Started

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2


class CommandError(Exception):
    """A failure to report as one line on stderr, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def run(args: argparse.Namespace) -> int:
    """Dispatch a parsed command; every expected failure becomes one line on stderr."""
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "validate": cmd_validate, "info": cmd_info, "train": cmd_train,
        "attack": cmd_attack, "export": cmd_export, "import": cmd_import,
    }
    try:
        return commands[args.command](args)
    except CommandError as exc:
        print(f"plexus: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("plexus: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("plexus: out of memory; make the network, the batch or the data smaller",
              file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"plexus: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def open_project(path: str) -> Project:
    try:
        return load_project(path)
    except ProjectError as exc:
        raise CommandError(str(exc), EXIT_UNREADABLE) from None


def format_diagnostic(diagnostic: Diagnostic) -> str:
    return f"{diagnostic.severity}: {diagnostic.message}"


def cmd_validate(args: argparse.Namespace) -> int:
    from runtime.shapes import analyze
    from runtime.weights_check import check_weights

    project = open_project(args.file)
    analysis = analyze(project.graph)
    diagnostics = [*analysis.diagnostics,
                   *check_weights(project.graph, project.weights).diagnostics]
    for diagnostic in diagnostics:
        print(format_diagnostic(diagnostic))
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    name = Path(args.file).name
    if errors:
        print(f"{name}: invalid ({errors} error{'s' * (errors != 1)}, "
              f"{warnings} warning{'s' * (warnings != 1)})")
        return EXIT_FAILED
    print(f"{name}: valid ({warnings} warning{'s' * (warnings != 1)}), "
          f"{analysis.shapes.total_params:,} parameters")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from runtime.shape_text import format_shape
    from runtime.shapes import analyze
    from runtime.weights_check import check_weights

    project = open_project(args.file)
    graph = project.graph
    analysis = analyze(graph)
    shapes = analysis.shapes
    rows = [("Layer (type)", "Output shape", "Params")]
    order = _safe_order(project)
    for node_id in order:
        node = graph.nodes[node_id]
        outputs = shapes.outputs.get(node_id, {})
        shape = ", ".join(format_shape(s) for s in outputs.values()) or (
            "-" if node.type == "Output" else "?")
        if node.type == "Output":
            inbound = graph.in_edges(node_id)
            shape = format_shape(shapes.edges[inbound[0]]) if inbound and \
                inbound[0] in shapes.edges else shape
        rows.append((f"{node.name} ({node.type})", shape, f"{shapes.params.get(node_id, 0):,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{project.name}: {elided(project.description)}" if project.description
          else project.name)
    print()
    for index, row in enumerate(rows):
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")
        if index == 0:
            print("-" * (sum(widths) + 4))
    print("-" * (sum(widths) + 4))
    print(f"Total trainable parameters: {shapes.total_params:,}")
    weights = check_weights(graph, project.weights)
    trained = "no" if not project.weights else "yes" if not weights.fresh else \
        f"partly ({', '.join(weights.fresh)} start{'s' * (len(weights.fresh) == 1)} fresh)" \
        if weights.usable else "no (the weights are damaged; every layer starts fresh)"
    print(f"Dataset: {project.dataset.name}; trained: {trained}; runs: {len(project.history)}")
    for diagnostic in [*analysis.diagnostics, *weights.diagnostics]:
        print(format_diagnostic(diagnostic))
    return EXIT_OK if analysis.ok and not weights.diagnostics else EXIT_FAILED


def elided(text: str, most: int = 500) -> str:
    """``text`` cut to ``most`` characters, saying how many more there are (a description may
    be a megabyte long: ``info`` is a summary)."""
    if len(text) <= most:
        return text
    return f"{text[:most]}\u2026 ({len(text) - most:,} more characters)"


def _safe_order(project: Project) -> list[int]:
    try:
        return project.graph.topological_order()
    except Exception:
        return sorted(project.graph.nodes)


class ProgressPrinter:
    """Prints an epoch progress bar on a terminal and one line per epoch everywhere."""

    def __init__(self, stream: TextIO, metrics_file: TextIO | None) -> None:
        self.stream = stream
        self.metrics_file = metrics_file
        self.tty = stream.isatty()
        self.epochs = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            print(f"note: {event.message}", file=self.stream)
        elif isinstance(event, Started):
            self.epochs = event.epochs
            print(f"training on {event.device}: {event.epochs} epochs, "
                  f"{event.steps_per_epoch} steps each, {event.params:,} parameters",
                  file=self.stream)
            if event.accelerate:
                print(f"accelerate: {event.accelerate}", file=self.stream)
        elif isinstance(event, Batch) and self.tty:
            done = event.step / max(1, event.steps_per_epoch)
            bar = "=" * int(done * 24)
            self.stream.write(f"\repoch {event.epoch}/{self.epochs} [{bar:<24}] "
                              f"loss {event.loss:.4f}  {event.samples_per_s:,.0f} "
                              "samples/s")
            self.stream.flush()
        elif isinstance(event, Epoch):
            if self.tty:
                self.stream.write("\r" + " " * 78 + "\r")
            record = event.record()
            print(epoch_line(record, self.epochs), file=self.stream)
            if self.metrics_file:
                self.metrics_file.write(json.dumps(metrics_record(record)) + "\n")
                self.metrics_file.flush()


def metrics_record(record: dict[str, Any]) -> dict[str, Any]:
    """The JSONL object for one epoch: the documented keys plus any feature metrics."""
    return {k: v for k, v in record.items() if k != "type"}


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    """One line about an epoch (its record, as the history keeps it)."""
    if "d_loss" in record:  # a GAN epoch (runtime.gan): two losses, no validation
        from runtime.gan_samples import epoch_summary

        return f"epoch {record['epoch']}/{epochs}  {epoch_summary(record)}"
    parts = [f"epoch {record['epoch']}/{epochs}", f"train loss {record['train_loss']:.4f}",
             f"val loss {record['val_loss']:.4f}"]
    for key in ("val_accuracy", "val_r2"):
        if key in record:
            parts.append(f"{key.replace('_', ' ')} {record[key]:.4f}")
    parts.append(f"{record['seconds']:.1f} s")
    return "  ".join(parts)


def cmd_train(args: argparse.Namespace) -> int:
    from runtime.session import run_training

    project = open_project(args.file)
    output = training_output(args)
    metrics = open_metrics(args.metrics_jsonl)
    try:
        result = run_training(project, callback=ProgressPrinter(sys.stderr, metrics),
                              epochs=args.epochs, device=args.device)
    except (ValueError, OSError) as exc:
        raise CommandError(f"{Path(args.file).name}: {exc}") from None
    finally:
        if metrics:
            metrics.close()
    if result.status == "failed":
        raise CommandError(f"{Path(args.file).name}: {result.message}")
    try:
        save_project(project, output)
    except ProjectError as exc:
        raise CommandError(str(exc)) from None
    best = next((e for e in result.epochs if e["epoch"] == result.best_epoch), {})
    summary = ", ".join(f"{k} {best[k]:.4f}" for k in ("val_accuracy", "val_r2", "val_loss",
                                                       "high_quality_share") if k in best)
    if "modes_covered" in best:  # GAN on data with known modes
        summary = f"modes_covered {best['modes_covered']}/{best['modes']}, {summary}"
    print(f"{result.status}: best epoch {result.best_epoch}; {summary}; saved {output}")
    return EXIT_OK


def training_output(args: argparse.Namespace) -> str:
    """Where ``train`` saves: ``-o OUT``, or FILE itself only with ``--in-place`` (so the
    examples shipped with the package are never rewritten by accident). Checked before
    training, so a typo does not cost a run."""
    if getattr(args, "in_place", False):
        return str(args.file)
    if not args.output:
        raise CommandError(f"train saves the trained project to -o OUT; pass --in-place to "
                           f"overwrite {args.file}")
    folder = Path(args.output).parent
    if not folder.is_dir():
        raise CommandError(f"-o {args.output}: the folder {folder} does not exist")
    return str(args.output)


def open_metrics(path: str | None) -> TextIO | None:
    """The ``--metrics-jsonl`` file, opened for writing before training starts."""
    if not path:
        return None
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"--metrics-jsonl {path}: cannot write it "
                           f"({exc.strerror or type(exc).__name__})") from None


def cmd_attack(args: argparse.Namespace) -> int:
    from runtime.attacks import attack_project

    project = open_project(args.file)
    if not math.isfinite(args.eps) or args.eps < 0:
        raise CommandError("--eps must be 0 or more (an L-infinity budget in input units)")
    value_range = getattr(args, "range", None)
    if value_range is not None and not all(map(math.isfinite, value_range)):
        raise CommandError("--range LOW HIGH: give finite numbers")
    if value_range is not None and value_range[0] >= value_range[1]:
        raise CommandError(f"--range {value_range[0]:g} {value_range[1]:g}: the low end must "
                           "be below the high end")
    try:
        result = attack_project(project, args.method, args.eps, steps=args.steps,
                                limit=args.limit, value_range=value_range)
    except ValueError as exc:
        raise CommandError(f"{Path(args.file).name}: {exc}") from None
    drop = result.clean_accuracy - result.adversarial_accuracy
    print(f"{result.method.upper()} eps {result.eps:g} on {result.n} validation "
          f"samples: accuracy {result.clean_accuracy:.4f} -> "
          f"{result.adversarial_accuracy:.4f} ({drop * 100:.1f} points lost)")
    if args.json:
        record = asdict(result)
        keys = ("method", "eps", "n", "clean_accuracy", "adversarial_accuracy")
        print(json.dumps({**{k: record[k] for k in keys},
                          **{k: v for k, v in record.items() if k not in keys
                             and isinstance(v, (int, float, str, list))}}))
    return EXIT_OK


# -- export and import (issue 6) ---------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from runtime import exporter

    project = open_project(args.file)
    output = Path(args.output) if args.output else Path(args.file).with_name(
        exporter.default_file_name(project, args.to))
    try:
        written = exporter.export_project(project, args.to, output)
    except exporter.ExportError as exc:
        raise CommandError(f"{Path(args.file).name}: {exc}") from None
    print("wrote " + ", ".join(str(path) for path in written))
    return EXIT_OK


def _parse_shape(text: str) -> list[list[int]]:
    try:
        shapes = [[int(v) for v in part.replace("x", ",").split(",")] for part in text.split(";")]
    except ValueError:
        shapes = []
    if not shapes or not all(shapes) or any(v <= 0 for s in shapes for v in s):
        raise CommandError(f"--input-shape {text!r}: give positive sizes separated by commas, "
                           "e.g. 1,8,8 (several inputs: 1,8,8;3)")
    return shapes


def _parse_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    if not text:
        return [], {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--args is not valid JSON ({exc.msg}); e.g. --args '[10]' or "
                           "--args '{\"classes\": 10}'") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict) and value and set(value) <= {"args", "kwargs"} \
            and isinstance(value.get("args", []), list) \
            and isinstance(value.get("kwargs", {}), dict):
        return list(value.get("args", [])), dict(value.get("kwargs", {}))
    if isinstance(value, dict):
        return [], value
    return [value], {}


def cmd_import(args: argparse.Namespace) -> int:
    from runtime.importer import ModelImportError, import_file

    source = Path(args.source)
    positional, keywords = _parse_args(args.args)
    shapes = _parse_shape(args.input_shape) if args.input_shape else None
    if not source.is_file():
        raise CommandError(f"{args.source}: file not found", EXIT_UNREADABLE)
    try:
        project = import_file(source, args.class_name, positional, keywords,
                              shapes[0] if shapes and len(shapes) == 1 else shapes,
                              weights=args.weights)
    except ModelImportError as exc:  # sys.exit() and interrupts of the user's code included
        raise CommandError(str(exc)) from None
    try:
        save_project(project, args.output)
    except ProjectError as exc:
        raise CommandError(str(exc)) from None
    layers = sum(n.type not in ("Input", "Output") for n in project.graph.nodes.values())
    print(f"imported {layers} layers from {source.name} "
          f"({'with' if project.weights else 'without'} weights); saved {args.output}")
    for note in project.metadata.get("import_notes", []):
        print(f"note: {note}")
    return EXIT_OK
