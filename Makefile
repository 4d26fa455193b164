# The project's interface: `make test`, `make demo`, `make run`, `make deploy` (see ../shared/CONTRACT.md).
SHELL  := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint test run demo bench deploy clean

# Progress while installing: one line per package pip collects, then what it installed.
PIP_PROGRESS := awk '/^(Collecting|Successfully installed)/ { print "  " $$0; fflush() }'

$(BIN)/python:
	@echo "Creating $(VENV) with $$($(PYTHON) --version) ..."
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing the project and its development tools into $(VENV) (about a minute the first time) ..."
	@$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off --upgrade pip | $(PIP_PROGRESS)
	@$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -e '.[dev]' | $(PIP_PROGRESS)
	@touch $(STAMP)
	@echo "Installed."

# Said on every run (make test, run and demo install first): the CLI is not on PATH, so it is run by its path.
install: $(STAMP)
	@echo "The operator CLI is $(BIN)/round-robin, e.g. $(BIN)/round-robin --local http://127.0.0.1:3000 accounts"

lint: install
	$(BIN)/ruff check shared functions local cli tests bench
	$(BIN)/cfn-lint template.yaml
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

run: install
	$(BIN)/python -m round_robin_local run

demo: install
	$(BIN)/python -m round_robin_local demo

# Performance figures for the README, all from one run against the local stack (not part of `make test`).
# ARGS="--accounts 1000": one maintenance run over 1,000 accounts instead; ARGS="--burst 1000": 1,000 tickets at once.
ARGS ?=
bench: install
	$(BIN)/python bench/assign_bench.py $(ARGS)

# Deploy to AWS with the SAM CLI (installed into .venv-sam when it is not on PATH). `sam build` needs Python 3.13
# (the functions' runtime) or a container runtime for `--use-container`; a python3.13 that does not run (a pyenv
# shim with no 3.13 behind it) does not count.
SAM := $(shell command -v sam 2>/dev/null || echo .venv-sam/bin/sam)

deploy:
	@if python3.13 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then \
	  flags=""; echo "Building with $$(python3.13 --version) ..."; \
	elif docker info >/dev/null 2>&1 || finch info >/dev/null 2>&1 || podman info >/dev/null 2>&1; then \
	  flags="--use-container"; echo "No working python3.13: building in a container ..."; \
	else \
	  echo "make deploy: sam build needs Python 3.13 (the functions' runtime) or a running container runtime." >&2; \
	  echo "  Install Python 3.13 so that 'python3.13 --version' works (python.org, or 'pyenv install 3.13'" >&2; \
	  echo "  and 'pyenv global 3.13 <your default>'), or start Docker (or Finch, or Podman), then run make deploy again." >&2; \
	  exit 1; \
	fi; \
	if [ "$(SAM)" = .venv-sam/bin/sam ] && [ ! -x .venv-sam/bin/sam ]; then \
	  echo "Installing the AWS SAM CLI into .venv-sam ..."; \
	  $(PYTHON) -m venv .venv-sam; \
	  .venv-sam/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli; \
	fi; \
	$(SAM) build $$flags; \
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .pytest_cache .ruff_cache
