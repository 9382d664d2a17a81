"""Does Accelerate on Auto train the 20k-image CNN faster, and as well? Side by side in one run.

Trains the shapes_source example's CNN (three conv/batch-norm/ReLU/pool blocks on generated
32x32 shapes) on 20,000 images with ``training.accelerate`` Off and Auto, from the same initial
weights in the same batch order, taking turns (Off, Auto, Off, Auto, ...), through Plexus' own
trainer. Prints what Auto chose, each setting's training samples per CPU-second of this
process (validation included, median over the turns; on a machine shared with other work the
wall clock mostly measures the scheduler, so the wall-clock ratio is printed beside it) and
best validation accuracy, and the ratios. Acceptance on a CPU with AMX or AVX-512-BF16:
ratio >= 2 and accuracy within 0.5 points; on a CPU without, Auto chooses nothing and the
ratio is about 1.

    .venv/bin/python benchmarks/accelerate.py [--samples 20000] [--epochs 3] [--turns 1]

With ``--examples NAME ...`` it trains those examples instead, as shipped, Off and Auto for
each training seed of ``--seeds`` (the seed moves the fresh weights and the batch order), and
prints per seed the best validation accuracy of both and the CPU-time ratio, then the mean and
spread of the differences beside the spread of Off from one seed to the next: a difference
whose mean stays inside that spread is the noise of a small data set, not a loss from Auto.

    .venv/bin/python benchmarks/accelerate.py --examples fewshot_scratch --seeds 10
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.compile import node_state  # noqa: E402
from runtime.events import Event, Started  # noqa: E402
from runtime.train import StandardTrainer  # noqa: E402


def shapes_cnn(samples: int):  # noqa: ANN201 (a Project)
    """The shapes_source example, untrained, on ``samples`` generated images."""
    from resources.examples.transfer import _source_untrained

    project = _source_untrained()
    project.dataset = replace(project.dataset, samples=samples)
    return project


def train_example(name: str, setting: str, seed: int, threads: int) -> tuple[float, float, str]:
    """(best validation accuracy, CPU seconds, what Accelerate chose) of one training of the
    example ``name`` with Accelerate ``setting`` and training seed ``seed``."""
    from resources.examples import make
    from runtime.session import run_training

    project = make.build(name)
    project.training = replace(project.training, accelerate=setting, seed=seed,
                               options={**project.training.options, "threads": threads})
    chosen: list[str] = []

    def note(event: Event) -> None:
        if isinstance(event, Started):
            chosen.append(event.accelerate or "")

    cpu_start = time.process_time()
    result = run_training(project, note, device="cpu")
    cpu_seconds = time.process_time() - cpu_start
    if result.status not in ("completed", "early_stopped"):
        raise SystemExit(f"{name} ({setting}, seed {seed}): {result.status}: {result.message}")
    best = next(e for e in result.epochs if e["epoch"] == result.best_epoch)
    return float(best["val_accuracy"]), cpu_seconds, chosen[0] if chosen else ""


def compare_example(name: str, seeds: int, threads: int) -> None:
    """Off against Auto on one example over ``seeds`` training seeds (module docstring)."""
    differences, offs, ratios = [], [], []
    chosen = ""
    for seed in range(seeds):
        acc_off, cpu_off, _ = train_example(name, "off", seed, threads)
        acc_auto, cpu_auto, chosen = train_example(name, "auto", seed, threads)
        offs.append(acc_off)
        differences.append(100 * (acc_auto - acc_off))
        ratios.append(cpu_off / cpu_auto)
        print(f"  {name} seed {seed}: off {acc_off:.2%}  auto {acc_auto:.2%}  "
              f"({differences[-1]:+.2f} points)  CPU time off/auto {ratios[-1]:.2f}", flush=True)
    spread = statistics.stdev(differences) if seeds > 1 else 0.0
    off_spread = 100 * statistics.stdev(offs) if seeds > 1 else 0.0
    print(f"{name}: Auto chose {chosen}")
    print(f"{name}: auto - off over {seeds} seeds: mean {statistics.mean(differences):+.2f} "
          f"points (sd {spread:.2f}, standard error {spread / math.sqrt(seeds):.2f}); off "
          f"from seed to seed: sd {off_spread:.2f} points; CPU-time ratio median "
          f"{statistics.median(ratios):.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000, help="generated 32x32 images")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each training run")
    parser.add_argument("--turns", type=int, default=1, help="runs of each setting")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--examples", nargs="*", default=[], help="train these examples")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds per example")
    args = parser.parse_args()
    if args.examples:
        for name in args.examples:
            compare_example(name, args.seeds, args.threads)
        return 0

    project = shapes_cnn(args.samples)
    trainer = StandardTrainer()
    run = trainer.prepare(project)
    initial = {k: v.clone() for k, v in node_state(run.compiled).items()}
    train_samples = len(run.data.train)
    print(f"{args.samples} images ({train_samples} training, {len(run.data.val)} validation), "
          f"{args.epochs} epochs per run, {args.threads} thread(s), batch "
          f"{project.training.batch_size}")
    speeds: dict[str, list[float]] = {"off": [], "auto": []}
    wall: dict[str, list[float]] = {"off": [], "auto": []}
    accuracy: dict[str, list[float]] = {"off": [], "auto": []}
    chosen: dict[str, str] = {}
    for _ in range(args.turns):
        for setting in ("off", "auto"):
            settings = replace(project.training, accelerate=setting, epochs=args.epochs,
                               options={**project.training.options, "threads": args.threads})

            def note(event: Event, setting: str = setting) -> None:
                if isinstance(event, Started):
                    chosen[setting] = event.accelerate or ""

            from runtime.train import train

            cpu_start = time.process_time()
            result = train(run.compiled, run.data, settings, note, initial_state=initial)
            cpu_seconds = time.process_time() - cpu_start
            if result.status != "completed":
                print(f"{setting}: {result.status}: {result.message}")
                return 1
            seconds = sum(e["seconds"] for e in result.epochs)
            speeds[setting].append(train_samples * args.epochs / cpu_seconds)
            wall[setting].append(train_samples * args.epochs / seconds)
            accuracy[setting].append(max(e["val_accuracy"] for e in result.epochs))
            print(f"  {setting:>4}: {speeds[setting][-1]:6.0f} samples/CPU-s, "
                  f"{wall[setting][-1]:6.0f} samples/s wall, best validation "
                  f"accuracy {accuracy[setting][-1]:.2%}  [{chosen[setting]}]", flush=True)
    off, auto = (statistics.median(speeds[s]) for s in ("off", "auto"))
    acc_off, acc_auto = (statistics.median(accuracy[s]) for s in ("off", "auto"))
    print(f"Auto chose: {chosen['auto']}")
    wall_off, wall_auto = (statistics.median(wall[s]) for s in ("off", "auto"))
    print(f"samples/CPU-s  off {off:.0f}  auto {auto:.0f}  ratio: {auto / off:.2f}")
    print(f"samples/s wall  off {wall_off:.0f}  auto {wall_auto:.0f}  "
          f"wall ratio: {wall_auto / wall_off:.2f}")
    print(f"validation accuracy  off {acc_off:.2%}  auto {acc_auto:.2%}  "
          f"difference: {100 * (acc_auto - acc_off):+.2f} points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
