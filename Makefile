# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean screenshots browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/planwatch demo
	@echo
	@echo "Next: $(BIN)/planwatch up  — the dashboard, API, worker, notifier and scheduler together;"
	@echo "      it prints the address to open (http://127.0.0.1:8000/) and tokens to sign in with. Ctrl-C stops it."
	@echo "      make screenshots writes a PNG of every dashboard page to out/screenshots/."

browser:
	bash .ci/chromium

screenshots: $(STAMP) browser
	$(BIN)/planwatch screenshots -o out/screenshots

test: $(STAMP) browser
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2  # two processes, each with its own embedded Redis and Cluster: ~5.5 min, not ~11

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/append.py
	$(BIN)/python bench/projection.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/scale.py --quick
	$(BIN)/python bench/handover.py --plans 100
	$(BIN)/python bench/takeover.py
	$(BIN)/python bench/aof_rewrite.py

clean:
	rm -rf $(VENV) .planwatch .pytest_cache .ruff_cache .mypy_cache .hypothesis
