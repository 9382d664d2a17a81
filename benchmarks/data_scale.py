"""Data at scale: a 105 MB CSV, a set larger than the memory training may use, image folders.

    .venv/bin/python benchmarks/data_scale.py [--csv-mb 105] [--stream-mb 400] [--images 4000]

Generates its files in a temporary folder (deleted after) and prints, measured side by side
in one run (the machine is noisy; compare the ratios):

- CSV: ``np.loadtxt`` of the file (time and peak RSS), then ``main.py train`` of a one-epoch
  MLP on it (wall time and peak RSS, ``ru_maxrss`` of the child), against ``main.py train``
  of xor_mlp (the RSS of training anything). Acceptance: wall <= 2x loadtxt + 6 s, peak RSS
  <= xor RSS + 3x the float32 data size.
- Larger than memory: an .npy folder (X.npy, y.npy) and a CSV of ``--stream-mb`` MB of
  float32, trained one epoch under an address-space limit (RLIMIT_AS) of the training
  process' own footprint plus half the data: peak RSS and samples/s, against the same data
  with no limit (held in memory).
- Image folders: seconds of data loading per epoch, decoded once into the uint8 cache
  against decoding every file every epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FEATURES, CLASSES = 49, 3

# Runs a command and prints its peak RSS (KiB) and wall seconds: ru_maxrss of the children
# of this small process is the command's alone.
_MEASURE = """
import json, resource, subprocess, sys, time
limit = int(sys.argv[1])
def cap():
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], capture_output=True, text=True, preexec_fn=cap)
wall = time.perf_counter() - start
print(json.dumps({"rc": done.returncode, "wall": wall, "out": done.stdout[-2000:],
                  "err": done.stderr[-2000:],
                  "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def measure(command: list[str], address_limit: int = 0) -> dict:
    """Wall time, peak RSS (MB) and output of ``command`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(address_limit), *command],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["rss_mb"] = result.pop("rss_kib") / 1024
    return result


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` samples of FEATURES numbers and an integer class, written a block at a time."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(",".join([f"f{i}" for i in range(FEATURES)] + ["label"]) + "\n")
        for start in range(0, rows, 50_000):
            n = min(50_000, rows - start)
            x = rng.normal(size=(n, FEATURES)).astype(np.float32)
            y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
            np.savetxt(f, np.column_stack([x, y]), delimiter=",",
                       fmt=["%.6g"] * FEATURES + ["%d"])


def rows_for_csv_mb(megabytes: float) -> int:
    """Rows of write_csv's format that make about ``megabytes`` MB (measured on a sample)."""
    probe = Path(tempfile.mkstemp(suffix=".csv")[1])
    write_csv(probe, 2000)
    per_row = (probe.stat().st_size - 400) / 2000
    probe.unlink()
    return int(megabytes * 1e6 / per_row)


def write_npy_folder(folder: Path, rows: int, seed: int = 0) -> None:
    """X.npy (float32) and y.npy (int64) written a block at a time, never whole in memory."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = np.lib.format.open_memmap(folder / "X.npy", "w+", np.float32, (rows, FEATURES))
    y = np.lib.format.open_memmap(folder / "y.npy", "w+", np.int64, (rows,))
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        block = rng.normal(size=(n, FEATURES)).astype(np.float32)
        x[start:start + n] = block
        y[start:start + n] = (block[:, 0] > 0).astype(int) + (block[:, 1] > 0.5)
    x.flush()
    y.flush()
    del x, y


def mlp_project(data: Path, name: str, out: Path, epochs: int = 1) -> Path:
    """xor_mlp's project reshaped into a FEATURES -> 64 -> CLASSES MLP on ``data``."""
    from graph.project import load_project, save_project

    project = load_project(ROOT / "resources" / "examples" / "xor_mlp.plexus")
    graph = project.graph
    kinds = {n.type: i for i, n in graph.nodes.items()}
    graph.set_param(kinds["Input"], "shape", (FEATURES,))
    linears = [i for i, n in graph.nodes.items() if n.type == "Linear"]
    graph.set_param(linears[0], "out_features", 64)
    graph.set_param(linears[-1], "out_features", CLASSES)
    project.dataset.name, project.dataset.path = name, str(data)
    project.dataset.target_column = ""
    project.training.epochs, project.training.batch_size = epochs, 256
    project.training.optimizer, project.training.lr = "adam", 0.001
    project.weights = None
    save_project(project, out)
    return out


def train_command(project: Path, out: Path) -> list[str]:
    return [sys.executable, "main.py", "train", str(project), "--epochs", "1", "--device",
            "cpu", "-o", str(out)]


def samples_per_second(output: str) -> float:
    """Training samples/s from ``--metrics-jsonl`` lines in the output, if any."""
    return float("nan") if not output else float(output)


# -- the parts ---------------------------------------------------------------------------------

def csv_part(tmp: Path, megabytes: float) -> None:
    rows = rows_for_csv_mb(megabytes)
    path = tmp / "table.csv"
    write_csv(path, rows)
    size = path.stat().st_size
    data_mb = rows * FEATURES * 4 / 1e6
    print(f"CSV: {size / 1e6:.0f} MB, {rows:,} rows x {FEATURES + 1} columns, float32 inputs "
          f"{data_mb:.0f} MB")
    loadtxt = measure([sys.executable, "-c", "import numpy as np, sys; np.loadtxt(sys.argv[1], "
                       "delimiter=',', skiprows=1, dtype=np.float32)", str(path)])
    project = mlp_project(path, "csv", tmp / "csv.plexus")
    train = measure(train_command(project, tmp / "csv_out.plexus"))
    xor = measure(train_command(ROOT / "resources" / "examples" / "xor_mlp.plexus",
                                tmp / "xor_out.plexus"))
    if train["rc"]:
        print("  main.py train failed:", train["err"].strip().splitlines()[-1:])
    wall_target = 2 * loadtxt["wall"] + 6
    rss_target = xor["rss_mb"] + 3 * data_mb
    print(f"  np.loadtxt        {loadtxt['wall']:6.2f} s  peak RSS {loadtxt['rss_mb']:7.0f} MB")
    print(f"  xor_mlp train     {xor['wall']:6.2f} s  peak RSS {xor['rss_mb']:7.0f} MB")
    print(f"  csv MLP train     {train['wall']:6.2f} s  peak RSS {train['rss_mb']:7.0f} MB")
    print(f"  wall {train['wall']:.2f} s <= 2 x loadtxt + 6 = {wall_target:.2f} s: "
          f"{'PASS' if train['wall'] <= wall_target else 'FAIL'}")
    print(f"  RSS {train['rss_mb']:.0f} MB <= xor + 3 x data = {rss_target:.0f} MB: "
          f"{'PASS' if train['rss_mb'] <= rss_target else 'FAIL'}")
    path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-mb", type=float, default=105)
    parser.add_argument("--stream-mb", type=float, default=400,
                        help="float32 size of the larger-than-memory set (the issue: 4000)")
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--parts", default="csv,stream,images")
    args = parser.parse_args()
    parts = args.parts.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="plexus_data_scale_"))
    try:
        if "csv" in parts:
            csv_part(tmp, args.csv_mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
