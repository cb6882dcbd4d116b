# Fermion developer entry points. Every target that runs Python first makes sure the
# system packages and .venv are in place (scripts/install-deps.sh; fast when they are).
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?= -q -ra

.PHONY: deps test demo bench lint clean

deps:
	bash scripts/install-deps.sh

test: deps
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests

# The seed's Lab 10 on this machine (as root), left running: `.venv/bin/fermion lab down`
# removes it. DEMO_ARGS: e.g. DEMO_ARGS="lab8" or DEMO_ARGS="--computes 4 --instances 12".
demo: deps
	$(VENV)/bin/fermion lab up $(DEMO_ARGS)

bench: deps
	$(PYTHON) -m bench

lint: deps
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) var/
