"""The command line's guards (issue 15): where `train` writes, `--epochs` of 1 or more,
one-line usage errors, an unwritable metrics path, and `import` containing the user's
sys.exit() and KeyboardInterrupt. Run as a user runs them: a subprocess, the exit code, stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graph.project import load_project, save_project
from resources.examples import make

ROOT = Path(__file__).resolve().parents[1]


def plexus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def one_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def xor_file(tmp_path: Path) -> Path:
    path = tmp_path / "xor.plexus"
    save_project(make.build("xor_mlp"), path)
    return path


@pytest.mark.parametrize("epochs", [0, -3])
def test_a_session_refuses_fewer_than_one_epoch(epochs: int) -> None:
    """Below the command line too: the GUI's training process opens the same session."""
    from runtime.session import run_training

    project = make.build("xor_mlp")
    result = run_training(project, epochs=epochs)
    assert (result.status, result.message) == ("failed", f"epochs must be 1 or more, not {epochs}")
    assert not project.history


@pytest.mark.parametrize("epochs", ["0", "-3", "two"])
def test_epochs_below_one_are_refused_in_one_line(xor_file: Path, epochs: str) -> None:
    before = xor_file.read_bytes()
    result = plexus("train", str(xor_file), "--epochs", epochs, "--in-place")
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("plexus train: argument --epochs: ") and "--help" in line
    assert ("give 1 or more" in line) if epochs != "two" else ("not a whole number" in line)
    assert xor_file.read_bytes() == before  # nothing trained, nothing written


def test_train_without_output_or_in_place_is_refused_before_training(xor_file: Path) -> None:
    before = xor_file.read_bytes()
    result = plexus("train", str(xor_file), "--epochs", "1")
    assert result.returncode == 1
    assert one_line(result) == (f"plexus: train saves the trained project to -o OUT; pass "
                                f"--in-place to overwrite {xor_file}")
    assert xor_file.read_bytes() == before


def test_output_and_in_place_together_are_refused(xor_file: Path, tmp_path: Path) -> None:
    result = plexus("train", str(xor_file), "-o", str(tmp_path / "b.plexus"), "--in-place")
    assert result.returncode == 2
    assert "not allowed with argument" in one_line(result)


def test_output_folder_must_exist(xor_file: Path, tmp_path: Path) -> None:
    result = plexus("train", str(xor_file), "-o", str(tmp_path / "no" / "b.plexus"))
    assert result.returncode == 1
    assert one_line(result) == (f"plexus: -o {tmp_path / 'no' / 'b.plexus'}: the folder "
                                f"{tmp_path / 'no'} does not exist")


@pytest.mark.slow
def test_in_place_rewrites_the_input_and_o_leaves_it(xor_file: Path, tmp_path: Path) -> None:
    before = xor_file.read_bytes()
    out = tmp_path / "trained.plexus"
    assert plexus("train", str(xor_file), "--epochs", "1", "-o", str(out)).returncode == 0
    assert xor_file.read_bytes() == before and len(load_project(out).history) == 1
    done = plexus("train", str(xor_file), "--epochs", "1", "--in-place")
    assert done.returncode == 0, done.stderr
    assert f"saved {xor_file}" in done.stdout and len(load_project(xor_file).history) == 1


def test_metrics_path_that_cannot_be_written_is_one_line(xor_file: Path) -> None:
    result = plexus("train", str(xor_file), "--in-place", "--metrics-jsonl", "/nonexistent/x")
    assert result.returncode == 1
    assert one_line(result) == ("plexus: --metrics-jsonl /nonexistent/x: cannot write it "
                                "(No such file or directory)")


def test_train_and_import_help_say_what_they_write_and_run() -> None:
    train = " ".join(plexus("train", "--help").stdout.split())
    assert "--in-place" in train and "FILE itself is rewritten only with --in-place" in train
    imported = " ".join(plexus("import", "--help").stdout.split())
    assert "importing a .py runs that file's code" in imported
    readme = (ROOT / "README.md").read_text()
    assert "train FILE (-o OUT | --in-place)" in readme
    assert "`import` of a `.py` runs that file's code" in readme


@pytest.mark.parametrize("body, says", [
    ("import sys\nsys.exit(7)\n", "running the file called sys.exit(7)"),
    ("raise KeyboardInterrupt\n", "running the file raised KeyboardInterrupt"),
])
def test_import_contains_the_modules_exit_and_interrupt(tmp_path: Path, body: str,
                                                        says: str) -> None:
    source = tmp_path / "model.py"
    source.write_text("import torch\n" + body)
    out = tmp_path / "m.plexus"
    result = plexus("import", str(source), "-o", str(out))
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("plexus: model.py: ") and says in line
    assert not out.exists()


def test_import_contains_an_exit_from_the_models_constructor(tmp_path: Path) -> None:
    source = tmp_path / "net.py"
    source.write_text("import sys\nfrom torch import nn\n\nclass Net(nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n"
                      "        sys.exit(3)\n")
    result = plexus("import", str(source), "-o", str(tmp_path / "n.plexus"))
    assert result.returncode == 1
    assert one_line(result) == ("plexus: net.py: the model's code called sys.exit(3); nothing "
                                "was imported")


@pytest.mark.parametrize("args, code, line", [
    (["--method", "pgd", "--steps", "0"], 2,
     "plexus attack: argument --steps: 0 is below 1; give 1 or more (see plexus attack --help)"),
    (["--limit", "-2"], 2,
     "plexus attack: argument --limit: -2 is below 1; give 1 or more (see plexus attack --help)"),
    (["--eps", "nan"], 1, "plexus: --eps must be 0 or more (an L-infinity budget in input units)"),
    (["--range", "nan", "1"], 1, "plexus: --range LOW HIGH: give finite numbers"),
])
def test_attack_arguments_out_of_range_are_one_line(args: list[str], code: int,
                                                    line: str) -> None:
    eps = [] if "--eps" in args else ["--eps", "0.1"]
    result = plexus("attack", str(make.path("shapes_source")), *eps, *args)
    assert result.returncode == code
    assert one_line(result) == line
