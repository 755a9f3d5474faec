# The README's commands. Every target that runs code bootstraps first (idempotent, fast when warm).
STACK ?= dev
PY := .venv/bin/python
CLI := $(PY) -m llm_vault.cli

.PHONY: bootstrap run down status test test-unit lint preview up drift destroy matrix bench bench-synthetic bench-backend

bootstrap:  ## install everything (pinned), start Docker, build the OpenBao image
	@bash scripts/bootstrap.sh

run: bootstrap  ## the main job: a local OpenBao (SERVER=vault: HashiCorp Vault) provisioned with the dev stack, and what it holds
	@$(CLI) local up --stacks $(or $(STACKS),dev) --server $(or $(SERVER),openbao)

status:
	@$(CLI) local status

down:  ## stop the local OpenBao and issuer started by `make run`
	@$(CLI) local down

# Two pytest-xdist workers: the suite mostly waits on servers and the engine, so two workers on the
# 2 cores take ~10-11 min where one took ~14, and three took longer than two (tests/conftest.py:
# a module per group, the end-to-end suite one group).
TEST_WORKERS ?= 2

test: bootstrap  ## the whole suite: unit, integration (OpenBao and Vault), engine, workflow lint
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-unit: bootstrap  ## the fast loop: no server, no engine
	@$(PY) -m pytest -m "not integration and not smoke" $(PYTEST_ARGS)

lint: bootstrap
	@.venv/bin/ruff check .
	@.venv/bin/mypy infra llm_vault vault_provider vault_secrets

preview: bootstrap  ## refresh, then preview STACK against VAULT_ADDR/VAULT_TOKEN
	@$(CLI) preview --stack $(STACK)

up: bootstrap  ## refresh, then apply STACK against VAULT_ADDR/VAULT_TOKEN
	@$(CLI) up --stack $(STACK)

drift: bootstrap
	@$(CLI) drift --stack $(STACK)

destroy: bootstrap
	@$(CLI) destroy --stack $(STACK) $(if $(YES),--yes,)

matrix: bootstrap  ## render policies/expectations.yaml as an access matrix (markdown + HTML) in reports/
	@$(PY) -m llm_vault.access_matrix --out reports/

bench: bootstrap  ## the program at N = 50, 500, 2000 bindings vs one bao process per object (prints figures; asserts nothing)
	@$(PY) benchmarks/bench_program.py $(BENCH_ARGS)

bench-synthetic: bootstrap  ## the engine alone, by resource shape (role+policy, shared policy, one role set): figures and targets
	@$(PY) benchmarks/bench_bindings.py $(BENCH_ARGS)

bench-backend: bootstrap  ## the dev stack on the file backend and on PostgreSQL (prints figures; asserts nothing)
	@$(PY) benchmarks/bench_state_backend.py
