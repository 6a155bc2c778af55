# make demo: set up a virtual environment and run the shipped model on real faces.
# make test: the test suite, then the device install from a built wheel (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
DEMO = demo-output

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,demo,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo_faces.py $(DEMO)/input
	$(BIN)/edge-emotion run --dir $(DEMO)/input --save $(DEMO)/annotated --events $(DEMO)/events.jsonl
	@echo "annotated pictures: $(DEMO)/annotated/   events: $(DEMO)/events.jsonl"

test: $(STAMP)
	$(BIN)/python -m pytest -q
	bash scripts/check_device_install.sh $(BIN)/python

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache
