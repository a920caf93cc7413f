# `make run` starts the bot; `make test` runs the tests. Both set themselves up
# (a virtual environment in .venv, the project installed in it) on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,postgres]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/prescreen serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/turn_latency.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/memory.py
	test -f var/bench.sqlite3 || $(BIN)/python -m bot.staff.seed --conversations 100000 --database-url sqlite:///var/bench.sqlite3
	$(BIN)/python bench/staff_pages.py --database-url sqlite:///var/bench.sqlite3

clean:
	rm -rf $(VENV) var .pytest_cache
