# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,docking,ray,postgres]"
	# MOSES data (train/test SMILES); its declared dependencies are from 2020 and unneeded.
	$(PY) -m pip install --quiet --no-deps molsets==0.3.1
	touch $(STAMP)

run: $(STAMP)  ## the main job: steer the shipped prior towards examples/qed.toml's objective
	$(VENV)/bin/chemloop optimize --config examples/qed.toml --output runs/qed-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)  ## lint, then the whole test suite (slow tests included)
	$(VENV)/bin/ruff check chemloop tests bench
	$(VENV)/bin/pytest -q --durations=10

lint: $(STAMP)
	$(VENV)/bin/ruff check chemloop tests bench
	$(VENV)/bin/ruff format --check chemloop tests bench
