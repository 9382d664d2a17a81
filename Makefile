# Two entry points that do all the set-up on a fresh machine:
#   make run    create .venv, install, open the editor on the default example
#   make test   create .venv, install, lint and run the test suite
#   make test-quick   the same without the tests marked slow (full trainings), while working
#
# The suite runs in TEST_WORKERS processes (pytest-xdist; default 2, one per core of the CI
# machine; TEST_WORKERS=0 runs it in this process), each test file whole on one worker so
# that a file's shared fixtures (a trained network, a background torchrun) are built once.
#
# torch is installed first, as a CPU build, only when the venv has none: an unpinned torch
# would pull a multi-GB CUDA build. Pick another build with TORCH_SPEC / TORCH_PIP_ARGS.
# Beside the default torch, torchvision (TORCHVISION_SPEC) is added without its dependencies
# for the model-zoo tests, which use its pure-Python model classes: its compiled operators do
# not register with this torch, so `import torchvision` fails and presence is checked with
# importlib.util.find_spec.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.plexus-installed
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
TORCHVISION_SPEC ?= torchvision==0.28.0
DEFAULT_TORCH := 2.13.0
TEST_WORKERS ?= 2
PYTEST := QT_QPA_PLATFORM=offscreen PYQTGRAPH_QT_LIB=PySide6 $(BIN)/python -m pytest -q \
	-n $(TEST_WORKERS) --dist loadfile

.PHONY: run test test-quick lint examples clean

run: $(STAMP)
	PYQTGRAPH_QT_LIB=PySide6 $(BIN)/python main.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(PYTEST)

test-quick: $(STAMP)
	$(BIN)/ruff check .
	$(PYTEST) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

examples: $(STAMP)
	$(BIN)/python -m resources.examples.make

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	@if $(BIN)/python -c "import importlib.util, sys, torch; sys.exit(importlib.util.find_spec( \
		'torchvision') is not None or torch.__version__.split('+')[0] != '$(DEFAULT_TORCH)')"; \
	then $(BIN)/python -m pip install --quiet --no-deps $(TORCH_PIP_ARGS) "$(TORCHVISION_SPEC)"; fi
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
