# `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genloom-installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)
# Out-of-tree example plugins are installed as a user would install them (not editable),
# so their tests run against the installed package; a change to their files reinstalls.
EXAMPLES := $(patsubst %/pyproject.toml,%,$(wildcard examples/*-plugin/pyproject.toml))
EXAMPLE_FILES := $(shell find examples -path '*-plugin/*' -type f \( -name '*.py' -o -name '*.toml' -o -name '*.yaml' \) 2>/dev/null)
EXAMPLES_STAMP := $(VENV)/.genloom-examples-installed

.PHONY: demo test test-slow bench bench-text install clean dist-check docs-api docs-regen

install: $(STAMP) $(EXAMPLES_STAMP)

$(STAMP): requirements.txt pyproject.toml $(PLUGINS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' $(foreach p,$(dir $(PLUGINS)),-e $(p))
	@# genloom-serve's page is tested in headless Chromium: installed where it can be (root with apt)
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || true
	touch $@

$(EXAMPLES_STAMP): $(STAMP) $(EXAMPLE_FILES)
	rm -rf $(addsuffix /build,$(EXAMPLES))  # setuptools would put files deleted since the last build into the wheel
	$(if $(EXAMPLES),$(PY) -m pip install -q --disable-pip-version-check --no-deps --force-reinstall $(addprefix ./,$(EXAMPLES)))
	touch $@

demo: $(STAMP)  # about a minute of training: a VAE on 5,000 28x28 MNIST digits, then its sample grid
# (47 CPU-seconds on one thread; FID 1.6x the floor, every class: docs/results.md#mnist-a-vae-that-samples-from-a-fitted-prior-vae-mnist)
	$(VENV)/bin/genloom train vae-mnist

# One pytest worker per CPU (pytest-xdist), each test file on one worker so its
# module fixtures train once; one torch thread per worker, so workers do not fight
# over the cores. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test: $(STAMP) $(EXAMPLES_STAMP)
	$(PYTEST) -m "not slow" tests plugins $(addsuffix /tests,$(EXAMPLES))

test-slow: $(STAMP) $(EXAMPLES_STAMP)  # long end-to-end runs (kills, fuzzing, long training)
	$(PYTEST) -m slow tests plugins $(addsuffix /tests,$(EXAMPLES))

bench: $(STAMP)
	$(PY) tests/benchmarks/bench_loop_overhead.py
	$(PY) tests/benchmarks/bench_cli_start.py
	$(PY) tests/benchmarks/bench_gan.py
	$(PY) tests/benchmarks/bench_diffusion_samplers.py

bench-text: $(STAMP)  # transformers is a benchmark-only dependency; bpc trains for 300 s
	$(PY) -m pip install -q --disable-pip-version-check transformers==5.23.0
	$(PY) tests/benchmarks/bench_text_generation.py
	$(PY) tests/benchmarks/bench_text_training.py

dist-check: $(STAMP)  # python -m build + twine check for the core and every plugin
	$(PY) scripts/dist_check.py

docs-api: $(STAMP)  # the API reference, from the docstrings: HTML into docs/api/ (git-ignored), the index docs/reference.md
	$(PY) scripts/api_docs.py --out docs/api --index docs/reference.md

docs-regen: $(STAMP) $(EXAMPLES_STAMP)  # rewrite the docs' shown output from real runs, and docs/reference.md
	$(PY) scripts/regen_docs.py
	$(PY) scripts/api_docs.py --index docs/reference.md

clean:
	rm -rf $(VENV) runs
