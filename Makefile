# The 产改 check-in portal. Two commands matter:
#   make run   – a demo on http://127.0.0.1:8000 (SQLite, Celery eager) from a fresh clone
#   make test  – the whole suite, by default on the local PostgreSQL and Redis (as CI does)
# Everything runs from the project virtualenv .venv, created on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps, one .venv: `make run` needs only the runtime set (requirements.txt); `make test`
# and `make lint` add the test and development tools (requirements-dev.txt, which includes it).
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.requirements-dev-installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PASSWORD ?= demo12345
ENTERPRISES ?= 767

# `make test` defaults to the machine's PostgreSQL and Redis: a suite that silently fell
# back to SQLite and eager Celery could pass locally and fail in production. Override them
# (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/other make test); pytest-django
# creates and drops the test_<name> database itself.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chanjgai
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# The worker and beat need a broker; `make run` uses the same one only if REDIS_URL is set.
WORKER_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: help run serve setup venv venv-dev migrate seed test worker beat messages messages-update lint clean

help:
	@echo "make run       demo: venv + requirements + migrate + seed_demo + runserver on http://$(HOST):$(PORT)"
	@echo "make test      whole test suite (PostgreSQL + Redis on 127.0.0.1 unless DATABASE_URL/REDIS_URL are set)"
	@echo "make worker    Celery worker (REDIS_URL, default $(WORKER_REDIS_URL))"
	@echo "make beat      Celery beat"
	@echo "make messages  compile the zh_Hans translations (needs gettext's msgfmt)"
	@echo "make messages-update  collect new strings into the catalogue (sorted, no locations), then compile"
	@echo "make lint      ruff, import-linter (the layers of apps), Django system checks, no missing migration"

venv: $(STAMP)
venv-dev: $(DEV_STAMP)

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed since the last install.
$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(DEV_STAMP)

# The demo: SQLite file db.sqlite3 and eager Celery unless DATABASE_URL / REDIS_URL are set.
run: export DEBUG = 1
run: setup
	@echo "Serving on http://$(HOST):$(PORT)/  (log in with a demo account above; Ctrl-C stops)"
	$(PY) manage.py runserver $(HOST):$(PORT)

setup: export DEBUG = 1
setup: venv
	@$(MAKE) --no-print-directory messages-if-possible
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --password '$(DEMO_PASSWORD)' --enterprises $(ENTERPRISES)

serve: export DEBUG = 1
serve: venv
	$(PY) manage.py runserver $(HOST):$(PORT)

test: export DATABASE_URL := $(or $(DATABASE_URL),$(TEST_DATABASE_URL))
test: export REDIS_URL := $(or $(REDIS_URL),$(TEST_REDIS_URL))
test: export DEBUG := $(or $(DEBUG),1)
test: export SECRET_KEY := $(or $(SECRET_KEY),test-only-secret-key)
test: venv-dev
	@$(MAKE) --no-print-directory messages-if-possible
	@echo "Testing on DATABASE_URL=$$DATABASE_URL REDIS_URL=$$REDIS_URL"
	$(PY) -m pytest $(PYTEST_ARGS)

worker: export REDIS_URL := $(or $(REDIS_URL),$(WORKER_REDIS_URL))
worker: venv
	$(VENV)/bin/celery -A chanjgai_portal worker --loglevel=INFO

beat: export REDIS_URL := $(or $(REDIS_URL),$(WORKER_REDIS_URL))
beat: venv
	$(VENV)/bin/celery -A chanjgai_portal beat --loglevel=INFO --schedule=$(VENV)/celerybeat-schedule

messages: export DEBUG = 1
messages: venv
	$(PY) manage.py compilemessages --ignore=.venv

# A fresh machine may have no gettext: then the committed .mo (if any) is used as it is.
# Re-read every translatable string into the catalogue (then translate the new msgstr "" and
# run it again, or `make messages`). No source locations and sorted by msgid: two branches that
# add strings touch different places of the file, so they merge without conflicts. msgmerge's
# fuzzy guesses ("reform office phone" → 市产改办) are emptied: a new string is translated by hand.
messages-update: export DEBUG = 1
messages-update: venv
	$(PY) manage.py makemessages -l zh_Hans --no-location --no-obsolete \
		--ignore=.venv --ignore=tests --ignore=bench --ignore=static --ignore=staticfiles
	msgattrib --sort-output --no-location --clear-fuzzy --empty -o locale/zh_Hans/LC_MESSAGES/django.po locale/zh_Hans/LC_MESSAGES/django.po
	@$(MAKE) --no-print-directory messages
	@msgfmt --statistics -o /dev/null locale/zh_Hans/LC_MESSAGES/django.po

.PHONY: messages-if-possible
messages-if-possible:
	@if command -v msgfmt >/dev/null 2>&1; then \
		DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv -v0; \
	elif ! ls locale/*/LC_MESSAGES/django.mo >/dev/null 2>&1; then \
		echo "warning: gettext (msgfmt) is not installed and no compiled .mo exists: the UI will be in English."; \
	fi

# ruff and import-linter read pyproject.toml; the Django checks need no database.
lint: export DEBUG = 1
lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf .pytest_cache .ruff_cache .import_linter_cache staticfiles
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
