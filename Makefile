# Two entry points (see README): `make demo` runs the main job, `make test` runs the tests.
# Each creates the virtual environment it needs from python3 alone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := demo-out

.PHONY: demo test install bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[test]'
	touch $(STAMP)

CLIPS  := tests/data/fsdd-clips
# FSDD training takes: the int8 file is calibrated on these and scored on CLIPS (test takes)
CALIBRATION := tests/data/fsdd-calibration

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/rnnzoo info speech-digits
	$(BIN)/rnnzoo predict speech-digits $(CLIPS)/*.wav
	$(BIN)/rnnzoo export speech-digits --out $(DEMO)/speech-digits --format tflite \
		--quantize fp32,int8 --kinds sequence --data $(CLIPS) --split test \
		--calibration-data $(CALIBRATION)
	$(BIN)/rnnzoo evaluate $(DEMO)/speech-digits --data $(CLIPS) --split test

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/rnnzoo bench train-throughput
	$(BIN)/rnnzoo bench layers

clean:
	rm -rf $(VENV) $(DEMO) bench-results .pytest_cache
