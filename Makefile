# quizops: local environments, run, serve, compile, test, bench.
SHELL := /bin/bash
PYTHON ?= python3
UV ?= $(PYTHON) -m uv
VENVS := .venvs
CORE := $(VENVS)/core/bin/python
VALIDATION := $(VENVS)/validation/bin/python
QUIZOPS_HOME ?= $(CURDIR)/.quizops
export QUIZOPS_HOME
DATA ?=
FORMAT ?= assistments
ENCODING ?= auto
INTERACTIONS ?= 50000
PORT ?= 8080
# pytest-xdist workers for the unit and pipeline suites (0: one process); a file's tests stay
# on one worker (--dist loadfile), so module fixtures are built once.
TEST_WORKERS ?= 2
PII_POLICY ?=
DECISIONS ?=
SPAN ?=
SIMULATE ?=
REPORT_ONLY ?=

.PHONY: install run monitor rollback serve compile compile-check lint test test-unit test-validation test-pipeline bench clean

install: $(VENVS)/core/.synced $(VENVS)/validation/.synced

$(VENVS)/uv.ok:
	@mkdir -p $(VENVS)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.5"
	@touch $@

$(VENVS)/core/.synced: pyproject.toml uv.lock $(VENVS)/uv.ok
	UV_PROJECT_ENVIRONMENT=$(VENVS)/core $(UV) sync --frozen --extra core --group dev
	@touch $@

$(VENVS)/validation/.synced: pyproject.toml uv.lock $(VENVS)/uv.ok
	UV_PROJECT_ENVIRONMENT=$(VENVS)/validation $(UV) sync --frozen --extra validation --group dev
	@touch $@

run: install
	$(CORE) -m pipelines.local_run --interactions $(INTERACTIONS) $(if $(DATA),--data "$(DATA)" --format $(FORMAT) --encoding $(ENCODING),) $(if $(PII_POLICY),--pii-policy "$(PII_POLICY)",) $(if $(DECISIONS),--decisions "$(DECISIONS)",)

monitor: install
	$(CORE) -m pipelines.local_ops monitor --interactions $(INTERACTIONS) $(if $(SPAN),--span $(SPAN),) $(if $(SIMULATE),--simulate $(SIMULATE),) $(if $(REPORT_ONLY),--report-only,)

rollback: install
	$(CORE) -m pipelines.local_ops rollback

serve: install
	PYTHONPATH=kserve $(CORE) -m quizops_predictor --port $(PORT)

compile: install
	$(CORE) -m pipelines.compile --out compiled

lint: install
	$(CORE) -m ruff check .
	$(CORE) -m ruff format --check .
	$(CORE) -m mypy
	$(VENVS)/core/bin/hadolint images/*.Dockerfile kserve/Dockerfile

test-unit: install
	$(CORE) -m pytest -q -m "not pipeline" --ignore=tests/validation -n $(TEST_WORKERS) --dist loadfile tests

test-validation: install
	$(VALIDATION) -m pytest -q tests/validation

test-pipeline: install
	$(CORE) -m pytest -q -m pipeline --ignore=tests/validation -n $(TEST_WORKERS) --dist loadfile tests

test: lint test-unit test-validation test-pipeline

bench: install
	$(CORE) -m bench.run_all

clean:
	rm -rf $(VENVS)
