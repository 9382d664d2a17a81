"""Data at scale: a 105 MB CSV, a set larger than the memory training may use, image folders.

    .venv/bin/python benchmarks/data_scale.py [--csv-mb 105] [--stream-mb 600]
        [--stream-csv-mb MB] [--images 4000] [--parts csv,npz,stream,images]

Generates its files in a temporary folder (deleted after) and prints, measured side by side
in one run (the machine is noisy; compare the ratios):

- CSV: ``np.loadtxt`` of the file (time and peak RSS), then ``main.py train`` of a one-epoch
  MLP on it (wall time and peak RSS, ``ru_maxrss`` of the child), against ``main.py train``
  of xor_mlp (the RSS of training anything). Acceptance: wall <= 2x loadtxt + 6 s, peak RSS
  <= xor RSS + 3x the float32 data size.
- NPZ: peak RSS of ``load_dataset`` against a plain ``np.load`` to torch (above imports).
- Larger than memory: an .npy folder (X.npy, y.npy) of ``--stream-mb`` MB of float32 and a
  CSV file of ``--stream-csv-mb`` MB, each trained one epoch under an address-space limit
  (RLIMIT_AS) of the training process' own footprint plus half its float32 data: peak RSS
  and samples/s, against the same data with no limit (held in memory).
- Image folders: seconds of data loading per epoch, decoded once into the uint8 cache
  against decoding every file every epoch.
"""

from __future__ import annotations

import argparse
import json
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
# batch of the larger-than-memory runs: an epoch of millions of rows at batch 256 is mostly
# per-step overhead (and took most of an hour on the shared machine); both modes use it
STREAM_BATCH = 4096

# Runs a command (under an address-space limit when given) and prints its peak RSS (KiB),
# wall and CPU seconds, and its peak address space (VmPeak, polled): ru_maxrss of the
# children of this small process is the command's alone.
_MEASURE = """
import json, os, resource, subprocess, sys, time
limit = int(sys.argv[1])
def cap():
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
env = {**os.environ, "MALLOC_ARENA_MAX": "2"} if limit else None  # arenas reserve VM
child = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=cap, env=env)
vm_peak = 0
while child.poll() is None:
    try:
        for line in open(f"/proc/{child.pid}/status"):
            if line.startswith("VmPeak:"):
                vm_peak = int(line.split()[1]) * 1024
    except OSError:
        pass
    time.sleep(0.05)
out, err = child.communicate()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": child.returncode, "wall": wall, "out": out[-2000:], "err": err[-2000:],
                  "cpu": usage.ru_utime + usage.ru_stime, "vm_peak": vm_peak,
                  "rss_kib": usage.ru_maxrss}))
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


def mlp_project(data: Path, name: str, out: Path, epochs: int = 1, batch: int = 256) -> Path:
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
    project.training.epochs, project.training.batch_size = epochs, batch
    project.training.optimizer, project.training.lr = "adam", 0.001
    project.weights = None
    save_project(project, out)
    return out


def train_command(project: Path, out: Path, metrics: Path | None = None) -> list[str]:
    extra = ["--metrics-jsonl", str(metrics)] if metrics else []
    return [sys.executable, "main.py", "train", str(project), "--epochs", "1", "--device",
            "cpu", "-o", str(out), *extra]


def epoch_seconds(metrics: Path) -> float:
    """The first epoch's seconds from a ``--metrics-jsonl`` file (nan if it has none)."""
    try:
        return float(json.loads(metrics.read_text().splitlines()[0])["seconds"])
    except (OSError, IndexError, KeyError, ValueError):
        return float("nan")


def last_line(result: dict) -> str:
    lines = (result["err"] or result["out"]).strip().splitlines()
    return lines[-1] if lines else ""


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
        print("  main.py train failed:", last_line(train))
    for what, key in (("wall", "wall"), ("CPU", "cpu")):
        target = 2 * loadtxt[key] + 6
        print(f"  {what:4} s: np.loadtxt {loadtxt[key]:6.2f}  xor_mlp train {xor[key]:6.2f}  "
              f"csv MLP train {train[key]:6.2f}  <= 2 x loadtxt + 6 = {target:6.2f}: "
              f"{'PASS' if train[key] <= target else 'FAIL'}")
    rss_target = xor["rss_mb"] + 3 * data_mb
    print(f"  peak RSS MB: np.loadtxt {loadtxt['rss_mb']:.0f}  xor_mlp train {xor['rss_mb']:.0f}"
          f"  csv MLP train {train['rss_mb']:.0f}  <= xor + 3 x data = {rss_target:.0f}: "
          f"{'PASS' if train['rss_mb'] <= rss_target else 'FAIL'}")
    path.unlink()


_NPZ_PLAIN = """
import sys, numpy as np, torch
with np.load(sys.argv[1]) as f:
    x, y = torch.from_numpy(f["X"]), torch.from_numpy(f["y"])
"""
_NPZ_PLEXUS = """
import sys
from graph.settings import DatasetSettings
from runtime.data import load_dataset
bundle = load_dataset(DatasetSettings(name="npz", path=sys.argv[1], scaling=sys.argv[2]))
"""
_IMPORTS = "import torch, runtime.data"


def npz_part(tmp: Path, megabytes: float) -> None:
    """Peak RSS of load_dataset on an .npz against a plain np.load to torch, above the RSS of
    the imports alone."""
    rows = int(megabytes * 1e6 / (FEATURES * 4))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    path = tmp / "table.npz"
    np.savez(path, X=x, y=(x[:, 0] > 0).astype(np.int64))
    del x
    imports = measure([sys.executable, "-c", _IMPORTS])["rss_mb"]
    plain = measure([sys.executable, "-c", _NPZ_PLAIN, str(path)])["rss_mb"] - imports
    print(f"NPZ: {rows:,} x {FEATURES} float32 ({rows * FEATURES * 4 / 1e6:.0f} MB); peak RSS "
          f"above the imports ({imports:.0f} MB):")
    print(f"  np.load to torch  {plain:6.0f} MB")
    for scaling in ("none", "standardize"):
        used = measure([sys.executable, "-c", _NPZ_PLEXUS, str(path), scaling])["rss_mb"]
        print(f"  load_dataset, scaling {scaling:11} {used - imports:6.0f} MB "
              f"({(used - imports) / plain:.2f}x)")
    path.unlink()


def _limit_for(base_vm: int, data_bytes: int) -> int:
    """The address-space limit of a streamed run: the training's own footprint plus half the
    data (the set is twice the memory the process may use for it)."""
    return base_vm + data_bytes // 2


def _stream_runs(tmp: Path, label: str, path: Path, name: str, rows: int, limit: int) -> None:
    """One epoch in memory and one under ``limit``: wall, peak RSS, samples/s side by side."""
    project = mlp_project(path, name, tmp / f"{name}.plexus", batch=STREAM_BATCH)
    results = {}
    for mode, cap in (("in memory", 0), ("under limit", limit)):
        metrics = tmp / f"{name}-{cap}.jsonl"
        result = measure(train_command(project, tmp / "out.plexus", metrics), cap)
        seconds = epoch_seconds(metrics)
        rate = rows * 0.8 / seconds if seconds == seconds else float("nan")
        results[mode] = rate
        status = "ok" if result["rc"] == 0 else f"FAILED: {last_line(result)}"
        print(f"  {label:10} {mode:11}: wall {result['wall']:6.1f} s  CPU {result['cpu']:6.1f} s"
              f"  peak RSS {result['rss_mb']:6.0f} MB  epoch {seconds:6.2f} s  "
              f"{rate:9,.0f} samples/s  {status}", flush=True)
    ratio = results["under limit"] / results["in memory"]
    print(f"  {label:10} streamed / in memory samples/s: {ratio:.2f}", flush=True)
    shutil.rmtree(path.parent / ".plexus-cache", ignore_errors=True)


def stream_part(tmp: Path, megabytes: float, csv_megabytes: float) -> None:
    """One epoch on an .npy set of ``megabytes`` MB of float32 inputs and on a CSV file of
    ``csv_megabytes`` MB (0: none), each in memory and under an address-space limit of the
    training process' own footprint plus half its float32 data."""
    small = tmp / "small"
    write_npy_folder(small, 2000)
    base = measure(train_command(mlp_project(small / "X.npy", "npz", tmp / "small.plexus",
                                             batch=STREAM_BATCH), tmp / "small_out.plexus"))
    shutil.rmtree(small)
    print(f"Larger than memory: VmPeak of the same training on 2,000 rows "
          f"{base['vm_peak'] / 1e6:.0f} MB; each limit is that + half the data", flush=True)
    if megabytes:
        rows = int(megabytes * 1e6 / (FEATURES * 4))
        folder = tmp / "arrays"
        write_npy_folder(folder, rows)
        data_bytes = rows * FEATURES * 4
        limit = _limit_for(base["vm_peak"], data_bytes)
        print(f"  npy folder: {rows:,} rows x {FEATURES} float32 = {data_bytes / 1e6:.0f} MB; "
              f"limit {limit / 1e6:.0f} MB", flush=True)
        _stream_runs(tmp, "npy folder", folder / "X.npy", "npz", rows, limit)
        shutil.rmtree(folder, ignore_errors=True)
    if csv_megabytes:
        rows = rows_for_csv_mb(csv_megabytes)
        csv_path = tmp / "big.csv"
        start = time.perf_counter()
        write_csv(csv_path, rows, seed=1)
        data_bytes = rows * FEATURES * 4
        limit = _limit_for(base["vm_peak"], data_bytes)
        print(f"  csv: {csv_path.stat().st_size / 1e6:.0f} MB ({rows:,} rows, written in "
              f"{time.perf_counter() - start:.0f} s), float32 {data_bytes / 1e6:.0f} MB; "
              f"limit {limit / 1e6:.0f} MB", flush=True)
        _stream_runs(tmp, "csv", csv_path, "csv", rows, limit)
        csv_path.unlink()


def write_images(root: Path, count: int, side: int = 28) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(2):
        (root / f"class{c}").mkdir(parents=True)
    for i in range(count):
        c = i % 2
        pixels = rng.integers(0, 128, (side, side), dtype=np.uint8) + 100 * c
        Image.fromarray(pixels.astype(np.uint8)).save(root / f"class{c}" / f"{i}.png")


def images_part(tmp: Path, count: int) -> None:
    """Seconds of data loading per epoch: decoded once into the cache, against decoding
    every file every epoch (the same set, read item by item)."""
    import torch

    from graph.settings import DatasetSettings
    from runtime.batches import Batches
    from runtime.data import load_dataset

    root = tmp / "images"
    write_images(root, count)
    bundle = load_dataset(DatasetSettings(name="images", path=str(root), options={"size": 28}))
    cached = bundle.train
    lazy = torch.utils.data.Subset(cached, range(len(cached)))  # no batch(): item by item
    times = {}
    for label, dataset in (("decode every epoch", lazy), ("uint8 cache", cached)):
        seconds = []
        for _ in range(4):
            start, cpu = time.perf_counter(), time.process_time()
            for _ in Batches(dataset, 64, torch.device("cpu"), shuffle=True):
                pass
            seconds.append((time.perf_counter() - start, time.process_time() - cpu))
        times[label] = seconds
        print(f"  {label:18}: epochs (wall/CPU s) "
              f"{', '.join(f'{w:.2f}/{c:.2f}' for w, c in seconds)}")
    for k, what in ((0, "wall"), (1, "CPU")):
        before = np.median([t[k] for t in times["decode every epoch"][1:]])
        after = np.median([t[k] for t in times["uint8 cache"][1:]])
        print(f"Images ({count} PNGs, {type(cached).__name__}): epoch data {what} time after "
              f"the first {after:.3f} s cached against {before:.3f} s decoding: "
              f"{before / max(after, 1e-6):.0f}x")
    shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-mb", type=float, default=105)
    parser.add_argument("--stream-mb", type=float, default=600,
                        help="float32 size of the larger-than-memory .npy set (the issue: "
                             "4000; 0: none)")
    parser.add_argument("--stream-csv-mb", type=float, default=None,
                        help="file size of the larger-than-memory CSV (default: --stream-mb; "
                             "0: none)")
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--parts", default="csv,npz,stream,images")
    args = parser.parse_args()
    parts = args.parts.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="plexus_data_scale_"))
    try:
        if "csv" in parts:
            csv_part(tmp, args.csv_mb)
        if "npz" in parts:
            npz_part(tmp, args.csv_mb * 0.44)  # the float32 size of the CSV's data
        if "stream" in parts:
            csv_mb = args.stream_mb if args.stream_csv_mb is None else args.stream_csv_mb
            stream_part(tmp, args.stream_mb, csv_mb)
        if "images" in parts:
            images_part(tmp, args.images)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
