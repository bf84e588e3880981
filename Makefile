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

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/rnnzoo train adding --kind lstm --units 64 --epochs 10 --out $(DEMO)/adding-lstm
	$(BIN)/rnnzoo evaluate $(DEMO)/adding-lstm --split test --record
	$(BIN)/rnnzoo info $(DEMO)/adding-lstm
	$(BIN)/rnnzoo export $(DEMO)/adding-lstm --out $(DEMO)/export --format tflite --quantize none,int8

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/rnnzoo bench train-throughput
	$(BIN)/rnnzoo bench layers

clean:
	rm -rf $(VENV) $(DEMO) bench-results .pytest_cache
