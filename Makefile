# tongbi — `make run` builds the warehouse from the bundled bulletins, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test score bench clean

setup: $(VENV)/.installed

# Reinstall whenever the dependency pins change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(BIN)/tongbi run
	$(BIN)/tongbi report

test: setup
	$(BIN)/python -m pytest

# Extraction quality on the real bulletins in ../shared (issue: extraction that holds).
score: setup
	@mkdir -p runs
	$(BIN)/tongbi extract $(SHARED)/corpus/seed --out runs/seed_raw_metrics.csv
	python3 $(SHARED)/tools/score_extraction.py --gold $(SHARED)/gold/seed.csv \
	    --pred runs/seed_raw_metrics.csv --docs $(SHARED)/corpus/seed
	$(BIN)/tongbi extract $(SHARED)/corpus/dev --out runs/dev_raw_metrics.csv
	python3 $(SHARED)/tools/score_extraction.py --gold $(SHARED)/gold/dev.csv \
	    --pred runs/dev_raw_metrics.csv --docs $(SHARED)/corpus/dev

# Benchmarks (issue: performance): corpora generated under /tmp/tongbi-bench, one table printed,
# runs/bench-results.json written; BENCH_ARGS e.g. --sizes 1000,10000,100000 --e2e 1000.
# jionlp (the peer) lives in its own venv, bench/.venv: the `bench` extra, kept out of .venv.
BENCH_ARGS ?= --sizes 1000,10000 --e2e 1000
bench/.venv/.installed: pyproject.toml
	$(PYTHON) -m venv bench/.venv
	bench/.venv/bin/pip install --quiet $$($(PYTHON) -c 'import tomllib;print(*tomllib.load(open("pyproject.toml","rb"))["project"]["optional-dependencies"]["bench"])')
	touch $@

bench: setup bench/.venv/.installed
	$(BIN)/python -m bench.run --jionlp bench/.venv/bin/python $(BENCH_ARGS)

clean:
	rm -rf $(VENV) target logs runs reports warehouse*.duckdb* seeds/raw_metrics.csv seeds/documents.csv \
	    seeds/rejected_documents.csv seeds/document_texts.csv
