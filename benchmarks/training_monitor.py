"""Training monitor: does live monitoring keep the window responsive and training fast?

    .venv/bin/python benchmarks/training_monitor.py [--epochs 80] [--batch-size 16] [--rounds 2]
        [--quick] [--png out.png] [--profile gui.prof]

Opens the editor offscreen on digits_cnn, built as the app builds it, with the Metrics panel,
every live panel and the Adversarial panel (its robustness probe runs at each epoch end) visible
(floated side by side, so none hides behind a tab and every probe is on), then, taking turns in
one run, trains it ``--rounds`` times headless (``runtime.session.run_training`` in a fresh
process: what ``python main.py train`` runs) and ``--rounds`` times from the window (pressing
Train; the training process is already warm). Prints:

- the lateness of a 10 ms QTimer in the GUI while it trains: p50, p99, max (``p99: X ms``;
  target p99 <= 20 ms), next to the same timer with the window idle, and how much of the
  late time the GUI thread was computing rather than waiting for a CPU;
- training throughput from the window with all probes on relative to headless (samples/s
  over epochs 2..N, from each run's epoch times; target ratio >= 0.90), and the same per CPU
  second of the training process (which a machine shared with other work does not skew);
- the time from pressing Train to the first plotted loss point (target <= 1 s);
- how often the Metrics panel redrew (at most 30 a second by design);
- the cost of the live robustness probe (the attack at each epoch end) in the training
  process, against the epoch time;
- per panel: each render's time on the GUI thread (count, median, p90, max, from the frame
  clock's timings: what one frame costs the window);
- per panel: how many times Qt painted its widgets while training, and how many times the
  monitor panels rendered a payload (and their slowest render).

digits_cnn trains an epoch in well under a second at its own batch size (64): the run trains
at batch 16 (about 0.2 s an epoch, 90 steps) for 80 epochs, so each training lasts 15-20 s and
p99 rests on over a thousand timer ticks. ``--quick`` trains 10 epochs once (a smoke run).

Qt is imported inside ``main`` only: the training process is spawned, and a spawned process
imports this file again as ``__mp_main__``; it must not pull Qt in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIMER_MS = 10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def throughput(seconds: list[float], samples: int) -> float:
    """Samples per second over epochs 2..N (the first pays one-off costs in both)."""
    timed = seconds[1:] if len(seconds) > 1 else seconds
    return samples * len(timed) / max(sum(timed), 1e-9)


def process_cpu(pid: int | None) -> float:
    """CPU seconds a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


HEADLESS = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from graph.project import load_project
from runtime.session import run_training
seconds, cpu = [], {}
def callback(event):
    if event.kind in ("started", "finished"):
        cpu[event.kind] = time.process_time()
    if event.kind == "epoch":
        seconds.append(event.seconds)
run_training(load_project(sys.argv[2]), callback=callback, epochs=int(sys.argv[3]))
print(json.dumps({"seconds": seconds, "cpu": cpu["finished"] - cpu["started"]}))
"""


def headless_run(path: str, epochs: int) -> tuple[list[float], float]:
    """(epoch seconds, CPU seconds of the run) of the headless trainer: what ``python main.py
    train`` runs (``runtime.session.run_training``), in a fresh process, on the project."""
    out = subprocess.run([sys.executable, "-c", HEADLESS, str(ROOT), path, str(epochs)],
                         check=True, capture_output=True, text=True, cwd=str(ROOT))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["cpu"]


def main() -> int:  # noqa: PLR0915 - one straight script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=16,
                        help="digits_cnn's batch size in this run (its own is 64)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: 10 epochs, one round")
    parser.add_argument("--png", help="save the window during the last run to this PNG")
    parser.add_argument("--metrics-only", action="store_true",
                        help="only the Metrics panel (no live probe panels)")
    parser.add_argument("--select", help="select this node (by name) on the canvas, so the "
                        "panels show it; default: each panel's default layer")
    parser.add_argument("--tabbed", action="store_true",
                        help="keep the default layout (panels tabbed, Metrics in front): what a "
                        "user sees; only the front panel's probes run")
    parser.add_argument("--profile", help="write a cProfile of the GUI thread to this file")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.rounds = 10, 1
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

    import pyqtgraph as pg
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QDockWidget

    from graph.project import save_project
    from gui import style
    from gui.app import install_features, make_app
    from gui.main_window import MainWindow
    from gui.panels.frame_clock import clock
    from gui.panels.registry import PROBED
    from gui.training import install_training
    from resources.examples.make import build
    from runtime.events import Epoch, Finished

    folder = tempfile.mkdtemp(prefix="plexus_bench_")
    project = build("digits_cnn")
    project.training.epochs = args.epochs  # what pressing Train runs
    project.training.batch_size = args.batch_size
    path = os.path.join(folder, "digits_cnn.plexus")
    save_project(project, path)

    app = make_app()
    style.apply_theme("dark", app)
    settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, data_dir=Path(folder) / "appdata",
                        restore_layout=False, interactive=False)
    if args.metrics_only:
        controller = install_training(window)
        monitored = ["metrics"]
    else:  # the window as the app builds it; the live panels and the live robustness probe
        controller = install_features(window)
        monitored = ["metrics", *PROBED, "adversarial"]
    window.open_project(path, ask=False)
    window.resize(1600, 1000)
    window.show()
    window.apply_default_layout()
    for index, key in enumerate([] if args.tabbed else monitored):  # every panel visible
        dock = window.docks[key]
        dock.setFloating(True)
        dock.resize(520, 360)
        dock.move(40 + 530 * (index % 3), 40 + 380 * (index // 3))
        dock.show()
    if args.select:  # e.g. conv1: its filters, activations and hidden representation
        window.scene.select_node(window.graph.node_by_name(args.select).id)

    class PaintCounter(QObject):
        """Counts the paint events Qt delivers to each dock's widgets while ``on``."""

        def __init__(self) -> None:
            super().__init__()
            self.on = False
            self.counts: dict[str, int] = {}
            self.widgets: dict[str, int] = {}  # "dock/class" -> paints
            self.owner: dict[int, str] = {}  # widget id -> dock title (parents walked once)

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
            if self.on and event.type() == QEvent.Type.Paint:
                key = id(watched)
                if key not in self.owner:
                    widget = watched
                    while widget is not None and not isinstance(widget, QDockWidget):
                        widget = widget.parent()
                    self.owner[key] = widget.objectName() if widget is not None else "window"
                name = self.owner[key]
                self.counts[name] = self.counts.get(name, 0) + 1
                which = f"{name}/{type(watched).__name__}"
                self.widgets[which] = self.widgets.get(which, 0) + 1
            return False

    painted = PaintCounter()
    app.installEventFilter(painted)
    paint_cpu: dict[str, list[float]] = {}  # dock -> GUI-thread CPU seconds of each plot paint
    original_paint = pg.GraphicsView.paintEvent

    def timed_paint(view, event) -> None:  # noqa: ANN001 - a pyqtgraph override
        cpu = time.thread_time()
        original_paint(view, event)
        if painted.on:
            widget = view
            while widget is not None and not isinstance(widget, QDockWidget):
                widget = widget.parent()
            name = widget.objectName() if widget is not None else "window"
            paint_cpu.setdefault(name, []).append(time.thread_time() - cpu)

    pg.GraphicsView.paintEvent = timed_paint
    renders = {key: getattr(window.docks[key].widget(), "redraws", None) for key in monitored}

    def wait(condition, timeout: float) -> bool:
        """Run the event loop until ``condition()`` or ``timeout`` seconds."""
        loop = QEventLoop()
        check = QTimer(loop)  # parented: never destroyed by a garbage collection elsewhere
        check.setInterval(20)
        check.timeout.connect(lambda: loop.quit() if condition() else None)
        check.start()
        deadline = QTimer(loop)
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        deadline.start(int(timeout * 1000))
        if not condition():
            loop.exec()
        check.stop()
        deadline.stop()
        return condition()

    started = time.perf_counter()
    if not wait(lambda: controller.state == "idle", 300):
        print("the training process did not start", file=sys.stderr)
        return 1
    print(f"training process ready after {time.perf_counter() - started:.1f} s "
          f"(torch import and warm-up, off the GUI thread); it imported Qt: "
          f"{controller.qt_in_child}")
    wait(lambda: False, 1.0)  # let the panels push their probe configuration
    print(f"probes on: {json.dumps(controller.probe_config, sort_keys=True)}")

    ticks: list[float] = []
    cpu_ticks: list[float] = []  # the GUI thread's CPU time at each tick
    recording = [False]
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TIMER_MS)

    def tick() -> None:
        if recording[0]:
            ticks.append(time.perf_counter())
            cpu_ticks.append(time.thread_time())

    timer.timeout.connect(tick)
    timer.start()

    # baseline: the same timer with the window idle (what the machine's load alone costs)
    recording[0] = True
    wait(lambda: False, 3.0)
    recording[0] = False
    idle = [1000 * (b - a) - TIMER_MS for a, b in zip(ticks, ticks[1:], strict=False)]
    ticks.clear()
    cpu_ticks.clear()
    late_wall = late_cpu = 0.0  # over ticks more than 20 ms late: wall time, GUI-thread CPU

    samples = 1437  # digits training samples (1797 with a 0.2 validation split)
    lateness: list[float] = []
    first_point: list[float] = []
    gui_speed: list[float] = []
    cli_speed: list[float] = []
    redraw_rates: list[float] = []
    gui_cpu: list[float] = []
    child_cpu: list[float] = []
    panel = window.metrics
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU: a busy machine does not skew it
    cli_per_cpu: list[float] = []
    gui_per_cpu: list[float] = []
    robust_seconds: list[float] = []  # each live robustness probe's cost in the child
    epoch_seconds: list[float] = []

    def robustness_cost(payload: dict) -> None:
        for result in [payload, *payload.get("results", [])]:
            if result.get("probe") == "robustness" and "seconds" in result:
                robust_seconds.append(float(result["seconds"]))

    controller.probe.connect(robustness_cost)
    clock().timings = {}  # each frame's draw, by panel class, while training
    for round_ in range(args.rounds):
        seconds, cpu_seconds = headless_run(path, args.epochs)
        cli_speed.append(throughput(seconds, samples))
        cli_per_cpu.append(samples * args.epochs / cpu_seconds)
        epochs: list[Epoch] = []
        run_cpu: list[float] = []  # the training process' CPU seconds at started, finished
        done: list[Finished] = []
        if profiler is not None:
            profiler.enable()
        controller.epoch.connect(epochs.append)
        controller.finished.connect(done.append)
        mark = lambda _event: run_cpu.append(process_cpu(controller.pid))  # noqa: B023, E731
        controller.started.connect(mark)
        controller.finished.connect(mark)
        panel.first_point_drawn = None
        redraws = panel.redraws
        ticks.clear()
        cpu_ticks.clear()
        recording[0] = True
        painted.on = True
        pressed = time.perf_counter()
        cpu = time.process_time()
        child = process_cpu(controller.pid)
        window.actions["train"].trigger()
        if args.png and round_ == args.rounds - 1:
            wait(lambda: len(epochs) >= args.epochs // 2, 600)  # noqa: B023
            window.grab().save(args.png)
            panel.grab().save(args.png.replace(".png", "_metrics.png"))
        wait(lambda: bool(done), 900)  # noqa: B023
        recording[0] = False
        painted.on = False
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - pressed
        gui_cpu.append((time.process_time() - cpu) / elapsed)
        child_cpu.append((process_cpu(controller.pid) - child) / elapsed)
        controller.epoch.disconnect(epochs.append)
        controller.finished.disconnect(done.append)
        controller.started.disconnect(mark)
        controller.finished.disconnect(mark)
        if os.environ.get("BENCH_DEBUG"):
            print("debug: wall", round(elapsed, 2), "epoch seconds",
                  [round(e.seconds, 2) for e in epochs], "child cpu", run_cpu)
        if len(run_cpu) == 2 and run_cpu[1] > run_cpu[0]:
            gui_per_cpu.append(samples * args.epochs / (run_cpu[1] - run_cpu[0]))
        if not done or done[0].status != "completed":
            print(f"run {round_ + 1} did not complete: {done}", file=sys.stderr)
            return 1
        for index in range(1, len(ticks)):
            gap = ticks[index] - ticks[index - 1]
            lateness.append(1000 * gap - TIMER_MS)
            if 1000 * gap - TIMER_MS > 20:
                late_wall += gap
                late_cpu += cpu_ticks[index] - cpu_ticks[index - 1]
        if panel.first_point_drawn is not None:
            first_point.append(panel.first_point_drawn - pressed)
        gui_speed.append(throughput([e.seconds for e in epochs], samples))
        epoch_seconds.extend(e.seconds for e in epochs)
        redraw_rates.append((panel.redraws - redraws) / elapsed)
        wait(lambda: controller.state == "idle", 60)
    timer.stop()
    if profiler is not None:
        profiler.dump_stats(args.profile)

    ratio = statistics.median(gui_speed) / statistics.median(cli_speed)
    print(f"timer lateness while training ({len(lateness)} ticks of {TIMER_MS} ms): "
          f"p50 {percentile(lateness, 50):.1f} ms, p99 {percentile(lateness, 99):.1f} ms, "
          f"max {max(lateness):.1f} ms")
    print(f"p99: {percentile(lateness, 99):.1f} ms")
    late = sum(1 for v in lateness if v > 20)
    print(f"ticks more than 20 ms late: {late}; during them the GUI thread computed "
          f"{100 * late_cpu / max(late_wall, 1e-9):.0f}% of the time (the rest it waited for "
          "a CPU)")
    print(f"same timer, window idle, not training ({len(idle)} ticks): p50 "
          f"{percentile(idle, 50):.1f} ms, p99 {percentile(idle, 99):.1f} ms, max "
          f"{max(idle):.1f} ms (the machine's load alone)")
    print("GUI process CPU while training: "
          + ", ".join(f"{100 * c:.0f}%" for c in gui_cpu) + " of one core; training process "
          + ", ".join(f"{100 * c:.0f}%" for c in child_cpu)
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("throughput: headless trainer "
          + ", ".join(f"{s:,.0f}" for s in cli_speed) + " samples/s; window with probes "
          + ", ".join(f"{s:,.0f}" for s in gui_speed) + " samples/s")
    print(f"ratio: {ratio:.2f} (window with all probes / headless, medians of wall-clock "
          "samples/s over epochs 2..N)")
    if gui_per_cpu and cli_per_cpu:
        print(f"samples per CPU second of the training process: headless "
              f"{statistics.median(cli_per_cpu):,.0f}, window "
              f"{statistics.median(gui_per_cpu):,.0f}; ratio "
              f"{statistics.median(gui_per_cpu) / statistics.median(cli_per_cpu):.2f} "
              "(the probes' and events' own cost, whatever else runs on the machine)")
    print("first plotted loss point after pressing Train: "
          + ", ".join(f"{1000 * t:.0f} ms" for t in first_point))
    print("metrics redraws per second: " + ", ".join(f"{r:.1f}" for r in redraw_rates))
    if robust_seconds and epoch_seconds:
        cost, epoch = statistics.median(robust_seconds), statistics.median(epoch_seconds)
        print(f"live robustness probe: {len(robust_seconds)} runs, median {1000 * cost:.0f} ms "
              f"each, {100 * cost / epoch:.1f}% of the median epoch ({epoch:.2f} s)")
    else:
        print("live robustness probe: did not run (is the Adversarial panel on screen?)")
    print("paint events while training (all runs), by dock: " + ", ".join(
        f"{name} {count}" for name, count in sorted(painted.counts.items(),
                                                    key=lambda item: -item[1])))
    busiest = sorted(painted.widgets.items(), key=lambda item: -item[1])[:8]
    print("most painted widgets: " + ", ".join(f"{name} {count}" for name, count in busiest))
    rendered = []
    for key, before in renders.items():
        widget = window.docks[key].widget()
        if before is not None:
            slowest = getattr(widget, "slowest_render", None)
            total = getattr(widget, "render_seconds", None)
            rendered.append(f"{key} {widget.redraws - before}"
                            + (f" (slowest {1000 * slowest:.0f} ms, all {1000 * total:.0f} ms)"
                               if slowest else ""))
    print("monitor renders (payloads drawn, all runs and the idle wait): " + ", ".join(rendered))
    for title, table in (("frame clock draws (render)", clock().timings or {}),
                         ("plot paints (Qt paint events of pyqtgraph views)", paint_cpu)):
        print(f"{title} while training, GUI-thread CPU by panel (count, median / p90 / max "
              "ms, total s):")
        for name, times in sorted(table.items(), key=lambda item: -sum(item[1])):
            ms = [1000 * t for t in times]
            print(f"  {name:<22} {len(ms):>5}  {percentile(ms, 50):6.1f} / "
                  f"{percentile(ms, 90):6.1f} / {max(ms):6.1f}  {sum(times):6.2f}")
    controller.shutdown()
    window.undo_stack.setClean()
    window.persist = False
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
