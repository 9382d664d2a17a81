"""Plexus entry point: the editor by default, headless subcommands for scripts and CI.

    python main.py                      open the editor on the default example
    python main.py open FILE [--screenshot PNG]
    python main.py validate FILE        diagnostics; exit 0 valid, 1 invalid, 2 unreadable
    python main.py info FILE            layers, output shapes, parameter counts
    python main.py train FILE (-o OUT | --in-place) [--epochs N] [--device auto|cpu|cuda]
                         [--metrics-jsonl P]
    python main.py attack FILE --method fgsm|pgd --eps E [--steps K] [--json]
    python main.py export FILE --to python|script|onnx [-o PATH]
    python main.py import SOURCE.py|SOURCE.onnx -o OUT.plexus [--class NAME] [--args JSON]
                          [--input-shape 1,8,8] [--weights W.safetensors|W.pth]

No traceback reaches the user: errors are one line on stderr and a non-zero exit code
(command-line mistakes included: ``OneLineParser``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (argparse prints the usage, then the
    error); the subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An int of 1 or more, for argparse (``--epochs 0`` would record an empty run)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1; give 1 or more")
    return value


IMPORT_RUNS_CODE = ("importing a .py runs that file's code (and the model's constructor and "
                    "forward) with your permissions: import only files you trust; its "
                    "sys.exit() and KeyboardInterrupt become one-line errors")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="plexus", description="Design, train and inspect neural "
                           "networks visually.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("open", help="open a project in the editor")
    p.add_argument("file", nargs="?", help="a .plexus project (default: the digits example)")
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")

    p = sub.add_parser("validate", help="print a project's diagnostics")
    p.add_argument("file")

    p = sub.add_parser("info", help="layers, output shapes and parameter counts")
    p.add_argument("file")

    p = sub.add_parser("train", help="train a project headless",
                       description="Train a project headless and save it, trained, to -o OUT; "
                       "FILE itself is rewritten only with --in-place.")
    p.add_argument("file")
    p.add_argument("--epochs", type=positive_int, help="override the project's epoch count "
                   "(1 or more)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to train")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT", help="where to save the trained "
                       "project (required unless --in-place)")
    where.add_argument("--in-place", action="store_true",
                       help="save the trained project over FILE")
    p.add_argument("--metrics-jsonl", metavar="PATH", help="write one JSON object per epoch")

    p = sub.add_parser("attack", help="attack a trained project's validation set")
    p.add_argument("file")
    p.add_argument("--method", choices=("fgsm", "pgd"), default="fgsm")
    p.add_argument("--eps", type=float, required=True, help="L-infinity budget in input units")
    p.add_argument("--steps", type=positive_int, default=10, help="PGD steps (1 or more)")
    p.add_argument("--range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="keep adversarial inputs in LOW..HIGH (default: the data's range)")
    p.add_argument("--limit", type=positive_int, help="attack at most this many samples")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")

    p = sub.add_parser("export", help="write PyTorch code, a training script or ONNX")
    p.add_argument("file")
    p.add_argument("--to", choices=("python", "script", "onnx"), default="python",
                   help="python: the module (+ weights); script: a (torchrun) training "
                   "script; onnx: an ONNX file")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="file to write (default: beside FILE, named after the project)")

    p = sub.add_parser("import", help="turn a PyTorch module or an ONNX file into a project",
                       description="Turn a PyTorch module or an ONNX file into a project. "
                       f"Note: {IMPORT_RUNS_CODE}.")
    p.add_argument("source", help="a Python file defining the model, or an .onnx file")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="the .plexus to write")
    p.add_argument("--class", dest="class_name", metavar="NAME",
                   help="the nn.Module class or factory function (default: the only one)")
    p.add_argument("--args", metavar="JSON", help='constructor arguments: a JSON list, an '
                   'object of keyword arguments, or {"args": [...], "kwargs": {...}}')
    p.add_argument("--input-shape", metavar="SHAPE",
                   help="one sample's shape without the batch, e.g. 1,8,8 (several inputs: "
                   "1,8,8;3)")
    p.add_argument("--weights", metavar="PATH",
                   help="weights to load first: .safetensors, or a .pth/.pt state dict "
                   "(torch.save(model.state_dict()); read with weights_only=True) (default: "
                   "SOURCE's stem .safetensors when present)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in (None, "open"):
        from gui.app import run_gui

        return run_gui(getattr(args, "file", None), getattr(args, "screenshot", None))
    from runtime import cli

    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
