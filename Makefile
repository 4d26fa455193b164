# The project's interface: `make test`, `make demo`, `make run`, `make deploy` (see ../shared/CONTRACT.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint test run demo bench deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check shared functions local cli tests bench
	$(BIN)/cfn-lint template.yaml

test: lint
	$(BIN)/python -m pytest

run: install
	$(BIN)/python -m round_robin_local run

demo: install
	$(BIN)/python -m round_robin_local demo

# Performance figures for the README, all from one run against the local stack (not part of `make test`).
bench: install
	$(BIN)/python bench/assign_bench.py

# Deploy to AWS with the SAM CLI (installed into .venv-sam when it is not on PATH). Without Python 3.13 on
# PATH, `sam build` builds in a container (Docker needed); see README "Deploy".
SAM := $(shell command -v sam 2>/dev/null || echo .venv-sam/bin/sam)
SAM_BUILD_FLAGS ?= $(if $(shell command -v python3.13 2>/dev/null),,--use-container)

.venv-sam/bin/sam:
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli

deploy: $(if $(findstring .venv-sam,$(SAM)),.venv-sam/bin/sam)
	$(SAM) build $(SAM_BUILD_FLAGS)
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .pytest_cache .ruff_cache
