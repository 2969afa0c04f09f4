# Parley: `make run` starts everything on this machine, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint messages bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run.py

test: $(STAMP)
	$(BIN)/python scripts/test.py $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Fold locale/pending/*.po in, re-extract the strings, compile (needs GNU gettext).
messages: $(STAMP)
	scripts/messages.sh

clean:
	rm -rf $(VENV) var staticfiles
