# The two commands: `make run` (dashboard on the embedded defaults) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run headless test test-fast bench lint docs clean

# constraints.txt pins every package at the version the tests passed with: a fresh clone (and CI)
# installs exactly that set, not whatever is newest that day.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run dashboard.py

headless: $(STAMP)
	$(VENV)/bin/virtuoso run

lint: $(STAMP)
	$(VENV)/bin/lint-imports

test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

test-fast: $(STAMP)
	$(VENV)/bin/pytest -m "not slow and not browser and not influx"

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/detection.py
	$(PY) bench/detection_tick.py
	$(PY) bench/backtest.py
	$(PY) bench/storage.py
	$(PY) bench/report.py
	$(PY) bench/alerts.py
	$(PY) bench/dashboard.py

docs: $(STAMP)
	$(PY) -m virtuoso.app.envdoc sync .

clean:
	rm -rf $(VENV) .pytest_cache artifacts
