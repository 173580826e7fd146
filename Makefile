# Two commands do all the setup: `make demo` (the main job, embedded defaults, offline)
# and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# the CPU build of torch lies on the machine's disk; pin it before anything depends on it
	$(VENV)/bin/pip install --quiet torch==2.13.0
	# llama-cpp-python builds from source (4-7 min, cached by pip); not tied to this CPU
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(VENV)/bin/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

.PHONY: setup demo test lint eval
setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/synthtab generate --demo --rows 5000 --out out/demo --overwrite

test: $(STAMP)
	$(VENV)/bin/ruff check synthtab tests
	$(VENV)/bin/ruff format --check synthtab tests
	$(VENV)/bin/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check synthtab tests
	$(VENV)/bin/ruff format --check synthtab tests

eval: $(STAMP)
	$(VENV)/bin/synthtab eval --suite spine --out evals-out/spine
