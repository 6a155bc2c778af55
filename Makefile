# make demo: set up a virtual environment and run the shipped model on real faces.
# make test: every test (the slow and distributed ones too) but those marked device, then the device
# install from a built wheel, where the device tests run without TensorFlow (what CI runs, after make lint).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
DEMO = demo-output

.PHONY: install demo test lint pictures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,demo,dev,mqtt]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo_faces.py $(DEMO)/input
	$(BIN)/edge-emotion run --dir $(DEMO)/input --save $(DEMO)/annotated --events $(DEMO)/events.jsonl
	@echo "annotated pictures: $(DEMO)/annotated/   events: $(DEMO)/events.jsonl"

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not device"
	bash scripts/check_device_install.sh $(BIN)/python

# The README's pictures, regenerated: the demo's annotated picture, the live page (needs Debian's
# chromium), the per-stage latency chart (from benchmarks/results/device_loop.json) and the
# shipped models' confusion matrices on PrivateTest (need the data set: DATA=path/to/fer2013.csv).
DATA ?= fer2013.csv
pictures: demo
	cp $(DEMO)/annotated/two_faces.png docs/demo_annotated.png
	cd benchmarks && ../$(BIN)/python serve_screenshot.py --out ../docs/live_page.png
	cd benchmarks && ../$(BIN)/python latency_chart.py
	$(BIN)/edge-emotion evaluate edge_emotion/models/emotion_int8.tflite --data $(DATA) --split PrivateTest --out runs/shipped-PrivateTest
	cp runs/shipped-PrivateTest/confusion.png docs/confusion_privatetest.png
	$(BIN)/edge-emotion evaluate accurate --data $(DATA) --split PrivateTest --out runs/accurate-PrivateTest
	cp runs/accurate-PrivateTest/confusion.png docs/confusion_privatetest_accurate.png

# Style and types, before the tests in CI (.ci/run): a few seconds, mypy's cache in .mypy_cache (ignored by git).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache .mypy_cache
