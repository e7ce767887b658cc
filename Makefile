# energytrack — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: run test test-embedded lint typecheck ci-checks audit seed clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

## make run: install, migrate, load the demo rep, start web + Celery worker + beat.
run: $(VENV)/.runtime
	./scripts/run.sh

seed: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

## make test: lint, types, layer contracts and the whole pytest suite.
test: $(VENV)/.dev lint typecheck
	$(BIN)/lint-imports
	$(PY) -m pytest

## make test-embedded: the suite against the embedded default `make run` uses without services
## (SQLite, in-memory broker); PostgreSQL-only tests skip. CI runs it so that default cannot rot.
test-embedded: $(VENV)/.dev
	mkdir -p var
	rm -f var/test-embedded.sqlite3
	DATABASE_URL=sqlite:///$(CURDIR)/var/test-embedded.sqlite3 REDIS_URL= REQUIRE_SERVICES=0 \
		SCHEMATHESIS_MAX_EXAMPLES=20 SCHEMATHESIS_STATEFUL_EXAMPLES=10 $(PY) -m pytest -q

## Extra checks CI runs besides `make test`.
ci-checks: $(VENV)/.dev
	DJANGO_SETTINGS_MODULE=energytrack.settings.test $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=energytrack.settings.production \
	DJANGO_SECRET_KEY=ci-check-only-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	DJANGO_ALLOWED_HOSTS=energytrack.example \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/energytrack \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	VAPID_PRIVATE_KEY=$$(DJANGO_SETTINGS_MODULE=energytrack.settings.test $(PY) manage.py vapid_keys | sed -n 's/^VAPID_PRIVATE_KEY=//p') \
	$(PY) manage.py check --deploy --fail-level WARNING

## make audit: known vulnerabilities in the pinned dependencies (pip-audit, PyPI advisory data;
## AUDIT_SERVICE=osv for OSV). --strict: a dependency that could not be looked up fails the
## run, so an unreachable or incomplete advisory service can never pass as "nothing found".
AUDIT_SERVICE ?= pypi
audit: $(VENV)/.dev
	$(BIN)/pip-audit --strict --progress-spinner off --vulnerability-service $(AUDIT_SERVICE) \
		-r requirements.txt -r requirements-dev.txt

clean:
	rm -rf $(VENV) var staticfiles
