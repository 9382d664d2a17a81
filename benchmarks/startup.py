"""How long ``main.py validate`` and ``main.py info`` take from a cold interpreter, beside
``import torch`` alone, measured in turns in one run (the machine is shared and noisy).

Prints per command the median and best wall time of ``--rounds`` runs, the median beyond
``import torch``, and whether the command imported torch._dynamo or sympy (a second more:
the meta-device shape run of a layer without a declared rule pulls them in). Target
(issue 16): validate on an example <= 1.8 s.

    .venv/bin/python benchmarks/startup.py [--rounds 7] [--examples digits_cnn sentiment_lstm]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = "import sys, atexit; atexit.register(lambda: print('HEAVY', " \
        "[m for m in ('torch._dynamo', 'sympy') if m in sys.modules], file=sys.stderr))"


def timed(args: list[str]) -> tuple[float, str]:
    """Wall seconds of one cold run, and the heavy modules it imported."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", f"{HEAVY}\n{args[0]}", *args[1:]], cwd=ROOT,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"{args[1:]} failed: {run.stderr.strip()[-400:]}")
    heavy = next((line[6:] for line in run.stderr.splitlines() if line.startswith("HEAVY")), "?")
    return seconds, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--examples", nargs="+", default=["digits_cnn", "sentiment_lstm"])
    args = parser.parse_args()
    main_py = "import runpy, sys; sys.argv = sys.argv[0:]; runpy.run_path('main.py', " \
              "run_name='__main__')"
    commands = {"import torch": ["import torch"]}
    for name in args.examples:
        project = str(ROOT / "resources" / "examples" / f"{name}.plexus")
        for verb in ("validate", "info"):
            commands[f"{verb} {name}"] = [main_py, verb, project]
    times: dict[str, list[float]] = {label: [] for label in commands}
    heavy: dict[str, str] = {}
    for _ in range(args.rounds):  # in turns, so load changes touch every command alike
        for label, command in commands.items():
            seconds, heavy[label] = timed(command)
            times[label].append(seconds)
    base = statistics.median(times["import torch"])
    print(f"{'command':<28} {'median s':>9} {'best s':>7} {'beyond torch':>13}  imported")
    for label, found in times.items():
        median = statistics.median(found)
        print(f"{label:<28} {median:>9.2f} {min(found):>7.2f} {median - base:>13.2f}  "
              f"{heavy[label]}")
    worst = max(statistics.median(t) for label, t in times.items() if label.startswith("validate"))
    print(f"validate, slowest example's median: {worst:.2f} s (target 1.8 s)")


if __name__ == "__main__":
    main()
