# Paydesk: `make run` starts everything with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
WITH := $(PY) scripts/with_services.py
export DJANGO_SETTINGS_MODULE ?= billing_site.settings.dev

.PHONY: run test install install-dev lint format check migrate seed browser clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(WITH) sh -c '$(PY) manage.py migrate --noinput && $(PY) manage.py seed_demo && $(PY) scripts/devserver.py'

# Browser tests drive Debian's Chromium; install it when missing and we may.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); } || echo "chromium not installed: browser tests will be skipped"

test: install-dev browser
	DJANGO_SETTINGS_MODULE=billing_site.settings.test $(WITH) $(PY) -m pytest -n 2 --dist loadgroup --cov --cov-report=term:skip-covered

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install
	$(WITH) sh -c '$(PY) manage.py check && $(PY) manage.py makemigrations --check --dry-run'

migrate: install
	$(WITH) $(PY) manage.py migrate

seed: install
	$(WITH) $(PY) manage.py seed_demo

clean:
	rm -rf .data/celerybeat-schedule htmlcov .coverage .pytest_cache
