# `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genloom-installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test bench bench-text install clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml $(PLUGINS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' $(foreach p,$(dir $(PLUGINS)),-e $(p))
	touch $@

demo: $(STAMP)
	$(VENV)/bin/genloom train examples/configs/vae-digits.yaml

test: $(STAMP)
	$(PY) -m pytest -q tests plugins

bench: $(STAMP)
	$(PY) tests/benchmarks/bench_loop_overhead.py
	$(PY) tests/benchmarks/bench_cli_start.py
	$(PY) tests/benchmarks/bench_gan.py
	$(PY) tests/benchmarks/bench_diffusion_samplers.py

bench-text: $(STAMP)  # transformers is a benchmark-only dependency; bpc trains for 300 s
	$(PY) -m pip install -q --disable-pip-version-check transformers==5.23.0
	$(PY) tests/benchmarks/bench_text_generation.py
	$(PY) tests/benchmarks/bench_text_training.py

clean:
	rm -rf $(VENV) runs
