# The two commands of the README: `make demo` builds the demo series, `make test` runs the tests.
# Both create the virtual environment and install everything on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DIFFUSION_STAMP := $(VENV)/.diffusion-stamp
CORES ?= all

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The tests also cover the diffusion code path (torch, diffusers, peft) with tiny models built in code.
$(DIFFUSION_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,diffusion]'
	touch $(DIFFUSION_STAMP)

demo: $(STAMP)
	$(BIN)/shortdrama build --cores $(CORES)
	@echo
	@echo "The demo series is ready:"
	@ls -1 $(CURDIR)/results/demo/episode_*_final.mp4

# --dist loadscope: a module's tests share one worker, so each module-scoped build is made once.
test: $(DIFFUSION_STAMP)
	$(BIN)/pytest -n 2 --dist loadscope --timeout 900

# Everything but the end-to-end Snakemake builds (tests marked slow): a minute or two.
test-fast: $(DIFFUSION_STAMP)
	$(BIN)/pytest -n 2 --dist loadscope --timeout 900 -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/rebuild.py
	$(BIN)/python bench/cache.py
	$(BIN)/python bench/provenance.py

clean:
	rm -rf results logs benchmarks .snakemake
