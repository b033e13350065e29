# Two entry points for a fresh machine with Python 3.11 and pip:
#   make run   - build .venv if missing, run the default study, write results/report.html
#   make test  - build .venv if missing, lint, run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
CORES ?= 2
SNAKEMAKE := $(BIN)/snakemake --cores $(CORES) --profile profiles/default

.PHONY: venv run report test lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

run: venv
	$(SNAKEMAKE)
	$(MAKE) report

report: venv
	$(BIN)/snakemake --cores 1 --report results/report.html
	@echo "Report: results/report.html"

test: venv lint
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf results .snakemake
