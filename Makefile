# `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genloom-installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test bench install clean

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
	$(PY) tests/benchmarks/bench_diffusion_samplers.py

clean:
	rm -rf $(VENV) runs
