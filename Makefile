# tongbi — `make run` builds the warehouse from the bundled bulletins, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test score bench gazetteer clean

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
# Each set whole, then the two fixed halves of its split: rules are written looking at half 0,
# and half 1 estimates how they do on bulletins never looked at.
SCORE_SETS ?= seed dev national
score: setup
	@mkdir -p runs
	@for set in $(SCORE_SETS); do \
	    $(BIN)/tongbi extract $(SHARED)/corpus/$$set --out runs/$${set}_raw_metrics.csv 2>/dev/null || exit 1; \
	    for half in all 0 1; do \
	        if [ $$half = all ]; then args=""; else args="--half $$half"; fi; \
	        printf '%-9s %-4s ' $$set $$half; \
	        python3 $(SHARED)/tools/score_extraction.py --gold $(SHARED)/gold/$$set.csv \
	            --pred runs/$${set}_raw_metrics.csv --docs $(SHARED)/corpus/$$set $$args | grep '^precision' || exit 1; \
	    done; \
	done

# Benchmarks (issue: performance): tongbi extract against jionlp as whole processes on 2,000 real
# bulletins ($(SHARED)/corpus/dev repeated; one process and all cores each), then corpora generated
# under /tmp/tongbi-bench, tables printed, runs/bench-results.json written; BENCH_ARGS e.g.
# --sizes 1000,10000,100000 --e2e 1000, or --sizes "" --e2e "" for the real-bulletin comparison only.
# The default also times tongbi run at 10k: a full build against one document added (incremental).
# jionlp (the peer) lives in its own venv, bench/.venv: the `bench` extra, kept out of .venv.
BENCH_ARGS ?= --sizes 1000,10000 --e2e 10000
bench/.venv/.installed: pyproject.toml
	$(PYTHON) -m venv bench/.venv
	bench/.venv/bin/pip install --quiet $$($(PYTHON) -c 'import tomllib;print(*tomllib.load(open("pyproject.toml","rb"))["project"]["optional-dependencies"]["bench"])')
	touch $@

bench: setup bench/.venv/.installed
	$(BIN)/python -m bench.run --jionlp bench/.venv/bin/python --shared $(SHARED) $(BENCH_ARGS)

# The national gazetteer (seeds/regions.csv, region_aliases.csv, region_groupings.csv) regenerated
# from jionlp's GB/T 2260 data and scripts/gazetteer/*.csv; jionlp lives in scripts/.venv only.
scripts/.venv/.installed: pyproject.toml
	$(PYTHON) -m venv scripts/.venv
	scripts/.venv/bin/pip install --quiet $$($(PYTHON) -c 'import tomllib;print(*tomllib.load(open("pyproject.toml","rb"))["project"]["optional-dependencies"]["gazetteer"])')
	touch $@

gazetteer: scripts/.venv/.installed
	scripts/.venv/bin/python scripts/build_gazetteer.py

clean:
	rm -rf $(VENV) target logs runs reports warehouse*.duckdb* seeds/raw_metrics.csv seeds/documents.csv \
	    seeds/rejected_documents.csv seeds/document_texts.csv
