# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
# Tests come in two tiers: `make quick` leaves out those marked `slow` (pytest -m "not slow"),
# `make test` (and CI, .ci/run) runs them all.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: run test quick lint

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# PyTorch 2.13.0. PyPI's Linux x86_64 wheel is the CUDA build (several GB with its nvidia-*
	# packages); PyTorch's CPU index has the CPU build (2.13.0+cpu), used where it answers. Where
	# it does not, pip takes the best 2.13.0 its configured indexes offer: the CPU build only if
	# one is there (a local wheel in pip's find-links, as on an offline mirror), else PyPI's.
	if $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=10)" 2>/dev/null; \
	then $(PY) -m pip install --quiet torch==2.13.0 --extra-index-url $(TORCH_CPU_INDEX); \
	else $(PY) -m pip install --quiet torch==2.13.0; fi
	$(PY) -m pip install --quiet -e ".[dev,docking,ray,postgres]"
	# MOSES data (train/test SMILES); its declared dependencies are from 2020 and unneeded.
	$(PY) -m pip install --quiet --no-deps molsets==0.3.1
	touch $(STAMP)

run: $(STAMP)  ## the main job: steer the shipped prior towards examples/qed.toml's objective
	$(VENV)/bin/chemloop optimize --config examples/qed.toml --output runs/qed-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)  ## lint and the layer contracts, then the whole test suite (slow tests included): what CI runs
	$(VENV)/bin/ruff check chemloop tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q --durations=10

quick: $(STAMP)  ## ruff, then the fast tier: every test not marked slow (RL runs, reward-model fits, live servers are)
	$(VENV)/bin/ruff check chemloop tests bench
	$(VENV)/bin/pytest -q -m "not slow" --durations=10

lint: $(STAMP)  ## ruff, and lint-imports: layers only point down (pyproject.toml, docs/architecture.md)
	$(VENV)/bin/ruff check chemloop tests bench
	$(VENV)/bin/ruff format --check chemloop tests bench
	$(VENV)/bin/lint-imports
