"""The acceptance sweep of issue 15: every hostile input, through the CLI and the editor's
open path, each in its own process under a memory limit.

Each case of ``benchmarks/hostile_cases.py`` runs as ``main.py COMMAND ...`` and, where it is
a project file, through ``benchmarks/hostile_editor.py`` (a real MainWindow that opens it and
waits for the diagnostics, the dataset preview and the Explain and Adversarial panels). Per
run it prints: the exit code, whether every message was one ``plexus: ...`` line, the
seconds (the whole process, and "file s": what the file costs, i.e. the editor's open
alone, or the CLI's seconds beyond the baseline row's start-up), the peak RSS (``wait4``'s
ru_maxrss), whether a traceback reached stderr, and the message.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/hostile_files.py [--short]
     [--only WORD] [--cap-gb 4]
Targets: each run <= 10 s ("file s") and <= 1 GB peak RSS, one-line messages, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from hostile_cases import Case, load_cases  # noqa: E402  (light: builds nothing)

TARGET_SECONDS, TARGET_BYTES = 10.0, 1024 ** 3
QT_NOISE = ("This plugin does not support propagateSizeHints()",)


@dataclass
class Outcome:
    """What one process did."""

    code: int
    seconds: float
    peak_bytes: int
    stdout: str
    stderr: str

    @property
    def open_seconds(self) -> float | None:
        """The editor's own open-and-analyse time (``hostile_editor.py`` prints it)."""
        words = self.stdout.split()
        return float(words[1]) if len(words) == 2 and words[0] in ("opened", "refused") \
            else None

    @property
    def messages(self) -> list[str]:
        return [line for line in self.stderr.splitlines()
                if line.strip() and line not in QT_NOISE]

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr

    @property
    def one_line(self) -> bool:
        """At most one ``plexus:`` message (usage errors: ``plexus ...: ...``), and a failure
        ends with it; a run that works may print progress and notes besides, and ``validate``
        or ``info`` finding errors reports them on stdout (exit 1, nothing on stderr)."""
        said = [line for line in self.messages if line.startswith("plexus")]
        if self.code == 0:
            return len(said) <= 1
        if not self.messages:
            return self.code == 1 and bool(self.stdout.strip())
        return len(said) == 1 and self.messages[-1] == said[0]

    def within_targets(self, startup: float) -> bool:
        """The targets, on the time the file costs: the editor's open, or the CLI's seconds
        beyond ``startup`` (the baseline row's: Python and torch starting, the same for every
        file; 5-15 s on a loaded two-core machine)."""
        return (self.judged_seconds(startup) <= TARGET_SECONDS
                and self.peak_bytes <= TARGET_BYTES and self.one_line and not self.traceback
                and self.code in (0, 1, 2))

    def judged_seconds(self, startup: float) -> float:
        if self.open_seconds is not None:
            return self.open_seconds
        return max(0.0, self.seconds - startup)


def run_capped(argv: list[str], cap_bytes: int, timeout: float = 120.0) -> Outcome:
    """``argv`` in a child whose address space is capped at ``cap_bytes`` (so a regression
    fails instead of taking the machine down); its peak RSS from ``wait4``."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYQTGRAPH_QT_LIB": "PySide6",
           "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, preexec_fn=limit,
                                 env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Outcome(child.returncode, seconds, usage.ru_maxrss * 1024, out.read(),
                       err.read())


def run_case(case: Case, folder: Path, cap_bytes: int) -> list[tuple[str, Outcome]]:
    """The case through the CLI, and through the editor when it has a file to open."""
    out = str(folder / f"out-{abs(hash(case.name))}")
    if case.cli and case.cli[0] == "import":
        out += ".plexus"
    argv = [a.replace("{out}", out) for a in case.cli]
    runs = [(f"cli {case.cli[0]}", run_capped([sys.executable, "main.py", *argv], cap_bytes))]
    if case.editor:
        runs.append(("editor", run_capped(
            [sys.executable, str(ROOT / "benchmarks" / "hostile_editor.py"), case.editor],
            cap_bytes)))
    return runs


def message_of(path: str, outcome: Outcome) -> str:
    text = outcome.messages[-1] if outcome.messages else outcome.stdout.strip().splitlines()[
        -1] if outcome.stdout.strip() else ""
    return text if len(text) <= 110 else text[:107] + "..."


def sweep(short: bool = False, only: str = "", cap_gb: float = 4.0
          ) -> list[tuple[Case, str, Outcome]]:
    """Build and run the cases; print one row per run as it finishes."""
    rows: list[tuple[Case, str, Outcome]] = []
    with tempfile.TemporaryDirectory(prefix="plexus-hostile-") as tmp:
        folder = Path(tmp)
        listing = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "hostile_cases.py"),
                                  tmp], cwd=ROOT, capture_output=True, text=True, check=True)
        cases = [c for c in load_cases(listing.stdout) if c.name.startswith("baseline")
                 or ((c.short or not short) and only.lower() in c.name.lower())]
        print(f"{'case':<46} {'path':<14} {'exit':>4} {'1-line':>6} {'s':>6} {'file s':>6} "
              f"{'peak MB':>7} {'trace':>5}  message")
        startup = 0.0
        for case in cases:
            for path, outcome in run_case(case, folder, int(cap_gb * 1024 ** 3)):
                if case.name.startswith("baseline") and path.startswith("cli"):
                    startup = outcome.seconds
                rows.append((case, path, outcome))
                print(f"{case.name[:46]:<46} {path:<14} {outcome.code:>4} "
                      f"{'yes' if outcome.one_line else 'NO':>6} {outcome.seconds:>6.1f} "
                      f"{outcome.judged_seconds(startup):>6.2f} "
                      f"{outcome.peak_bytes / 1024 ** 2:>7.0f} "
                      f"{'YES' if outcome.traceback else 'no':>5}  "
                      f"{message_of(path, outcome).replace(tmp, '')}", flush=True)
    failed = [(c.name, p) for c, p, o in rows if not o.within_targets(startup)]
    print(f"{len(rows) - len(failed)}/{len(rows)} runs within targets "
          f"(<= {TARGET_SECONDS:g} s, <= {TARGET_BYTES // 1024 ** 2} MB, one line, no "
          f"traceback)" + (f"; outside: {failed}" if failed else ""))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the slow test's few cases")
    parser.add_argument("--only", default="", help="cases whose name contains this")
    parser.add_argument("--cap-gb", type=float, default=4.0, help="address-space cap")
    parser.add_argument("--json", default="", help="also write the outcomes to this file")
    arguments = parser.parse_args()
    swept = sweep(arguments.short, arguments.only, arguments.cap_gb)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(
            [{"case": case.name, "path": path, **dataclasses.asdict(outcome)}
             for case, path, outcome in swept]))
