"""Does every example's exported training script train under torchrun as Plexus trains it?

For each example, given the same random starting weights (seeded; a project with weights
exports them and its script starts from them, as Plexus goes on from them): export
``train.py`` (``runtime.export_script.write_script``), run it with ``torchrun --standalone
--nproc_per_node 2 train.py --device cpu`` (gloo) in a clean interpreter, and train the same
project for the same epochs (its own unless --epochs) in Plexus meanwhile. Compare after the
project's epochs: after one or two, most examples are still at chance, where one batch order
against another decides the metric. GANs compare what Plexus shows for their best epoch:
modes_covered (as a share of the modes), high_quality_share or sample_diversity. Prints
every metric both report for the best epoch's weights and their difference in points:
accuracy, r2, roc_auc and shares times 100; a forecast's mse as its share of the
repeat-the-last-value baseline_mse; an mse without a baseline as a percentage of Plexus' value
(judged only when no metric on a 0..1 scale is reported). Acceptance: every judged
difference within 3 points.

    .venv/bin/python benchmarks/torchrun_examples.py [--epochs N] [--nproc N] [NAME ...]

``--nproc 1`` runs the script as plain ``python train.py`` (one process, no torchrun): a gap
that stays there is in the exported training itself, not in the process split.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOLERANCE = 3.0  # points
BOUNDED = ("accuracy", "r2", "roc_auc", "high_quality_share", "sample_diversity")  # 0..1
GAN_SHOWN = ("modes_covered", "high_quality_share", "sample_diversity")
_FINAL = re.compile(r"^best epoch (\d+): (.*); saved ", re.MULTILINE)
_METRIC = re.compile(r"(?:val )?(\S+) (\S+?)(?:,|$)")


@dataclass
class Comparison:
    """One example: the metrics of the script and of Plexus, and their differences."""

    name: str
    script: dict[str, float]
    plexus: dict[str, float]
    points: dict[str, float]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.points) and all(
            p <= TOLERANCE for p in self.points.values())


def script_metrics(output: str) -> dict[str, float]:
    """{metric: value} of the script's last line ("best epoch 3: val loss ..., val ...")."""
    found = _FINAL.findall(output)
    if not found:
        return {}
    return {key: float(value) for key, value in _METRIC.findall(found[-1][1])}


def differences(script: dict[str, float], plexus: dict[str, float]) -> dict[str, float]:
    """The judged differences in points, by metric (see the module docstring)."""
    out: dict[str, float] = {}
    for key in (k for k in plexus if k in script and math.isfinite(plexus[k])):
        kind = key.split("/")[0]
        if kind in BOUNDED:
            out[key] = 100.0 * abs(script[key] - plexus[key])
        elif kind == "modes_covered":
            out[key] = 100.0 * abs(script[key] - plexus[key]) / max(1.0, plexus["modes"])
        elif kind == "mse" and "baseline_mse" in plexus and "baseline_mse" in script:
            out[key] = 100.0 * abs(script[key] / script["baseline_mse"]
                                   - plexus[key] / plexus["baseline_mse"])
    if not out:  # only an mse without a baseline: how far apart, relative to Plexus'
        out = {k: 100.0 * abs(script[k] - plexus[k]) / max(abs(plexus[k]), 1e-12)
               for k in plexus if k in script and k.split("/")[0] == "mse"}
    return out


def seeded(name: str):  # noqa: ANN201 (a Project)
    """The example with seeded random weights stored, which both trainings start from."""
    import torch

    from resources.examples import make
    from runtime.compile import compile_graph, node_state, weights_to_bytes

    project = make.build(name)
    if not project.weights:
        torch.manual_seed(0)
        project.weights = weights_to_bytes(node_state(compile_graph(project.graph)))
    return project


def start_script(name: str, folder: Path, epochs: int | None, nproc: int = 2
                 ) -> subprocess.Popen:
    """Export the example's script into ``folder`` and start it under torchrun with ``nproc``
    processes, or as plain python when ``nproc`` is 1."""
    from runtime import export_script

    export_script.write_script(seeded(name), folder / "train.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    launch = (["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
              if nproc > 1 else [])
    return subprocess.Popen(
        [sys.executable, "-I", *launch, "train.py", "--device", "cpu",
         *(["--epochs", str(epochs)] if epochs else [])],
        cwd=folder, env=env, stdout=open(folder / "out.txt", "w"),
        stderr=open(folder / "err.txt", "w"), start_new_session=True)


def plexus_metrics(name: str, epochs: int | None) -> dict[str, float]:
    """The validation metrics Plexus reports for its best epoch after ``epochs`` epochs."""
    from runtime.session import run_training

    result = run_training(seeded(name), epochs=epochs, device="cpu")
    if result.status not in ("completed", "early_stopped"):
        raise RuntimeError(f"{name}: Plexus training {result.status}: {result.message}")
    best = next(e for e in result.epochs if e["epoch"] == result.best_epoch)
    if "d_loss" in best:  # a GAN: what its panel shows for the best epoch
        return {key: float(best[key]) for key in ("modes", *GAN_SHOWN) if key in best}
    return {key.removeprefix("val_"): float(value) for key, value in best.items()
            if key.startswith("val_") and key != "val_loss" and "loss/" not in key}


def compare(name: str, epochs: int | None, folder: Path, timeout: float = 900,
            nproc: int = 2) -> Comparison:
    """Run the script (under torchrun when ``nproc`` > 1) and Plexus side by side; compare
    what both report."""
    try:
        process = start_script(name, folder, epochs, nproc)
    except Exception as exc:  # noqa: BLE001 (an export refused: the row says why)
        return Comparison(name, {}, {}, {}, f"no script: {exc}")
    try:
        plexus = plexus_metrics(name, epochs)
        code = process.wait(timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
    output = (folder / "out.txt").read_text()
    if code != 0:
        error = (folder / "err.txt").read_text().strip().splitlines()
        return Comparison(name, {}, plexus, {}, f"exit {code}: {error[-1] if error else ''}")
    if nproc > 1 and f"rank {nproc - 1} of {nproc} finished" not in output:
        return Comparison(name, {}, plexus, {}, f"rank {nproc - 1} did not finish")
    script = script_metrics(output)
    diffs = differences(script, plexus)
    missing = [k for k in plexus if k not in script]
    return Comparison(name, script, plexus, diffs,
                      f"the script does not print {', '.join(missing)}" if missing else "")


def main() -> int:
    from resources.examples import make

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: each project's")
    parser.add_argument("--nproc", type=int, default=2,
                        help="processes under torchrun; 1: plain python (default 2)")
    parser.add_argument("names", nargs="*", help="examples (default: every one)")
    args = parser.parse_args()
    names = args.names or sorted(make.EXAMPLES)
    failed = 0
    with tempfile.TemporaryDirectory() as temp:
        for name in names:
            folder = Path(temp) / name
            folder.mkdir()
            row = compare(name, args.epochs, folder, nproc=args.nproc)
            failed += not row.ok
            shown = "  ".join(f"{k} {row.script.get(k, math.nan):.4f}/{row.plexus[k]:.4f}"
                              + (f" ({row.points[k]:.2f} pts)" if k in row.points else "")
                              for k in row.plexus)
            print(f"{'ok  ' if row.ok else 'FAIL'} {name}: script/plexus {shown} {row.error}",
                  flush=True)
    print(f"{len(names) - failed} of {len(names)} within {TOLERANCE:g} points "
          f"({args.nproc} process{'es' if args.nproc > 1 else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
