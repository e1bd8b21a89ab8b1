# mouselab — two commands on a fresh machine (see README):
#   make demo   set up .venv from plain Python 3.11 and render the sample study into reports/sample/
#   make test   set up .venv (when needed) and run the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
KERNEL := $(VENV)/share/jupyter/kernels/mouselab/kernel.json

.PHONY: demo test lab setup sample bench clean help

help:
	@echo "make demo   - install into .venv and render the sample study into reports/sample/"
	@echo "make test   - install into .venv and run the tests"
	@echo "make lab    - open JupyterLab on notebooks/ with the project's kernel"
	@echo "make sample - regenerate data/sample/store from its seed"
	@echo "make bench  - run the measures benchmark (10 M samples)"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"mouselab needs Python >= 3.11, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $@

$(KERNEL): $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name mouselab --display-name "Python (mouselab)" >/dev/null

setup: $(STAMP) $(KERNEL)

demo: setup
	$(VENV)/bin/mouselab study run notebooks --out reports/sample
	@echo "open reports/sample/index.html"

# pycanon (an independent k-anonymity implementation, cross-checked in tests/test_privacy_pycanon.py) pins
# exact old numpy / pandas releases in its metadata; its anonymity functions run on ours, so no deps.
PYCANON := $(VENV)/.pycanon-1.3.6

$(PYCANON): $(STAMP)
	$(PY) -m pip install --quiet --no-deps "pycanon==1.3.6"
	touch $@

test: setup $(PYCANON)
	$(PY) -m pytest

lab: setup
	$(PY) -m pip install --quiet -e ".[lab,test]"
	$(VENV)/bin/jupyter lab notebooks/

sample: setup
	rm -rf data/sample/store
	$(VENV)/bin/mouselab synth sample-study --out data/sample/store --seed 20261126

bench: setup
	$(PY) benchmarks/bench_measures.py

clean:
	rm -rf $(VENV) reports/sample .pytest_cache
