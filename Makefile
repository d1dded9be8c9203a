# Two commands: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo test test-fast lint bench bench-org soak sandbox lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip sync -q --system-certs --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --system-certs --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: setup
	$(BIN)/trailtop --demo

# worksteal: a worker that runs out of tests takes some from the other, so the long
# sandbox tests do not end up queued behind each other on one worker.
test: setup
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

# The pure tests only (no sandbox, no terminal): seconds, for the edit-test loop.
test-fast: setup
	$(BIN)/python -m pytest -q tests/unit

lint: setup
	$(BIN)/ruff check core tui sandbox tests bench docs
	$(BIN)/ruff format --check core tui sandbox tests bench docs
	$(BIN)/mypy --strict core tui sandbox

# `make bench` runs the sweep cases; `make bench ARGS="--case org"` or `make bench-org` the
# 1,000-account organization case (bench/org.py: cold --once, warm sweeps, a canned ceiling).
bench: setup
	$(BIN)/python -m bench $(ARGS)

bench-org: setup
	$(BIN)/python -m bench.org $(ARGS)

soak: setup
	$(BIN)/python -m bench.soak --seeds 7,23,101,202,303 --sweeps 200 $(ARGS)

sandbox: setup
	$(BIN)/python -m sandbox --scenario demo

# Regenerate the lock after changing pyproject.toml dependencies.
lock: setup
	$(BIN)/uv pip compile -q --system-certs pyproject.toml --extra demo --extra test --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
