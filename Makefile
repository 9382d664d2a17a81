# Two entry points that do all the set-up on a fresh machine:
#   make run    create .venv, install, open the editor on the default example
#   make test   create .venv, install, lint and run the test suite
#   make test-quick   the same without the tests marked slow (full trainings), while working
#
# torch is installed first, as a CPU build, only when the venv has none: an unpinned torch
# would pull a multi-GB CUDA build. Pick another build with TORCH_SPEC / TORCH_PIP_ARGS.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.plexus-installed
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=

.PHONY: run test test-quick lint examples clean

run: $(STAMP)
	PYQTGRAPH_QT_LIB=PySide6 $(BIN)/python main.py

test: $(STAMP)
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen PYQTGRAPH_QT_LIB=PySide6 $(BIN)/python -m pytest -q

test-quick: $(STAMP)
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen PYQTGRAPH_QT_LIB=PySide6 $(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

examples: $(STAMP)
	$(BIN)/python -m resources.examples.make

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
